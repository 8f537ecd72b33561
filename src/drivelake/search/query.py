"""Search planning: words, an example frame or detected classes, under SQL predicates.

A query picks its candidates one of three ways — text→image (the text embedded by an
image-text model, against frame embeddings), image→image (``like``: a frame's own embedding),
text→text (a sentence model against tags, notes and captions) — or, with ``detections``, the
frames where a detector saw the named classes. ``where`` is SQL over the frame context
(:mod:`drivelake.search.context`: speed, position, time of day, vehicle, event type) and
restricts the candidates before ranking, never after, so a selective filter cannot empty the
result. The hits are grouped into time spans per drive (:mod:`drivelake.search.spans`) and
returned with the drive's best frame thumbnail and the event the span overlaps.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from drivelake.errors import ModelError, NotFoundError, StoreError
from drivelake.models.base import IMAGE_EMBEDDING, TEXT_EMBEDDING
from drivelake.search import spans as spans_mod
from drivelake.search.context import context_sql, frame_context, has_table
from drivelake.search.vector import nearest

if TYPE_CHECKING:
    import duckdb

    from drivelake.lake import Lake

#: Hits fetched per span asked for: neighbouring frames of one scene merge into one span.
HITS_PER_SPAN = 5
TEXT_SOURCES = ("tag", "note", "caption")


def _quote(value: str) -> str:
    return value.replace("'", "''")


def _sql(con: duckdb.DuckDBPyConnection, query: str, params: dict | None = None) -> list[tuple]:
    try:
        return con.execute(query, params or {}).fetchall()
    except Exception as exc:  # duckdb.Error, e.g. a bad --where
        raise StoreError(f"search: {str(exc).splitlines()[0]}") from exc


def _embedded_models(con: duckdb.DuckDBPyConnection, task: str) -> list[tuple[str, str]]:
    """(model, revision) pairs that have run ``task``, most items first."""
    if not has_table(con, "enrich_log"):
        return []
    return _sql(
        con,
        "SELECT model, revision FROM enrich_log WHERE task = $task "
        "GROUP BY 1, 2 ORDER BY count(*) DESC",
        {"task": task},
    )


def _load_query_model(con: duckdb.DuckDBPyConnection, spec: str | None):
    """The model that embeds the query, defaulting to the lake's main image-text model."""
    from drivelake.models import load_model

    if spec is None:
        used = _embedded_models(con, IMAGE_EMBEDDING) or _embedded_models(con, TEXT_EMBEDDING)
        if not used:
            raise NotFoundError(
                "nothing to search yet: run `drivelake enrich --model SPEC` first "
                "(an image-text model for frames, a sentence model for tags and notes)"
            )
        spec = used[0][0]
    return load_model(spec)


def _allowed_frames(con: duckdb.DuckDBPyConnection, where: str | None) -> set[str] | None:
    if not where:
        return None
    if not has_table(con, "frames"):
        raise StoreError("search --where: no frames in the lake yet")
    rows = _sql(con, f"SELECT DISTINCT frame_id FROM ({frame_context(con)}) WHERE {where}")
    return {r[0] for r in rows}


def _allowed_texts(con: duckdb.DuckDBPyConnection, where: str | None) -> set[str] | None:
    """Keys of tags/notes/captions whose drive and moment satisfy ``where``."""
    if not where:
        return None
    from drivelake.models.enrich import texts_sql

    rows = _sql(con, f"SELECT DISTINCT key FROM ({context_sql(con, texts_sql(con))}) WHERE {where}")
    return {r[0] for r in rows}


def _frame_vector(lake: Lake, frame_id: str, model: str | None) -> tuple[str, str, str, np.ndarray]:
    """(table, model, revision, vector) of a frame's embedding, for ``like`` searches."""
    names = [n for n in lake.table_names() if n.startswith("embeddings_")]
    for name in names:
        where = f"source = 'frame' AND key = '{_quote(frame_id)}'"
        if model:
            where += f" AND model = '{_quote(model)}'"
        rows = lake.dataset(name).to_table(filter=where, columns=["model", "revision", "vector"])
        if rows.num_rows:
            row = rows.slice(0, 1).to_pylist()[0]
            return name, row["model"], row["revision"], np.asarray(row["vector"], np.float32)
    raise NotFoundError(
        f"frame {frame_id!r} has no embedding"
        + (f" from {model}" if model else "")
        + "; run `drivelake enrich --model SPEC` over it first"
    )


def _vector_hits(
    lake: Lake,
    table: str,
    vector: np.ndarray,
    model: str,
    revision: str,
    sources: tuple[str, ...],
    allowed: set[str] | None,
    fetch: int,
) -> pa.Table:
    ds = lake.dataset(table)
    if ds is None:
        raise NotFoundError(
            f"no embeddings from {model} yet: run `drivelake enrich --model {model}`"
        )
    listed = ", ".join(f"'{s}'" for s in sources)
    where = (
        f"model = '{_quote(model)}' AND revision = '{_quote(revision)}' AND source IN ({listed})"
    )
    hits = nearest(ds, vector, fetch, where=where, allowed=allowed)
    frame_ids = [
        key if source in ("frame", "caption") else None
        for key, source in zip(
            hits.column("key").to_pylist(), hits.column("source").to_pylist(), strict=True
        )
    ]
    return pa.table(
        {
            "drive_id": hits.column("drive_id"),
            "t_s": hits.column("t_s"),
            "score": hits.column("score"),
            "frame_id": pa.array(frame_ids, type=pa.string()),
            "source": hits.column("source"),
            "text": hits.column("text"),
        }
    )


def _detection_hits(
    con: duckdb.DuckDBPyConnection, text: str, model: str | None, allowed: set[str] | None
) -> pa.Table:
    labels = [w for w in re.split(r"[,\s]+", text.lower()) if w]
    if not has_table(con, "detections"):
        raise NotFoundError("no detections yet: run `drivelake enrich --model DETECTOR` first")
    listed = ", ".join(f"'{_quote(w)}'" for w in labels)
    query = (
        "SELECT drive_id, any_value(t_s) AS t_s, max(score)::FLOAT AS score, frame_id, "
        "'detection' AS source, string_agg(DISTINCT label, ', ') AS text FROM detections "
        f"WHERE lower(label) IN ({listed})"
    )
    if model:
        query += f" AND model = '{_quote(model)}'"
    table = con.sql(query + " GROUP BY drive_id, frame_id").to_arrow_table()
    if allowed is not None:
        table = table.filter(pa.array([f in allowed for f in table.column("frame_id").to_pylist()]))
    return table


def _frame_times(con: duckdb.DuckDBPyConnection, drives: list[str]) -> dict[str, np.ndarray]:
    if not drives or not has_table(con, "frames"):
        return {}
    listed = ", ".join(f"'{_quote(d)}'" for d in drives)
    table = con.sql(
        f"SELECT drive_id, list(t_s) AS ts FROM frames WHERE drive_id IN ({listed}) GROUP BY 1"
    ).to_arrow_table()
    return {
        d: np.asarray(ts, dtype=float)
        for d, ts in zip(
            table.column("drive_id").to_pylist(), table.column("ts").to_pylist(), strict=True
        )
    }


def _decorate(con: duckdb.DuckDBPyConnection, spans: pa.Table) -> pa.Table:
    """Add the vehicle, the event each span overlaps, and the best frame's thumbnail."""
    con.register("_spans", spans)
    frames = has_table(con, "frames")
    query = context_sql(con, "SELECT *, start_s AS t_s FROM _spans")
    # an event overlapping anywhere in the span, not only at its start
    query = query.replace(
        "b.t_s BETWEEN e.start_s AND e.end_s", "e.start_s <= b.end_s AND e.end_s >= b.start_s"
    )
    thumb = "f.thumbnail" if frames else "NULL::BLOB AS thumbnail"
    join = "LEFT JOIN frames f ON f.frame_id = c.frame_id" if frames else ""
    result = con.sql(
        f"SELECT c.drive_id, c.vehicle_id, c.start_s, c.end_s, c.score, c.matches, c.frame_id, "
        f"c.source, c.text, c.event_id, c.event_type, c.severity, {thumb} "
        f"FROM ({query}) c {join} "
        "QUALIFY row_number() OVER (PARTITION BY c.drive_id, c.start_s, c.frame_id "
        "ORDER BY c.event_id NULLS LAST) = 1 ORDER BY c.score DESC, c.drive_id, c.start_s"
    ).to_arrow_table()
    con.unregister("_spans")
    return result


def search(
    lake: Lake,
    text: str | None = None,
    *,
    like: str | None = None,
    where: str | None = None,
    k: int = 20,
    model: str | None = None,
    detections: bool = False,
    gap_s: float | None = None,
) -> pa.Table:
    """Search the lake; returns up to ``k`` time spans (an Arrow table), best first."""
    if not (text or like):
        raise ValueError("search needs words, or like=FRAME_ID")
    con = lake.connect()
    try:
        if detections:
            hits = _detection_hits(con, text or "", model, _allowed_frames(con, where))
        elif like:
            table, spec, revision, vector = _frame_vector(lake, like, model)
            hits = _vector_hits(
                lake,
                table,
                vector,
                spec,
                revision,
                ("frame",),
                _allowed_frames(con, where),
                k * HITS_PER_SPAN,
            )
        else:
            with _load_query_model(con, model) as embedder:
                vector = embedder.embed_texts([text])[0]
                if embedder.task == IMAGE_EMBEDDING:
                    sources, allowed = ("frame",), _allowed_frames(con, where)
                elif embedder.task == TEXT_EMBEDDING:
                    sources, allowed = TEXT_SOURCES, _allowed_texts(con, where)
                else:
                    raise ModelError(f"{embedder.spec}: cannot embed a text query")
                from drivelake.models.tables import embeddings_table

                hits = _vector_hits(
                    lake,
                    embeddings_table(embedder.dim),
                    vector,
                    embedder.spec,
                    embedder.revision,
                    sources,
                    allowed,
                    k * HITS_PER_SPAN,
                )
        drives = sorted(set(hits.column("drive_id").to_pylist()))
        gaps = gap_s if gap_s is not None else spans_mod.drive_gaps(_frame_times(con, drives))
        spans = spans_mod.group_spans(hits, gaps).slice(0, k)
        return _decorate(con, spans)
    finally:
        con.close()
