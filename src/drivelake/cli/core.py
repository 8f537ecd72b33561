"""Commands over the catalogue: drives, show, sql, versions, tag, tags."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pyarrow as pa
import typer

from drivelake.cli.output import Format, print_rows

if TYPE_CHECKING:
    from drivelake.lake import Lake

FORMAT = typer.Option(Format.table, "--format", "-f", help="table, json or csv")


def main_options(
    ctx: typer.Context,
    lake: str = typer.Option(
        None,
        "--lake",
        envvar="DRIVELAKE_LAKE",
        help="Lake folder or URI [default: ./drivelake-lake]",
    ),
) -> None:
    """drivelake: a versioned lake of fleet driving data."""
    ctx.obj = {"lake": lake}


def get_lake(ctx: typer.Context, *, create: bool = False) -> Lake:
    """The lake named by ``--lake`` (reading commands never create one)."""
    import drivelake

    return drivelake.open(ctx.find_root().obj["lake"], create=create)


DRIVE_COLUMNS = [
    "drive_id",
    "vehicle_id",
    "source_format",
    "start_utc",
    "duration_s",
    "distance_m",
    "streams",
]


def drives(
    ctx: typer.Context,
    where: str = typer.Option(None, "--where", help="SQL filter on the drives table"),
    fmt: Format = FORMAT,
) -> None:
    """List the drives in the lake."""
    lake = get_lake(ctx)
    if where:
        table = lake.sql(f"SELECT * FROM drives WHERE {where} ORDER BY start_ns")
    else:
        table = lake.drives()
    if fmt == Format.table:
        table = table.select([c for c in DRIVE_COLUMNS if c in table.column_names])
    print_rows(table, fmt, title="drives")


def show(ctx: typer.Context, drive_id: str, fmt: Format = FORMAT) -> None:
    """One drive: streams and rates, duration, distance, bounds, videos, tags, repairs."""
    from drivelake.summary import describe_drive

    info = describe_drive(get_lake(ctx), drive_id)
    if fmt == Format.json:
        from drivelake.cli.output import _jsonable

        typer.echo(json.dumps(_jsonable(info)))
        return
    from rich.console import Console
    from rich.table import Table

    console = Console()
    t = Table(show_header=False, title=f"drive {info['drive_id']}")
    for key, value in info.items():
        if isinstance(value, list) and value and isinstance(value[0], dict):
            continue
        t.add_row(key, _show_value(value))
    console.print(t)
    for key, value in info.items():
        if isinstance(value, list) and value and isinstance(value[0], dict):
            print_rows(pa.Table.from_pylist(value), fmt, title=key)


def _show_value(value) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return "" if value is None else str(value)


def sql(ctx: typer.Context, query: str, fmt: Format = FORMAT) -> None:
    """Run SQL (DuckDB dialect) over the lake's tables: drives, signals, tags, events, ..."""
    print_rows(get_lake(ctx).sql(query), fmt)


def versions(
    ctx: typer.Context,
    table: str = typer.Option(None, "--table", help="Only this table"),
    fmt: Format = FORMAT,
) -> None:
    """Every version of the lake's tables (each write is one)."""
    print_rows(get_lake(ctx).versions(table), fmt, title="versions")


def tag(
    ctx: typer.Context,
    drive_id: str,
    text: str,
    note: bool = typer.Option(False, "--note", help="A free-text note rather than a tag"),
    at: float = typer.Option(None, "--at", help="Seconds from the drive's start it refers to"),
) -> None:
    """Tag a drive, or add a note to it (user interactions are data too)."""
    tag_id = get_lake(ctx).tag(drive_id, text, kind="note" if note else "tag", t_s=at)
    typer.echo(tag_id)


def tags(
    ctx: typer.Context,
    drive_id: str = typer.Argument(None, help="Only this drive's tags"),
    fmt: Format = FORMAT,
) -> None:
    """List tags and notes."""
    print_rows(get_lake(ctx).tags(drive_id), fmt, title="tags")


def register(app: typer.Typer) -> None:
    for command in (drives, show, sql, versions, tag, tags):
        app.command()(command)
