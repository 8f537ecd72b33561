"""``drivelake dataset …``: build, curate, snapshot, diff and export training datasets.

Each command is one call into :mod:`drivelake.curate`; results print as rows (``--format``),
progress goes to stderr.
"""

from __future__ import annotations

import json

import pyarrow as pa
import typer

from drivelake.cli.core import FORMAT, get_lake
from drivelake.cli.output import Format, fail, print_rows, stderr

dataset_app = typer.Typer(help="Curated, versioned training datasets.", no_args_is_help=True)

_EVENTS = typer.Option([], "--events", help="Event type(s) whose frames/spans to select")
_WHERE = typer.Option(None, "--where", help="SQL predicate over candidate members")
_PAD = typer.Option(0.0, "--pad", help="Seconds around each event")
_KIND = typer.Option("frames", "--members", help="frames, spans or drives")
_SEED = typer.Option(0, "--seed", help="Seed of every random choice")


def _dataset(ctx: typer.Context, name: str):
    from drivelake.curate import datasets

    return datasets(get_lake(ctx))[name]


def _summary(ds, fmt: Format) -> None:
    counts = ds.members().group_by(["kind", "split"]).aggregate([("member_id", "count")])
    print_rows(counts.rename_columns(["kind", "split", "members"]), fmt, title=ds.name)


@dataset_app.command()
def create(
    ctx: typer.Context,
    name: str,
    events: list[str] = _EVENTS,
    where: str = _WHERE,
    pad: float = _PAD,
    members: str = _KIND,
    fmt: Format = FORMAT,
) -> None:
    """Create a dataset from events and/or SQL (members: frames, spans or whole drives)."""
    from drivelake.curate import steps

    ds = steps.create(get_lake(ctx), name, event_types=events, where=where, pad_s=pad, kind=members)
    _summary(ds, fmt)


@dataset_app.command()
def add(
    ctx: typer.Context,
    name: str,
    search: str = typer.Option(None, "--search", help="Words to search frames for"),
    like: str = typer.Option(None, "--like", help="A frame id to find frames like"),
    k: int = typer.Option(100, "--k", help="Spans the search returns"),
    model: str = typer.Option(None, "--model", help="Model spec of the search"),
    events: list[str] = _EVENTS,
    where: str = _WHERE,
    pad: float = _PAD,
    members: str = _KIND,
) -> None:
    """Add members: by search (--search/--like), or by events and SQL as create does."""
    from drivelake.curate import steps

    ds = _dataset(ctx, name)
    if search or like:
        added = steps.add_search(ds, search, like=like, k=k, model=model)
    else:
        added = steps.add(ds, event_types=events, where=where, pad_s=pad, kind=members)
    stderr.print(f"{name}: {added} members added")


@dataset_app.command()
def dedup(
    ctx: typer.Context,
    name: str,
    threshold: float = typer.Option(0.95, "--threshold", help="Cosine similarity of duplicates"),
    min_gap: float = typer.Option(0.0, "--min-gap", help="Seconds between kept frames of a drive"),
    model: str = typer.Option(None, "--model", help="Embedding model (default: best covering)"),
) -> None:
    """Remove near-duplicates by embedding similarity and time proximity within a drive."""
    from drivelake.curate import steps

    result = steps.dedup(_dataset(ctx, name), threshold=threshold, min_gap_s=min_gap, model=model)
    stderr.print(
        f"{name}: removed {result.by_similarity} similar, {result.by_time} close in time; "
        f"{result.members.num_rows} members left"
    )


@dataset_app.command()
def uniqueness(
    ctx: typer.Context,
    name: str,
    k: int = typer.Option(5, "--k", help="Neighbours the score averages over"),
    model: str = typer.Option(None, "--model", help="Embedding model"),
    top: int = typer.Option(20, "--top", help="Rarest members to print"),
    fmt: Format = FORMAT,
) -> None:
    """Score members by distance to their nearest neighbours; print the rarest."""
    from drivelake.curate import steps

    scored = steps.score_uniqueness(_dataset(ctx, name), k=k, model=model)
    rare = scored.select(["member_id", "drive_id", "t_s", "event_type", "uniqueness"])
    print_rows(rare.sort_by([("uniqueness", "descending")]).slice(0, top), fmt)


@dataset_app.command()
def balance(
    ctx: typer.Context,
    name: str,
    by: str = typer.Option(..., "--by", help="Comma-separated member columns"),
    max_per_group: int = typer.Option(..., "--max-per-group"),
    seed: int = _SEED,
    fmt: Format = FORMAT,
) -> None:
    """Keep at most N members per group (the rarest first when scored)."""
    from drivelake.curate import steps

    ds = _dataset(ctx, name)
    dropped = steps.balance(ds, by.split(","), max_per_group, seed)
    stderr.print(f"{name}: {dropped} members dropped")
    _summary(ds, fmt)


@dataset_app.command()
def sample(
    ctx: typer.Context,
    name: str,
    n: int = typer.Option(..., "--n", help="Members to keep"),
    by: str = typer.Option(None, "--by", help="Stratify by these comma-separated columns"),
    seed: int = _SEED,
) -> None:
    """Keep N members at random, or stratified by columns."""
    from drivelake.curate import steps

    kept = steps.sample(_dataset(ctx, name), n, by=by.split(",") if by else (), seed=seed)
    stderr.print(f"{name}: {kept} members kept")


@dataset_app.command()
def split(
    ctx: typer.Context,
    name: str,
    by: str = typer.Option("drive", "--by", help="drive, vehicle or cell"),
    ratios: str = typer.Option("0.8,0.1,0.1", "--ratios", help="train,val,test shares"),
    seed: int = _SEED,
) -> None:
    """Split by drive, vehicle or geographic cell; prints the leakage check (JSON)."""
    from drivelake.curate import steps

    report = steps.split(_dataset(ctx, name), by, steps.ratios_of(ratios), seed)
    typer.echo(json.dumps(report))
    if report[by]:
        raise fail(f"split by {by} leaked groups: {report[by][:5]}")


@dataset_app.command("snapshot")
def snapshot_cmd(
    ctx: typer.Context,
    name: str,
    tag: str = typer.Option(..., "--tag"),
    message: str = typer.Option("", "-m", "--message"),
) -> None:
    """Tag the dataset's current members as an immutable snapshot; prints its manifest."""
    from drivelake.curate import snapshot

    manifest = snapshot.create(_dataset(ctx, name), tag, message)
    typer.echo(json.dumps({k: v for k, v in manifest.items() if k != "members"}, default=str))


@dataset_app.command()
def diff(ctx: typer.Context, name: str, a: str, b: str) -> None:
    """What changed between two snapshots (JSON)."""
    from drivelake.curate import snapshot

    typer.echo(json.dumps(snapshot.diff(_dataset(ctx, name), a, b), default=str))


@dataset_app.command()
def export(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help="name@tag"),
    format: str = typer.Option(..., "--format", help="hf, coco, yolo, webdataset, parquet, clips"),
    out: str = typer.Option(..., "-o", "--out", help="Folder to create"),
    pad: float = typer.Option(None, "--pad", help="Clips: seconds around each event"),
) -> None:
    """Export a snapshot; rerun after a failure to resume."""
    from rich.progress import Progress

    from drivelake.curate.exporters import export as run

    with Progress(console=stderr, transient=True) as bar:
        task = bar.add_task(f"export {ref} ({format})", total=None)
        path = run(
            get_lake(ctx),
            ref,
            format,
            out,
            pad_s=pad,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    typer.echo(str(path))


@dataset_app.command("list")
def list_cmd(ctx: typer.Context, fmt: Format = FORMAT) -> None:
    """Every dataset: members, version and snapshots."""
    from drivelake.curate import datasets, snapshot

    rows = []
    for ds in datasets(get_lake(ctx)).values():
        tags = [s["tag"] for s in snapshot.snapshots(ds)]
        rows.append({"name": ds.name, "members": ds.lance().count_rows(), "version": ds.version})
        rows[-1]["snapshots"] = ", ".join(tags)
    print_rows(pa.Table.from_pylist(rows), fmt, title="datasets")


@dataset_app.command()
def show(ctx: typer.Context, ref: str, fmt: Format = FORMAT) -> None:
    """A dataset (or snapshot name@tag): counts by kind and split, and its recipe."""
    from drivelake.curate import parse_ref

    name, tag = parse_ref(ref)
    ds = _dataset(ctx, name)
    members = ds.members(tag)
    counts = members.group_by(["kind", "split", "event_type"]).aggregate([("member_id", "count")])
    print_rows(counts.rename_columns(["kind", "split", "label", "members"]), fmt, title=ref)
    stderr.print(json.dumps(ds.recipe(tag), indent=1))


def register(app: typer.Typer) -> None:
    app.add_typer(dataset_app, name="dataset")
