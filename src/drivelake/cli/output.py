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


def print_rows(
    table: pa.Table, fmt: Format, *, title: str | None = None, order: list[str] | None = None
) -> None:
    """Print an Arrow table: ``json`` is one array of row objects, ``csv`` has a header.

    A ``table`` wider than the terminal is fitted to it (see :func:`_fit`): ``order`` names the
    columns most worth keeping, first to last. Piped to a file it keeps every column, unfolded.
    """
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
        _print_table(table, title, order or [])


def _print_table(table: pa.Table, title: str | None, order: list[str]) -> None:
    from rich.table import Table

    console = Console()
    names = table.column_names
    cells = {name: [_cell(v) for v in table.column(name).to_pylist()] for name in names}
    width = {name: max([len(name), *map(len, cells[name])]) for name in names}
    caption, notes = None, []
    if not console.is_terminal:  # a file or a pipe: nothing to fit, nothing folded
        console = Console(width=max(80, _table_width(names, width)))
    elif _table_width(names, width) > console.width:
        names, caption, notes = _fit(names, cells, width, console.width, order)
    t = Table(title=title, caption=caption, show_lines=False)
    for name in names:
        t.add_column(name, overflow="fold")
    for i in range(table.num_rows):
        t.add_row(*(cells[name][i] for name in names))
    console.print(t)
    for note in notes:
        stderr.print(note)


def _table_width(names: list[str], width: dict[str, int]) -> int:
    """Characters a rich table needs: each column's text, its padding and one border."""
    return 1 + sum(width[name] + 3 for name in names)


def _fit(
    names: list[str],
    cells: dict[str, list[str]],
    width: dict[str, int],
    limit: int,
    order: list[str],
) -> tuple[list[str], str | None, list[str]]:
    """The columns that fit ``limit`` characters, the caption and the notes that say the rest.

    Columns empty in every row are left out; a value every row shares moves to the caption
    (``drive_id=...`` under a one-drive listing); then columns are kept in ``order`` (the rest
    after it, left to right) while they fit. A hidden column is named, never silently lost.
    """
    rows = len(cells[names[0]]) if names else 0
    empty = [n for n in names if rows and not any(cells[n])]
    constant = [n for n in names if rows > 1 and n not in empty and len(set(cells[n])) == 1]
    left = [n for n in names if n not in empty and n not in constant]
    wanted = [n for n in order if n in left] + [n for n in left if n not in order]
    shown: list[str] = []
    for name in wanted:
        if shown and _table_width([*shown, name], width) > limit:
            break
        shown.append(name)
    hidden = wanted[len(shown) :]
    notes = []
    if empty:
        notes.append(f"empty in every row, not shown: {', '.join(empty)}")
    if hidden:
        notes.append(
            f"{len(hidden)} column(s) not shown at this width: {', '.join(hidden)} "
            "(--format csv or json has every column)"
        )
    caption = ", ".join(f"{n}={cells[n][0]}" for n in constant) or None
    return shown, caption, notes


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
