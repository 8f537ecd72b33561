"""Enrichment: run a model over what it has not processed yet, and store what it says.

``enrich(lake, spec)`` picks the work from the model's task: an image model (CLIP/SigLIP, a
detector, a captioner) runs over ``frames`` (their JPEG thumbnails); a text model embeds tags,
notes and captions. Only items without an ``enrich_log`` row for this model *and revision* are
processed, so a new checkpoint re-runs everything and an unchanged one resumes where it stopped.

Each batch commits its outputs, then its log rows. A kill between the two leaves outputs without
log rows; the next run deletes those orphans first and redoes their items, so a rerun never
duplicates rows. Reading and JPEG decoding of the next batch, and the commit of the previous
one, run in threads beside the model's forward pass when a core is free for them; when the
model's threads already take every core, they run between forward passes instead, since a
thread that preempts one of the model's stalls all of them at the next synchronisation.
"""

from __future__ import annotations

import io
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pyarrow as pa

from drivelake.errors import StoreError
from drivelake.models import tables
from drivelake.models.base import CAPTION, DETECTION, IMAGE_EMBEDDING, TEXT_EMBEDDING, Model

if TYPE_CHECKING:
    import duckdb
    from PIL.Image import Image

    from drivelake.lake import Lake

#: Fragments in an output table above which a run ends by compacting it.
COMPACT_ABOVE_FRAGMENTS = 64


@dataclass
class EnrichReport:
    model: str
    revision: str
    task: str
    table: str
    items: int  # processed in this run
    outputs: int  # rows written
    orphans: int  # output rows of an interrupted run, deleted before redoing their items
    seconds: float

    @property
    def per_second(self) -> float:
        return self.items / self.seconds if self.seconds > 0 else 0.0


def output_table(model: Model) -> str:
    if model.task in (IMAGE_EMBEDDING, TEXT_EMBEDDING):
        return tables.embeddings_table(model.dim)
    return {DETECTION: "detections", CAPTION: "captions"}[model.task]


def enrich(
    lake: Lake,
    spec: str,
    *,
    where: str | None = None,
    batch: int = 32,
    jobs: int = 1,
    on_start: Callable[[int], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
    model: Model | None = None,
) -> EnrichReport:
    """Run the model ``spec`` over every pending item (see the module docstring).

    ``where`` is a SQL predicate over the frame context (:mod:`drivelake.search.context`) for
    image models, or over the texts (source, key, drive_id, t_s, text) for text models.
    ``jobs`` is the number of CPU threads the model may use. ``model``, if given, is an
    already loaded ``spec`` to use (and leave open), e.g. one kept warm by a long-lived process.
    """
    from contextlib import nullcontext

    from drivelake.models import load_model

    started = time.perf_counter()
    with nullcontext(model) if model is not None else load_model(spec, threads=jobs) as model:
        table = output_table(model)
        orphans = _sweep_orphans(lake, model, table)
        con = lake.connect()
        try:
            total, reader = _pending(con, model, where, batch)
            if on_start:
                on_start(total)
            overlap = (os.cpu_count() or 1) > jobs
            batches = _rebatch(reader, batch)
            items, outputs = _run(lake, model, table, batches, on_progress, overlap=overlap)
        finally:
            con.close()
    _maintain(lake, table)
    return EnrichReport(
        model.spec,
        model.revision,
        model.task,
        table,
        items,
        outputs,
        orphans,
        time.perf_counter() - started,
    )


# ---------------------------------------------------------------------------- what is pending


def _key_expr(task: str) -> str:
    """The enrich_log key of an item row (``source:key``)."""
    return "'frame:' || frame_id" if task != TEXT_EMBEDDING else "source || ':' || key"


def texts_sql(con: duckdb.DuckDBPyConnection) -> str:
    """Tags, notes and (one per frame) captions, as rows of (source, key, drive_id, t_s, text)."""
    from drivelake.search.context import has_table

    parts = []
    if has_table(con, "tags"):
        parts.append("SELECT kind AS source, tag_id AS key, drive_id, t_s, text FROM tags")
    if has_table(con, "captions"):
        parts.append(
            "SELECT DISTINCT ON (frame_id) 'caption' AS source, frame_id AS key, drive_id, t_s, "
            "text FROM captions"
        )
    return " UNION ALL ".join(parts) or (
        "SELECT NULL::VARCHAR AS source, NULL::VARCHAR AS key, NULL::VARCHAR AS drive_id, "
        "NULL::DOUBLE AS t_s, NULL::VARCHAR AS text WHERE false"
    )


def _pending(
    con: duckdb.DuckDBPyConnection, model: Model, where: str | None, batch: int
) -> tuple[int, pa.RecordBatchReader]:
    from drivelake.search.context import frame_context, has_table

    if model.task == TEXT_EMBEDDING:
        base = f"SELECT * FROM ({texts_sql(con)}) t WHERE text IS NOT NULL AND text <> ''"
        if where:
            base += f" AND ({where})"
    else:
        if not has_table(con, "frames"):
            raise StoreError("no frames in the lake yet: ingest video first (`drivelake ingest`)")
        base = "SELECT frame_id, drive_id, t_s, thumbnail FROM frames WHERE thumbnail IS NOT NULL"
        if where:
            base += f" AND frame_id IN (SELECT frame_id FROM ({frame_context(con)}) WHERE {where})"
    if has_table(con, "enrich_log"):
        base += (
            f" AND {_key_expr(model.task)} NOT IN (SELECT key FROM enrich_log "
            "WHERE model = $model AND revision = $revision)"
        )
        params = {"model": model.spec, "revision": model.revision}
    else:
        params = {}
    try:
        total = con.execute(f"SELECT count(*) FROM ({base})", params).fetchall()[0][0]
        reader = con.sql(base, params=params).to_arrow_reader(batch)
    except Exception as exc:  # duckdb.Error: a bad --where
        raise StoreError(f"enrich --where: {str(exc).splitlines()[0]}") from exc
    return int(total), reader


def _rebatch(reader: pa.RecordBatchReader, size: int) -> Iterator[pa.Table]:
    """Batches of exactly ``size`` rows (the last may be short), whatever the reader yields."""
    pending: list[pa.RecordBatch] = []
    rows = 0
    for rb in reader:
        pending.append(rb)
        rows += rb.num_rows
        while rows >= size:
            table = pa.Table.from_batches(pending)
            yield table.slice(0, size)
            rest = table.slice(size)
            pending, rows = rest.to_batches(), rest.num_rows
    if rows:
        yield pa.Table.from_batches(pending)


# ---------------------------------------------------------------------------- running


def decode_thumbnails(data: list[bytes]) -> list[Image]:
    from PIL import Image as PILImage

    return [PILImage.open(io.BytesIO(b)).convert("RGB") for b in data]


def _prepare(model: Model, rows: pa.Table) -> tuple[pa.Table, list]:
    """Rows with their model inputs: decoded images, or the texts."""
    if model.task == TEXT_EMBEDDING:
        return rows, rows.column("text").to_pylist()
    return rows, decode_thumbnails(rows.column("thumbnail").to_pylist())


def _forward(model: Model, rows: pa.Table, inputs: list) -> tuple[pa.Table | None, list[int]]:
    """Run the model on one batch: its output rows and how many outputs each item has."""
    n = rows.num_rows
    spec, rev = model.spec, model.revision
    common = {
        "drive_id": rows.column("drive_id"),
        "t_s": rows.column("t_s"),
        "model": pa.array([spec] * n),
        "revision": pa.array([rev] * n),
    }
    if model.task in (IMAGE_EMBEDDING, TEXT_EMBEDDING):
        if model.task == IMAGE_EMBEDDING:
            vectors = model.embed_images(inputs)
            keys, sources, texts = rows.column("frame_id"), pa.array(["frame"] * n), pa.nulls(n)
        else:
            vectors = model.embed_texts(inputs)
            keys, sources, texts = rows.column("key"), rows.column("source"), rows.column("text")
        flat = pa.array(vectors.reshape(-1), type=pa.float32())
        out = {
            "key": keys,
            "source": sources,
            **common,
            "text": texts,
            "vector": pa.FixedSizeListArray.from_arrays(flat, model.dim),
        }
        return pa.table(out, schema=tables.embeddings_schema(model.dim)), [1] * n
    if model.task == CAPTION:
        out = {"frame_id": rows.column("frame_id"), **common, "text": model.caption(inputs)}
        return pa.table(out, schema=tables.CAPTIONS), [1] * n
    found = model.detect(inputs)
    records = [
        {
            "frame_id": frame_id,
            "drive_id": drive_id,
            "t_s": t_s,
            "model": spec,
            "revision": rev,
            "label": d.label,
            "score": d.score,
            "x0": d.box[0],
            "y0": d.box[1],
            "x1": d.box[2],
            "y1": d.box[3],
            "image_w": image.width,
            "image_h": image.height,
        }
        for frame_id, drive_id, t_s, image, dets in zip(
            rows.column("frame_id").to_pylist(),
            rows.column("drive_id").to_pylist(),
            rows.column("t_s").to_pylist(),
            inputs,
            found,
            strict=True,
        )
        for d in dets
    ]
    out = pa.Table.from_pylist(records, schema=tables.DETECTIONS) if records else None
    return out, [len(d) for d in found]


def _commit(
    lake: Lake, model: Model, table: str, rows: pa.Table, out: pa.Table | None, counts: list[int]
) -> None:
    """Outputs first, then the log rows that make them count as done."""
    if out is not None and out.num_rows:
        lake.append(table, out, message=f"enrich {model.spec}")
    keys = (
        rows.column("source").to_pylist()
        if model.task == TEXT_EMBEDDING
        else ["frame"] * rows.num_rows
    )
    ids = rows.column("key" if model.task == TEXT_EMBEDDING else "frame_id").to_pylist()
    now = datetime.now(UTC)
    log = pa.table(
        {
            "key": [f"{s}:{i}" for s, i in zip(keys, ids, strict=True)],
            "model": [model.spec] * rows.num_rows,
            "revision": [model.revision] * rows.num_rows,
            "task": [model.task] * rows.num_rows,
            "outputs": pa.array(counts, type=pa.int32()),
            "at": pa.array([now] * rows.num_rows, type=pa.timestamp("ns", tz="UTC")),
        },
        schema=tables.ENRICH_LOG,
    )
    lake.append("enrich_log", log, message=f"enrich {model.spec}")


def _next_prepared(model: Model, batches: Iterator[pa.Table]) -> tuple[pa.Table, list] | None:
    rows = next(batches, None)
    return None if rows is None else _prepare(model, rows)


class _Inline:
    """Runs each task as it is submitted (errors raise at once): the pipeline without threads."""

    def submit(self, fn: Callable, /, *args: object) -> Future:
        done: Future = Future()
        done.set_result(fn(*args))
        return done

    def __enter__(self) -> _Inline:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


def _run(
    lake: Lake,
    model: Model,
    table: str,
    batches: Iterator[pa.Table],
    on_progress: Callable[[int], None] | None,
    *,
    overlap: bool,
) -> tuple[int, int]:
    """The pipeline: prepare batch i+1 and commit batch i-1 while the model runs on batch i
    (``overlap``), or in turn with it."""
    items = outputs = 0

    def executor(name: str):
        return ThreadPoolExecutor(1, thread_name_prefix=name) if overlap else _Inline()

    with executor("enrich-prepare") as prep, executor("enrich-commit") as writer:
        ahead: Future = prep.submit(_next_prepared, model, batches)
        committing: Future | None = None
        while (prepared := ahead.result()) is not None:
            rows, inputs = prepared
            ahead = prep.submit(_next_prepared, model, batches)
            out, counts = _forward(model, rows, inputs)
            if committing is not None:
                committing.result()  # one commit at a time, in order; errors surface here
            committing = writer.submit(_commit, lake, model, table, rows, out, counts)
            items += rows.num_rows
            outputs += 0 if out is None else out.num_rows
            if on_progress:
                on_progress(rows.num_rows)
        if committing is not None:
            committing.result()
    return items, outputs


# ---------------------------------------------------------------------------- upkeep


def _output_key_sql(table: str) -> str:
    """The enrich_log key of an output row of ``table``."""
    return "'frame:' || frame_id" if table in ("detections", "captions") else "source || ':' || key"


def _sweep_orphans(lake: Lake, model: Model, table: str) -> int:
    """Delete output rows of this model+revision that have no log row (an interrupted batch)."""
    ds = lake.dataset(table)
    if ds is None:
        return 0
    con = lake.connect()
    try:
        log = "enrich_log" if "enrich_log" in lake.table_names() else None
        done = (
            f"SELECT key FROM {log} WHERE model = $model AND revision = $revision"
            if log
            else ("SELECT NULL::VARCHAR AS key WHERE false")
        )
        key_col = "frame_id" if table in ("detections", "captions") else "key"
        orphans = con.execute(
            f"SELECT {key_col}, count(*) FROM {table} WHERE model = $model "
            f"AND revision = $revision AND {_output_key_sql(table)} NOT IN ({done}) GROUP BY 1",
            {"model": model.spec, "revision": model.revision},
        ).fetchall()
    finally:
        con.close()
    if orphans:
        listed = ", ".join("'" + k[0].replace("'", "''") + "'" for k in orphans)
        spec = model.spec.replace("'", "''")
        ds.delete(f"model = '{spec}' AND revision = '{model.revision}' AND {key_col} IN ({listed})")
    return sum(n for _, n in orphans)


def _maintain(lake: Lake, table: str) -> None:
    """Compact many small per-batch fragments, and keep the vector index current."""
    for name in (table, "enrich_log"):
        ds = lake.dataset(name)
        if ds is not None and len(ds.get_fragments()) > COMPACT_ABOVE_FRAGMENTS:
            ds.optimize.compact_files()
    if table.startswith("embeddings_"):
        from drivelake.search.vector import maintain_index

        maintain_index(lake, table)
