"""``drivelake ingest``: files and folders into the lake, in parallel, with a progress bar."""

from __future__ import annotations

import tomllib
from pathlib import Path

import typer

from drivelake.cli.core import get_lake
from drivelake.cli.output import fail, stderr
from drivelake.ingest import IngestOptions


def _pairs(values: list[str], what: str) -> dict[str, str]:
    out = {}
    for v in values:
        if "=" not in v:
            raise fail(f"{what} must look like role=value, not {v!r}", 2)
        k, _, val = v.partition("=")
        out[k.strip()] = val.strip()
    return out


def ingest(
    ctx: typer.Context,
    paths: list[Path] = typer.Argument(..., help="Files or folders to ingest"),
    vehicle: str = typer.Option(None, "--vehicle", help="Vehicle id for these drives"),
    fmt: str = typer.Option(None, "--format", help="Force a reader (else auto-detected)"),
    jobs: int = typer.Option(1, "--jobs", "-j", help="Parallel worker processes"),
    engine: str = typer.Option("local", "--engine", help="local or ray"),
    gap: float = typer.Option(300.0, "--gap", help="Split a log into drives at gaps (s)"),
    mapping: Path = typer.Option(
        None, "--map", help='TOML file with [columns] role = "name" and [units] role = "unit"'
    ),
    column: list[str] = typer.Option([], "--column", help="Column mapping, e.g. time=ts_utc"),
    unit: list[str] = typer.Option([], "--unit", help="Unit override, e.g. speed=km/h"),
) -> None:
    """Ingest telemetry (CSV, Parquet, GPX, NMEA, comma2k19, phone folders) and videos."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    columns, units = {}, {}
    if mapping:
        try:
            spec = tomllib.loads(mapping.read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise fail(f"{mapping}: cannot read mapping: {exc}", 2) from exc
        columns, units = dict(spec.get("columns", {})), dict(spec.get("units", {}))
    columns.update(_pairs(column, "--column"))
    units.update(_pairs(unit, "--unit"))
    lake = get_lake(ctx, create=True)
    with Progress(
        TextColumn("ingest"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.description}"),
        console=stderr,
        transient=True,
    ) as progress:
        task = progress.add_task("", total=None)

        def discovered(n: int) -> None:
            progress.update(task, total=n)

        def done(result) -> None:
            progress.advance(task)
            progress.update(task, description=Path(result.source).name)
            if result.status == "failed":
                stderr.print(f"[red]failed[/red] {result.message}", soft_wrap=True)
            for repair in result.repairs:
                stderr.print(f"[yellow]repaired[/yellow] {result.source}: {repair}", soft_wrap=True)

        options = IngestOptions(
            vehicle_id=vehicle,
            format=fmt,
            jobs=jobs,
            engine=engine,
            max_gap_s=gap,
            column_map=columns,
            units=units,
        )
        report = lake.ingest(paths, options, on_result=done, on_discovered=discovered)
    ingested, present = report.count("ingested"), report.count("already present")
    failed, skipped = report.count("failed"), report.count("skipped")
    stderr.print(
        f"{ingested} ingested, {present} already present, {failed} failed, {skipped} skipped"
    )
    for r in report.results:
        if r.status == "skipped":
            stderr.print(f"[dim]skipped {r.message}[/dim]", soft_wrap=True)
    if failed:
        raise fail(f"{failed} source(s) failed to ingest (reasons above)")


def register(app: typer.Typer) -> None:
    app.command()(ingest)
