"""``drivelake enrich`` and ``drivelake search``: open models over the fleet's frames."""

from __future__ import annotations

import base64

import pyarrow as pa
import typer

from drivelake.cli.core import FORMAT, get_lake
from drivelake.cli.output import Format, print_rows, stderr


def enrich(
    ctx: typer.Context,
    model: str = typer.Option(..., "--model", "-m", help="Model spec or local folder"),
    where: str = typer.Option(None, "--where", help="SQL over the frame context (speed_mps, ...)"),
    batch: int = typer.Option(32, "--batch", help="Items per forward pass and per commit"),
    jobs: int = typer.Option(1, "--jobs", "-j", help="CPU threads for the model"),
) -> None:
    """Run a model over frames (or tags/notes/captions) it has not processed yet."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from drivelake.models.enrich import enrich as run_enrich

    lake = get_lake(ctx)
    with Progress(
        TextColumn(f"enrich {model}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=stderr,
        transient=True,
    ) as progress:
        task = progress.add_task("", total=None)
        report = run_enrich(
            lake,
            model,
            where=where,
            batch=batch,
            jobs=jobs,
            on_start=lambda total: progress.update(task, total=total),
            on_progress=lambda n: progress.advance(task, n),
        )
    swept = f", {report.orphans} rows of an interrupted run redone" if report.orphans else ""
    stderr.print(
        f"{report.model} (revision {report.revision}): {report.items} items -> "
        f"{report.outputs} rows in {report.table} in {report.seconds:.1f} s "
        f"({report.per_second:.1f} items/s){swept}"
    )


def search(
    ctx: typer.Context,
    text: str = typer.Argument(
        None, help="What to look for, in words (or classes with --detections)"
    ),
    like: str = typer.Option(None, "--like", help="Frames like this frame id"),
    where: str = typer.Option(None, "--where", help="SQL over frame, telemetry and event context"),
    k: int = typer.Option(20, "--k", help="Time spans to return"),
    model: str = typer.Option(None, "--model", "-m", help="Embedding model [default: the lake's]"),
    detections: bool = typer.Option(False, "--detections", help="Words name detected classes"),
    thumbnails: bool = typer.Option(False, "--thumbnails", help="Base64 JPEGs in json output"),
    fmt: Format = FORMAT,
) -> None:
    """Search frames by words, by example or by detections; prints time spans per drive."""
    from drivelake.search import search as run_search

    if not text and not like:
        raise typer.BadParameter("give words to search for, or --like FRAME_ID")
    result = run_search(
        get_lake(ctx), text, like=like, where=where, k=k, model=model, detections=detections
    )
    thumbs = result.column("thumbnail").to_pylist()
    result = result.drop_columns(["thumbnail"])
    if thumbnails and fmt == Format.json:
        encoded = [base64.b64encode(t).decode() if t else None for t in thumbs]
        result = result.append_column("thumbnail", pa.array(encoded, type=pa.string()))
    print_rows(result, fmt, title="search")


def register(app: typer.Typer) -> None:
    for command in (enrich, search):
        app.command()(command)
