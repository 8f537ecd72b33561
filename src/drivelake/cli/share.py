"""Sharing commands: partner, share, key and audit families, and ``serve`` (the HTTP API).

Each command is one call into :class:`drivelake.share.Sharing`; ``serve`` imports FastAPI and
uvicorn only when it runs, so the CLI starts without them.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import typer

from drivelake.cli.core import FORMAT, get_lake
from drivelake.cli.output import Format, fail, print_rows, stderr

if TYPE_CHECKING:
    from drivelake.share import Sharing

partner_app = typer.Typer(help="Partners that data is shared with.", no_args_is_help=True)
share_app = typer.Typer(help="Shares: a target + a licence + a partner.", no_args_is_help=True)
key_app = typer.Typer(help="Scoped API keys (shown once, stored hashed).", no_args_is_help=True)
audit_app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)


def _sharing(ctx: typer.Context) -> Sharing:
    from drivelake.share import Sharing

    return Sharing(get_lake(ctx))


def _csv(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


@partner_app.command("add")
def partner_add(
    ctx: typer.Context,
    name: str,
    contact: str = typer.Option(None, "--contact", help="Who to reach at the partner"),
) -> None:
    """Add a partner."""
    _sharing(ctx).add_partner(name, contact)
    stderr.print(f"partner {name} added")


@partner_app.command("list")
def partner_list(ctx: typer.Context, fmt: Format = FORMAT) -> None:
    """List partners."""
    print_rows(pa.Table.from_pylist(_sharing(ctx).partners()), fmt, title="partners")


@share_app.command("create")
def share_create(
    ctx: typer.Context,
    target: str = typer.Argument(..., help="dataset@snapshot (or a name for a --where selection)"),
    partner: str = typer.Option(..., "--partner"),
    uses: str = typer.Option(..., "--uses", help="Allowed uses, comma-separated"),
    expires: datetime = typer.Option(..., "--expires", formats=["%Y-%m-%d"], help="Last day"),
    anonymise: str = typer.Option(
        "faces,plates,zones", "--anonymise", help="Required levels: faces, plates, zones"
    ),
    columns: str = typer.Option(None, "--columns", help="Licensed columns (default: all)"),
    where: str = typer.Option(
        None, "--where", help="Share the drives matching this SQL over drives (until datasets)"
    ),
) -> None:
    """Share a target with a partner under a new licence; prints the share id."""
    share = _sharing(ctx).create_share(
        target,
        partner=partner,
        uses=_csv(uses) or [],
        expires=expires.date(),
        anonymise=_csv(anonymise) or [],
        columns=_csv(columns),
        selection=where,
    )
    stderr.print(f"shared {target} ({len(share.drive_ids)} drives) with {partner}")
    typer.echo(share.share_id)


@share_app.command("list")
def share_list(
    ctx: typer.Context,
    partner: str = typer.Option(None, "--partner", help="Only this partner's shares"),
    fmt: Format = FORMAT,
) -> None:
    """List shares and their licences."""
    summaries = [s.summary() for s in _sharing(ctx).shares(partner)]
    print_rows(pa.Table.from_pylist(summaries), fmt, title="shares")


@share_app.command("revoke")
def share_revoke(ctx: typer.Context, share_id: str) -> None:
    """Revoke a share: its partner loses access at once."""
    _sharing(ctx).revoke_share(share_id)
    stderr.print(f"share {share_id} revoked")


@share_app.command("export")
def share_export(
    ctx: typer.Context,
    share_id: str,
    out: Path = typer.Option(..., "--out", "-o", help="New or empty folder for the bundle"),
) -> None:
    """Write a share's anonymised view as a signed bundle (files + manifest of hashes)."""
    from drivelake.share.bundle import export_bundle

    export_bundle(_sharing(ctx), share_id, out)
    stderr.print(f"bundle written to {out}")


@share_app.command("verify-bundle")
def share_verify_bundle(ctx: typer.Context, path: Path) -> None:
    """Check a bundle's signature and file hashes against this lake's secret."""
    from drivelake.share.bundle import verify_bundle

    problems = verify_bundle(path, _sharing(ctx).secret)
    if problems:
        raise fail(f"bundle {path} fails verification: {'; '.join(problems)}")
    stderr.print(f"bundle {path}: signature and every file hash match")


@key_app.command("create")
def key_create(
    ctx: typer.Context,
    partner: str = typer.Option(None, "--partner", help="The partner the key acts for"),
    admin: bool = typer.Option(False, "--admin", help="An admin key (full access)"),
) -> None:
    """Create an API key and print it once: only its hash is stored."""
    key = _sharing(ctx).create_key(partner=partner, admin=admin)
    stderr.print(f"key {key.key_id} for {partner or 'admin'}; store it now, it is not shown again")
    typer.echo(key.token)


@key_app.command("list")
def key_list(ctx: typer.Context, fmt: Format = FORMAT) -> None:
    """List API keys (ids, roles, partners, revocation; never the keys)."""
    print_rows(pa.Table.from_pylist(_sharing(ctx).list_keys()), fmt, title="keys")


@key_app.command("revoke")
def key_revoke(ctx: typer.Context, key_id: str) -> None:
    """Revoke an API key: requests with it answer 401 from now on."""
    _sharing(ctx).revoke_key(key_id)
    stderr.print(f"key {key_id} revoked")


@audit_app.command("list")
def audit_list(
    ctx: typer.Context,
    limit: int = typer.Option(50, "--limit", help="Newest entries to show"),
    fmt: Format = FORMAT,
) -> None:
    """Show the newest audit entries."""
    entries = list(_sharing(ctx).audit.entries())[-limit:]
    columns = ["seq", "ts", "action", "actor", "partner", "method", "path", "status", "share"]
    table = pa.Table.from_pylist(entries) if entries else pa.table({})
    if fmt == Format.table and entries:
        table = table.select([c for c in columns if c in table.column_names])
    print_rows(table, fmt, title="audit")


@audit_app.command("verify")
def audit_verify(ctx: typer.Context) -> None:
    """Check the audit log's hash chain; fails at the first tampered line."""
    result = _sharing(ctx).audit.verify()
    if not result.ok:
        raise fail(
            f"audit log broken at line {result.line}: {result.problem} "
            f"({result.entries} entries before it verify)"
        )
    stderr.print(f"audit log ok: {result.entries} entries, head {result.head}")


def serve(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(8765, "--port"),
    rate: float = typer.Option(None, "--rate", help="Requests per second per API key [50]"),
    plot_cache_mb: int = typer.Option(None, "--plot-cache-mb", help="Memory for plots [32]"),
    frame_cache_gb: float = typer.Option(
        None, "--frame-cache-gb", help="Disk for partners' redacted frames, LRU beyond it [2]"
    ),
) -> None:
    """Serve the HTTP API (OpenAPI docs at /docs) and the web app."""
    try:
        import uvicorn

        from drivelake.server import ServerConfig, create_app
    except ImportError as exc:
        raise fail(f"the server needs its extras: pip install 'drivelake[server]' ({exc})") from exc
    given = {
        "rate_per_s": rate,
        "plot_cache_bytes": None if plot_cache_mb is None else plot_cache_mb << 20,
        "frame_cache_bytes": None if frame_cache_gb is None else int(frame_cache_gb * (1 << 30)),
    }
    config = ServerConfig(**{k: v for k, v in given.items() if v is not None})
    app = create_app(get_lake(ctx), config)
    stderr.print(f"serving {ctx.find_root().obj['lake'] or 'the lake'} on http://{host}:{port}")
    uvicorn.run(app, host=host, port=port, log_level="warning")


def register(app: typer.Typer) -> None:
    app.add_typer(partner_app, name="partner")
    app.add_typer(share_app, name="share")
    app.add_typer(key_app, name="key")
    app.add_typer(audit_app, name="audit")
    app.command()(serve)
