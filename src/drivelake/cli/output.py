"""How commands print: rows as table/json/csv on stdout, everything else on stderr."""

from __future__ import annotations

import csv
import json
import math
import sys
from datetime import date, datetime
from enum import StrEnum
from typing import Any

import pyarrow as pa
import typer
from rich.console import Console

stderr = Console(stderr=True, highlight=False)


class Format(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


def _jsonable(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, bytes):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def print_rows(table: pa.Table, fmt: Format, *, title: str | None = None) -> None:
    """Print an Arrow table: ``json`` is one array of row objects, ``csv`` has a header."""
    rows = table.to_pylist()
    if fmt == Format.json:
        json.dump([_jsonable(r) for r in rows], sys.stdout, indent=None)
        sys.stdout.write("\n")
    elif fmt == Format.csv:
        writer = csv.writer(sys.stdout)
        writer.writerow(table.column_names)
        for r in rows:
            writer.writerow([_cell(r[c]) for c in table.column_names])
    else:
        from rich.table import Table

        t = Table(title=title, show_lines=False)
        for name in table.column_names:
            t.add_column(name, overflow="fold")
        for r in rows:
            t.add_row(*(_cell(r[c]) for c in table.column_names))
        Console().print(t)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}" if math.isfinite(value) else ""
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (list, dict)):
        return json.dumps(_jsonable(value))
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    return str(value)


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print a one-line reason on stderr and return the Exit to raise."""
    stderr.print(f"[red]error:[/red] {message}", soft_wrap=True)
    return typer.Exit(code)


def run_app(app: typer.Typer) -> None:
    from drivelake.errors import DrivelakeError

    try:
        app(standalone_mode=True)
    except DrivelakeError as exc:
        stderr.print(f"[red]error:[/red] {exc}", soft_wrap=True)
        sys.exit(1)
