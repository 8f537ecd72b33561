"""Commands over driving events: detect, events, roughness, eval events."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import typer

from drivelake.cli.core import FORMAT, get_lake
from drivelake.cli.output import Format, fail, print_rows, stderr

eval_app = typer.Typer(help="Evaluate mined results against labelled truth.", no_args_is_help=True)


def detect(
    ctx: typer.Context,
    all_: bool = typer.Option(False, "--all", help="Every drive in the lake"),
    drive: list[str] = typer.Option(None, "--drive", help="A drive id (repeatable)"),
    config: Path = typer.Option(None, "--config", help="TOML thresholds overriding the defaults"),
    jobs: int = typer.Option(1, "--jobs", help="Worker processes"),
) -> None:
    """Detect driving events (incremental: drives already done for this config are skipped)."""
    from drivelake.events import detect as run

    if not all_ and not drive:
        raise fail("name drives with --drive ID or use --all")
    result = run(get_lake(ctx), None if all_ else list(drive), config=config, jobs=jobs)
    stderr.print(
        f"run {result['run_id']}: {result['processed']} drives processed, "
        f"{result['skipped']} already done, {result['events']} events"
    )


def events(
    ctx: typer.Context,
    drive: str = typer.Option(None, "--drive", help="Only this drive"),
    type_: str = typer.Option(None, "--type", help="Only this event type"),
    run: str = typer.Option(None, "--run", help="A run id (default: each drive's latest run)"),
    fmt: Format = FORMAT,
) -> None:
    """List detected events."""
    from drivelake.events import events as query

    print_rows(query(get_lake(ctx), drive, type_, run), fmt, title="events")


def roughness(
    ctx: typer.Context,
    drive: str = typer.Option(None, "--drive", help="Only this drive"),
    run: str = typer.Option(None, "--run", help="A run id (default: each drive's latest run)"),
    fmt: Format = FORMAT,
) -> None:
    """Road roughness per ~100 m of road: RMS vertical acceleration (m/s²) with its position."""
    from drivelake.events import roughness as query

    print_rows(query(get_lake(ctx), drive, run), fmt, title="roughness")


@eval_app.command("events")
def eval_events(
    ctx: typer.Context,
    drive: str = typer.Option(..., "--drive", help="The drive the truth belongs to"),
    truth: Path = typer.Option(..., "--truth", help="Truth CSV (generic or groundTruth.csv)"),
    run: str = typer.Option(None, "--run", help="A run id (default: the drive's latest run)"),
    json_out: Path = typer.Option(None, "--json", help="Also write the scores as JSON here"),
    fmt: Format = FORMAT,
) -> None:
    """Event-level precision, recall and F1 per type against labelled truth."""
    from drivelake.events import events as query
    from drivelake.events.evaluate import evaluate, read_truth

    predictions = query(get_lake(ctx), drive, None, run).to_pylist()
    scores = evaluate(predictions, read_truth(truth))
    if json_out:
        json_out.write_text(json.dumps(scores, indent=2))
    rows = [{"type": k, **{m: round(x, 3) for m, x in v.items()}} for k, v in scores.items()]
    print_rows(pa.Table.from_pylist(rows), fmt, title=f"events vs {truth.name}")


def register(app: typer.Typer) -> None:
    app.command()(detect)
    app.command()(events)
    app.command()(roughness)
    app.add_typer(eval_app, name="eval")
