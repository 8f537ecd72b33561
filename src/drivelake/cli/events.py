"""Commands over driving events: detect, events, roughness, eval events."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import typer

from drivelake.cli.core import FORMAT, get_lake
from drivelake.cli.output import Format, fail, print_rows, stderr

#: What a terminal shows of an event first when the whole row does not fit.
EVENT_COLUMNS = [
    "event_id",
    "type",
    "direction",
    "start_s",
    "end_s",
    "peak",
    "unit",
    "severity",
    "confidence",
    "drive_id",
    "zone",
    "lat",
    "lon",
]
#: The same for a stretch of road.
ROUGHNESS_COLUMNS = [
    "drive_id",
    "segment",
    "start_s",
    "end_s",
    "roughness_mps2",
    "distance_m",
    "speed_mps",
    "lat",
    "lon",
]

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

    print_rows(query(get_lake(ctx), drive, type_, run), fmt, title="events", order=EVENT_COLUMNS)


def roughness(
    ctx: typer.Context,
    drive: str = typer.Option(None, "--drive", help="Only this drive"),
    run: str = typer.Option(None, "--run", help="A run id (default: each drive's latest run)"),
    fmt: Format = FORMAT,
) -> None:
    """Road roughness per ~100 m of road: RMS vertical acceleration (m/s²) with its position."""
    from drivelake.events import roughness as query

    print_rows(query(get_lake(ctx), drive, run), fmt, title="roughness", order=ROUGHNESS_COLUMNS)


@eval_app.command("events")
def eval_events(
    ctx: typer.Context,
    drive: list[str] = typer.Option(None, "--drive", help="A drive id (repeatable)"),
    truth: Path = typer.Option(
        None, "--truth", help="Truth CSV (generic or groundTruth.csv); default: the drive's own"
    ),
    all_: bool = typer.Option(False, "--all", help="Every drive whose labels were ingested"),
    run: str = typer.Option(None, "--run", help="A run id (default: each drive's latest run)"),
    json_out: Path = typer.Option(None, "--json", help="Also write the scores as JSON here"),
    matches_out: Path = typer.Option(
        None, "--matches", help="Write what every event and label became (.csv or .json)"
    ),
    fmt: Format = FORMAT,
) -> None:
    """Event-level precision, recall and F1 per type against labelled truth.

    One drive: its scores per type. Several, or --all: each drive's, then pooled over them.

    --all takes every drive ingested with a labels file (a phone folder's groundTruth.csv).
    """
    from drivelake.events.evaluate import evaluate_lake

    if all_ == bool(drive):
        raise fail("name drives with --drive ID (repeatable) or use --all")
    if truth is not None and (all_ or len(drive) != 1):
        raise fail("--truth goes with a single --drive")
    truths = None if all_ else {d: truth for d in drive}
    result = evaluate_lake(get_lake(ctx), truths, run)
    for why in result["skipped"].values():
        stderr.print(f"skipped: {why}")
    if not result["drives"]:
        if result["skipped"]:
            raise fail("no labelled drive could be scored (see above)")
        raise fail("no drive in the lake was ingested with a labels file; use --drive ID --truth F")
    if matches_out:
        _write_matches(matches_out, result["matches"])
    if not all_ and len(drive) == 1:  # one named drive: its scores as they are
        scores = next(iter(result["drives"].values()))
        if json_out:
            json_out.write_text(json.dumps(scores, indent=2))
        title = f"events vs {truth.name}" if truth else "events vs the drive's labels"
        print_rows(pa.Table.from_pylist(_score_rows(scores)), fmt, title=title)
        return
    if json_out:
        json_out.write_text(json.dumps(result, indent=2))
    rows = [
        {"drive": drive_id, **row}
        for drive_id, scores in [*result["drives"].items(), ("pooled", result["pooled"])]
        for row in _score_rows(scores)
    ]
    title = f"events vs labels, {len(result['drives'])} drives and pooled"
    print_rows(pa.Table.from_pylist(rows), fmt, title=title)


def _write_matches(path: Path, rows: list[dict]) -> None:
    """One row per prediction and label with its outcome: CSV, or JSON for a .json path."""
    if path.suffix.lower() == ".json":
        path.write_text(json.dumps(rows, indent=2))
        return
    from pyarrow import csv

    from drivelake.events.evaluate import MATCH_SCHEMA

    csv.write_csv(pa.Table.from_pylist(rows, schema=MATCH_SCHEMA), str(path))


def _score_rows(scores: dict[str, dict[str, float]]) -> list[dict]:
    return [{"type": k, **{m: round(x, 3) for m, x in v.items()}} for k, v in scores.items()]


def register(app: typer.Typer) -> None:
    app.command()(detect)
    app.command()(events)
    app.command()(roughness)
    app.add_typer(eval_app, name="eval")
