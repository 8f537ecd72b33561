"""Mask personal data in free text and string columns (notes, tags, OCR output) by regex rules.

The defaults catch what fleet metadata typically leaks: VINs (17 characters, no I/O/Q, letters and
digits mixed), licence-plate strings (short letter+digit groups, e.g. ``7ABC123`` or
``KA 05 MX 2231``) and names after "driver"/"drove"-style cues. Rules are data, so a fleet adds
its own (a roster of driver names, a customer-number format) without code.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc


@dataclass(frozen=True, slots=True)
class PiiRule:
    """Every match of ``pattern`` becomes ``replacement`` (``\\g<name>`` keeps a group)."""

    name: str
    pattern: str
    replacement: str

    def apply(self, text: str) -> str:
        return re.sub(self.pattern, self.replacement, text)


DEFAULT_RULES: tuple[PiiRule, ...] = (
    PiiRule(
        "vin",
        r"\b(?=[A-HJ-NPR-Z0-9]*\d)(?=[A-HJ-NPR-Z0-9]*[A-HJ-NPR-Z])[A-HJ-NPR-Z0-9]{17}\b",
        "[VIN]",
    ),
    PiiRule(
        "plate",
        r"\b(?=[A-Z0-9 -]*\d)(?=[A-Z0-9 -]*[A-Z])[A-Z0-9]{1,4}(?:[ -]?[A-Z0-9]{1,4}){1,3}\b",
        "[PLATE]",
    ),
    PiiRule(
        "driver name",
        r"(?i)(?P<cue>\b(?:driver|driven by|drove|operator)\b:?\s+)"
        r"(?-i:[A-Z][a-z]+(?:\s+[A-Z][a-z]+)?)",
        r"\g<cue>[NAME]",
    ),
)


def name_rule(names: Iterable[str]) -> PiiRule:
    """A rule masking the given names (e.g. the fleet's driver roster) wherever they appear."""
    alternatives = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True) if n)
    return PiiRule("roster names", rf"(?i)\b(?:{alternatives})\b", "[NAME]")


def mask_text(text: str, rules: Sequence[PiiRule] = DEFAULT_RULES) -> str:
    """``text`` with every rule applied in order (VINs before plates: a VIN is not two plates)."""
    for rule in rules:
        text = rule.apply(text)
    return text


def mask_columns(
    table: pa.Table, columns: Iterable[str] | None = None, rules: Sequence[PiiRule] = DEFAULT_RULES
) -> pa.Table:
    """``table`` with ``columns`` (default: every string column) masked row by row."""
    names = (
        list(columns)
        if columns is not None
        else [
            f.name
            for f in table.schema
            if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)
        ]
    )
    for name in names:
        values = [None if v is None else mask_text(v, rules) for v in table[name].to_pylist()]
        index = table.schema.get_field_index(name)
        table = table.set_column(
            index, name, pc.cast(pa.array(values, pa.string()), table[name].type)
        )
    return table
