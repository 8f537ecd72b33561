"""The tables model stages write: embeddings, detections, captions, and the enrichment log.

Embeddings live in one Lance table per vector width, ``embeddings_<dim>`` (``embeddings_512``
for CLIP ViT-B/32, ``embeddings_384`` for MiniLM): a vector index needs one fixed-size column,
and models of different widths cannot share one. Rows are keyed by what they embed (``key`` is
a frame id, tag id, ...; ``source`` says which) and carry the model spec and pinned revision.

``enrich_log`` is the truth of what was processed: one row per (item, model, revision), written
after the item's outputs. Outputs of items without a log row are orphans of a killed run and
are deleted before the next run redoes them, which makes enrichment resumable and idempotent.
"""

from __future__ import annotations

import pyarrow as pa

_UTC = pa.timestamp("ns", tz="UTC")

#: Where an embedded item comes from.
SOURCES = ("frame", "tag", "note", "caption")


def embeddings_table(dim: int) -> str:
    return f"embeddings_{dim}"


def embeddings_schema(dim: int) -> pa.Schema:
    return pa.schema(
        [
            pa.field("key", pa.string(), nullable=False),  # frame_id, tag_id, ...
            pa.field("source", pa.string(), nullable=False),  # one of SOURCES
            pa.field("drive_id", pa.string()),
            pa.field("t_s", pa.float64()),
            pa.field("text", pa.string()),  # what was embedded, for text sources
            pa.field("model", pa.string(), nullable=False),
            pa.field("revision", pa.string(), nullable=False),
            pa.field("vector", pa.list_(pa.float32(), dim), nullable=False),  # unit length
        ]
    )


DETECTIONS = pa.schema(
    [
        pa.field("frame_id", pa.string(), nullable=False),
        pa.field("drive_id", pa.string()),
        pa.field("t_s", pa.float64()),
        pa.field("model", pa.string(), nullable=False),
        pa.field("revision", pa.string(), nullable=False),
        pa.field("label", pa.string()),  # class name
        pa.field("score", pa.float32()),
        # box in pixels of the image the model saw (the frame's thumbnail: image_w x image_h)
        pa.field("x0", pa.float32()),
        pa.field("y0", pa.float32()),
        pa.field("x1", pa.float32()),
        pa.field("y1", pa.float32()),
        pa.field("image_w", pa.int32()),
        pa.field("image_h", pa.int32()),
    ]
)

CAPTIONS = pa.schema(
    [
        pa.field("frame_id", pa.string(), nullable=False),
        pa.field("drive_id", pa.string()),
        pa.field("t_s", pa.float64()),
        pa.field("model", pa.string(), nullable=False),
        pa.field("revision", pa.string(), nullable=False),
        pa.field("text", pa.string()),
    ]
)

ENRICH_LOG = pa.schema(
    [
        pa.field("key", pa.string(), nullable=False),  # "<source>:<id>"
        pa.field("model", pa.string(), nullable=False),
        pa.field("revision", pa.string(), nullable=False),
        pa.field("task", pa.string()),
        pa.field("outputs", pa.int32()),
        pa.field("at", _UTC),
    ]
)

#: Fixed-schema tables of the model stages (registered in :data:`drivelake.schema.TABLES`).
TABLES = {"detections": DETECTIONS, "captions": CAPTIONS, "enrich_log": ENRICH_LOG}
