"""COCO detection JSON with images: ``images/<member>.jpg`` and ``annotations/<split>.json``.

Boxes come from the detections the members carry (every model's, in the thumbnail's pixels);
each image also names its event type (``event_type``), which COCO tools ignore.
"""

from __future__ import annotations

import json
from pathlib import Path

from drivelake.curate.exporters.base import Progress, Snapshot, image_name, split_of, write_file
from drivelake.curate.exporters.images import write_images


def _path(member_id: str, split: str) -> str:
    return f"images/{member_id}.jpg"


def write(snapshot: Snapshot, root: Path, progress: Progress) -> None:
    categories = snapshot.box_labels()
    by_split: dict[str, dict] = {}
    write_images(snapshot, root, _path, progress)
    for image_id, row in enumerate(snapshot.frame_rows(), 1):
        doc = by_split.setdefault(
            split_of(row),
            {
                "info": {
                    "description": f"{snapshot.manifest['dataset']}@{snapshot.manifest['tag']}"
                },
                "images": [],
                "annotations": [],
                "categories": [{"id": i, "name": name} for i, name in enumerate(categories, 1)],
            },
        )
        doc["images"].append(
            {
                "id": image_id,
                "file_name": image_name(row),
                "width": row["width"],
                "height": row["height"],
                "member_id": row["member_id"],
                "event_type": row["event_type"],
            }
        )
        for box in row["boxes"] or []:
            w, h = box["x1"] - box["x0"], box["y1"] - box["y0"]
            doc["annotations"].append(
                {
                    "id": len(doc["annotations"]) + 1,
                    "image_id": image_id,
                    "category_id": categories.index(box["label"]) + 1,
                    "bbox": [box["x0"], box["y0"], w, h],
                    "area": w * h,
                    "iscrowd": 0,
                    "score": box["score"],
                }
            )
    for split, doc in by_split.items():
        text = json.dumps(doc, sort_keys=True, indent=1)
        write_file(root / "annotations" / f"{split}.json", text.encode())
