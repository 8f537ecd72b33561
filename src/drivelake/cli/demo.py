"""``drivelake demo``: a synthetic fleet generated, ingested and summarised in one command."""

from __future__ import annotations

from pathlib import Path

import typer

from drivelake.cli.core import get_lake
from drivelake.cli.output import fail, stderr


def demo(
    ctx: typer.Context,
    drives: int = typer.Option(12, "--drives", "-n", help="How many drives to generate"),
    seed: int = typer.Option(0, "--seed", help="Generator seed (same seed, same fleet)"),
    out: Path = typer.Option(
        Path("./demo-fleet"), "--out", help="Folder for the generated CSVs and ground truth"
    ),
    jobs: int = typer.Option(1, "--jobs", "-j", help="Parallel ingest worker processes"),
) -> None:
    """Generate a SYNTHETIC fleet, ingest it into the lake and print a summary."""
    from drivelake.demo import run_demo

    if drives < 1:
        raise fail("--drives must be at least 1", 2)
    lake = get_lake(ctx, create=True)
    with stderr.status(f"generating {drives} synthetic drives and ingesting them…"):
        summary = run_demo(lake, out, drives=drives, seed=seed, jobs=jobs)
    for line in summary.lines():
        typer.echo(line)
    for result in summary.report.results:
        if result.status == "failed":
            stderr.print(f"[red]failed[/red] {result.message}", soft_wrap=True)
    if summary.failed:
        raise fail(f"{summary.failed} synthetic drive(s) failed to ingest (reasons above)")


def register(app: typer.Typer) -> None:
    app.command()(demo)
