"""Event-level evaluation against labelled truth: precision, recall and F1 per type.

A prediction matches a label of the same type and direction when their time spans overlap; each
label matches at most one prediction. Labelled normal manoeuvres are negatives: they never count
as missed, and a harsh event flagged inside one is a false positive like any other unmatched one.

Truth is often sparse (only reviewed clips are labelled; the shared phone dataset's authors
discarded the labels of manoeuvres that went wrong but stay in the recording), so each type
also says how many of its false positives lie outside every labelled span (``unlabelled``) and
what precision and F1 are without them (``precision_labelled``, ``f1_labelled``). The strict
figures count them; both are reported, the strict ones first.
Two truth formats are read: the generic ``type,direction,start_s,end_s`` CSV (the synthetic
generator's too) and the shared phone dataset's ``groundTruth.csv`` with its Portuguese labels.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from drivelake.errors import InputError

#: groundTruth.csv labels -> (type, direction); None type = a labelled non-harsh manoeuvre.
PHONE_LABELS: dict[str, tuple[str | None, str | None]] = {
    "freada_agressiva": ("harsh_brake", None),
    "aceleracao_agressiva": ("harsh_acceleration", None),
    "curva_esquerda_agressiva": ("harsh_turn", "left"),
    "curva_direita_agressiva": ("harsh_turn", "right"),
    "troca_faixa_esquerda_agressiva": ("harsh_lane_change", "left"),
    "troca_faixa_direita_agressiva": ("harsh_lane_change", "right"),
    "evento_nao_agressivo": (None, None),
}


@dataclass(frozen=True)
class Label:
    type: str | None  # None: a normal manoeuvre (a negative)
    direction: str | None
    start_s: float
    end_s: float


def read_truth(path: str | Path) -> list[Label]:
    """Labels from a generic truth CSV or a phone dataset ``groundTruth.csv``."""
    path = Path(path)
    try:
        rows = list(csv.reader(path.read_text().splitlines()))
    except OSError as exc:
        raise InputError(path, f"cannot read truth file: {exc}") from exc
    if not rows:
        raise InputError(path, "empty truth file")
    header = [h.strip().lower() for h in rows[0]]
    labels = []
    for line, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        rec = dict(zip(header, (c.strip() for c in row), strict=False))
        try:
            if "evento" in rec:
                if rec["evento"] not in PHONE_LABELS:
                    raise InputError(path, f"unknown label {rec['evento']!r}", f"line {line}")
                kind, direction = PHONE_LABELS[rec["evento"]]
                start, end = float(rec["inicio"]), float(rec["fim"])
            else:
                kind = rec["type"] if not rec["type"].startswith("normal_") else None
                direction = rec.get("direction") or None
                start, end = float(rec["start_s"]), float(rec["end_s"])
        except (KeyError, ValueError) as exc:
            raise InputError(path, f"bad truth row: {exc}", f"line {line}") from exc
        labels.append(Label(kind, direction, start, end))
    return labels


def evaluate(
    predictions: list[dict], labels: list[Label], types: list[str] | None = None
) -> dict[str, dict[str, float]]:
    """Per-type TP/FP/FN, precision, recall, F1 (plus ``all``, pooled over the types scored).

    ``predictions`` are dicts with ``type``, ``direction``, ``start_s``, ``end_s``. Only types
    present in the labels (or listed in ``types``) are scored.
    """
    scored = types or sorted({lb.type for lb in labels if lb.type})
    result: dict[str, dict[str, float]] = {}
    for kind in scored:
        truth = [lb for lb in labels if lb.type == kind]
        preds = [p for p in predictions if p["type"] == kind]
        matched: set[int] = set()
        tp = unlabelled = 0
        for p in sorted(preds, key=lambda p: p["start_s"]):
            for j, lb in enumerate(truth):
                if j in matched or (lb.direction and lb.direction != p.get("direction")):
                    continue
                if _overlap(p, lb):
                    matched.add(j)
                    tp += 1
                    break
            else:
                unlabelled += not any(_overlap(p, lb) for lb in labels)
        result[kind] = _scores(tp, len(preds) - tp, len(truth) - tp, unlabelled)
    totals = [sum(r[k] for r in result.values()) for k in ("tp", "fp", "fn", "unlabelled")]
    result["all"] = _scores(*(int(x) for x in totals))
    return result


def _overlap(p: dict, lb: Label) -> bool:
    return p["start_s"] < lb.end_s and lb.start_s < p["end_s"]


def _scores(tp: int, fp: int, fn: int, unlabelled: int) -> dict[str, float]:
    r = tp / (tp + fn) if tp + fn else 1.0

    def precision_f1(fp: int) -> tuple[float, float]:
        p = tp / (tp + fp) if tp + fp else 1.0
        return p, 2 * p * r / (p + r) if p + r else 0.0

    (p, f1), (p_labelled, f1_labelled) = precision_f1(fp), precision_f1(fp - unlabelled)
    return {
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "precision": p,
        "recall": r,
        "f1": f1,
        "unlabelled": unlabelled,
        "precision_labelled": p_labelled,
        "f1_labelled": f1_labelled,
    }
