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

A labels file ingested with a drive (a phone folder's ``groundTruth.csv``) is recorded in its
``source_files`` with role ``labels``: :func:`evaluate_lake` scores every such drive against its
own labels and pools the counts over them (micro-averaged: a fleet's figure, not a mean of
trips' figures), which is how a detector is judged on several recorded trips at once.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from drivelake.errors import InputError, NotFoundError

if TYPE_CHECKING:
    from drivelake.lake import Lake

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


#: What a prediction or a label became (:func:`match_events`).
TRUE_POSITIVE, FALSE_POSITIVE, UNLABELLED, MISSED = "tp", "fp", "fp_unlabelled", "fn"


#: The columns of :func:`evaluate_lake`'s ``matches`` rows (a drive id added to match_events').
MATCH_SCHEMA = pa.schema(
    [
        ("drive_id", pa.string()),
        ("source", pa.string()),
        ("event_id", pa.string()),
        ("type", pa.string()),
        ("direction", pa.string()),
        ("start_s", pa.float64()),
        ("end_s", pa.float64()),
        ("label_start_s", pa.float64()),
        ("label_end_s", pa.float64()),
        ("outcome", pa.string()),
    ]
)


def match_events(
    predictions: list[dict], labels: list[Label], types: list[str] | None = None
) -> list[dict[str, Any]]:
    """One row per prediction and per harsh label of the scored types: what each became.

    A prediction (with its ``event_id`` when it has one) is ``tp`` (it matched a label:
    ``label_start_s``/``label_end_s`` say which), ``fp`` (in labelled time, yet no label of its
    type and direction) or ``fp_unlabelled`` (it overlaps no label at all); a label no
    prediction matched is ``fn``. Predictions are matched in time order, each label at most
    once. This is what a reviewer opens the clips of.
    """
    rows: list[dict[str, Any]] = []
    for kind in scored_types(labels, types):
        truth = [lb for lb in labels if lb.type == kind]
        matched: set[int] = set()
        for p in sorted((p for p in predictions if p["type"] == kind), key=lambda p: p["start_s"]):
            row = {
                "source": "prediction",
                "event_id": p.get("event_id"),
                "type": kind,
                "direction": p.get("direction"),
                "start_s": p["start_s"],
                "end_s": p["end_s"],
                "label_start_s": None,
                "label_end_s": None,
            }
            for j, lb in enumerate(truth):
                if j in matched or (lb.direction and lb.direction != p.get("direction")):
                    continue
                if _overlap(p, lb):
                    matched.add(j)
                    row.update(
                        outcome=TRUE_POSITIVE, label_start_s=lb.start_s, label_end_s=lb.end_s
                    )
                    break
            else:
                labelled = any(_overlap(p, lb) for lb in labels)
                row["outcome"] = FALSE_POSITIVE if labelled else UNLABELLED
            rows.append(row)
        rows += [
            {
                "source": "label",
                "event_id": None,
                "type": kind,
                "direction": lb.direction,
                "start_s": lb.start_s,
                "end_s": lb.end_s,
                "label_start_s": lb.start_s,
                "label_end_s": lb.end_s,
                "outcome": MISSED,
            }
            for j, lb in enumerate(truth)
            if j not in matched
        ]
    return rows


def evaluate(
    predictions: list[dict], labels: list[Label], types: list[str] | None = None
) -> dict[str, dict[str, float]]:
    """Per-type TP/FP/FN, precision, recall, F1 (plus ``all``, pooled over the types scored).

    ``predictions`` are dicts with ``type``, ``direction``, ``start_s``, ``end_s``. Only types
    present in the labels (or listed in ``types``) are scored; :func:`match_events` says what
    each prediction and label became.
    """
    scored = scored_types(labels, types)
    return scores_of(match_events(predictions, labels, scored), scored)


def scored_types(labels: list[Label], types: list[str] | None = None) -> list[str]:
    """``types``, or else every harsh type the labels name."""
    return types or sorted({lb.type for lb in labels if lb.type})


def scores_of(matches: list[dict[str, Any]], types: list[str]) -> dict[str, dict[str, float]]:
    """The per-type and ``all`` scores of :func:`match_events` rows."""
    result: dict[str, dict[str, float]] = {}
    for kind in types:
        outcomes = [r["outcome"] for r in matches if r["type"] == kind]
        tp, unlabelled = outcomes.count(TRUE_POSITIVE), outcomes.count(UNLABELLED)
        fp = outcomes.count(FALSE_POSITIVE) + unlabelled
        result[kind] = _scores(tp, fp, outcomes.count(MISSED), unlabelled)
    result["all"] = _summed(result.values())
    return result


def recorded_truth(drive: dict[str, Any]) -> Path | None:
    """The labels file ingested with ``drive`` (None if there was none), checked unchanged.

    Only its path and hash are in the lake; a file since moved or edited is an error that names
    it, not a silent evaluation against other labels.
    """
    for src in drive.get("source_files") or []:
        if src["role"] != "labels":
            continue
        path = Path(src["path"])
        try:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError as exc:
            raise InputError(
                path,
                f"the labels file ingested with drive {drive['drive_id']} "
                f"cannot be read ({exc.strerror}); pass --truth",
            ) from exc
        if digest != src["sha256"]:
            raise InputError(
                path,
                f"the labels file changed since drive {drive['drive_id']} "
                "was ingested; pass --truth to score against it as it is now",
            )
        return path
    return None


def evaluate_lake(
    lake: Lake, truths: dict[str, str | Path] | None = None, run: str | None = None
) -> dict[str, Any]:
    """Scores per drive and pooled over the drives, and what every event became::

        {"drives": {id: scores}, "pooled": scores, "matches": [match_events rows + drive_id],
         "skipped": {id: why}}

    ``truths`` maps drive ids (or unique prefixes) to truth files; a ``None`` file means the
    labels recorded at ingest, and one that cannot be read or changed since is an error. Without
    ``truths``: every drive that has recorded labels; a drive whose file went missing or changed
    is left out and named in ``skipped`` with the reason, and the others are still scored.
    Predictions are each drive's latest finished run, or ``run``.
    """
    from drivelake.events.store import events

    skipped: dict[str, str] = {}
    if truths is None:
        truths = {}
        for row in lake.drives(columns=["drive_id", "source_files"]).to_pylist():
            try:
                if (path := recorded_truth(row)) is not None:
                    truths[row["drive_id"]] = path
            except InputError as exc:  # one moved or edited file does not stop the others
                skipped[row["drive_id"]] = str(exc)
    per_drive: dict[str, dict[str, dict[str, float]]] = {}
    matches: list[dict[str, Any]] = []
    for drive_id, path in truths.items():
        drive = lake.drive(drive_id)
        path = path or recorded_truth(drive)
        if path is None:
            raise NotFoundError(
                f"drive {drive['drive_id']}: no labels were ingested with it; pass --truth FILE"
            )
        predictions = events(lake, drive["drive_id"], None, run).to_pylist()
        labels = read_truth(path)
        scored = scored_types(labels)
        rows = match_events(predictions, labels, scored)
        per_drive[drive["drive_id"]] = scores_of(rows, scored)
        matches += [{"drive_id": drive["drive_id"], **r} for r in rows]
    pooled = pool(list(per_drive.values()))
    return {"drives": per_drive, "pooled": pooled, "matches": matches, "skipped": skipped}


def pool(scores: list[dict[str, dict[str, float]]]) -> dict[str, dict[str, float]]:
    """Several drives' scores as one: their counts summed per type, the ratios recomputed."""
    kinds = [*sorted({k for s in scores for k in s if k != "all"}), "all"]
    return {k: _summed(s[k] for s in scores if k in s) for k in kinds}


def _summed(scores: Iterable[dict[str, float]]) -> dict[str, float]:
    """One score from several: the counts summed, the ratios recomputed."""
    scores = list(scores)
    return _scores(*(int(sum(s[c] for s in scores)) for c in ("tp", "fp", "fn", "unlabelled")))


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
