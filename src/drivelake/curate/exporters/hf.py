"""Hugging Face ``datasets``: a ``DatasetDict`` of splits saved with ``save_to_disk``.

Features: ``image`` (Image), ``label`` (ClassLabel of event types, ``none`` for frames outside
events), ids, times, position, speed and the telemetry windows. Load with
``datasets.load_from_disk(out)``.
"""

from __future__ import annotations

from pathlib import Path

from drivelake.curate.exporters.base import Progress, Snapshot, image_name, split_of

_COLUMNS = ("member_id", "drive_id", "vehicle_id", "t_s", "lat", "lon", "speed_mps")


def write(snapshot: Snapshot, root: Path, progress: Progress) -> None:
    import datasets
    from datasets.utils.logging import disable_progress_bar

    disable_progress_bar()  # libraries report through callbacks; the CLI draws the bar
    labels = snapshot.labels()
    features = datasets.Features(
        {
            "image": datasets.Image(),
            "label": datasets.ClassLabel(names=labels),
            "member_id": datasets.Value("string"),
            "drive_id": datasets.Value("string"),
            "vehicle_id": datasets.Value("string"),
            "t_s": datasets.Value("float64"),
            "lat": datasets.Value("float64"),
            "lon": datasets.Value("float64"),
            "speed_mps": datasets.Value("float32"),
            "speed_window": datasets.Sequence(datasets.Value("float32")),
            "g_window": datasets.Sequence(datasets.Value("float32")),
        }
    )
    splits: dict[str, dict[str, list]] = {}
    rows = snapshot.frames.to_pylist()
    for done, row in enumerate(rows, 1):
        columns = splits.setdefault(split_of(row), {name: [] for name in features})
        columns["image"].append({"bytes": row["image"], "path": image_name(row)})
        columns["label"].append(labels.index(row["event_type"] or "none"))
        for name in (*_COLUMNS, "speed_window", "g_window"):
            columns[name].append(row[name])
        progress(done, len(rows))
    data = datasets.DatasetDict(
        {s: datasets.Dataset.from_dict(c, features=features) for s, c in sorted(splits.items())}
    )
    data.save_to_disk(str(root / "hf"))
