"""The Lake: one root folder (or object-store URI) of versioned Lance tables, queried with SQL.

Commit protocol. A drive becomes visible only when its row lands in ``drives``. Its samples are
written first, to ``signals``, tagged with a fresh ``ingest_id``; the catalogue row that names
that ``ingest_id`` is committed last. Readers (the Python API, the SQL views) only see signal
rows whose (drive_id, ingest_id) pair is in the catalogue, so a crash mid-ingest leaves
invisible orphans that :meth:`Lake.sweep_orphans` deletes later. Two processes racing to ingest
the same drive both write samples, but only one catalogue row wins (merge-insert on
``drive_id``); the loser deletes its own samples.
"""

from __future__ import annotations

import functools
import json
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from drivelake import schema
from drivelake.errors import NotFoundError, StoreError

if TYPE_CHECKING:
    import duckdb
    import lance

    from drivelake.curate.datasets import Datasets
    from drivelake.ingest import IngestOptions, IngestReport, IngestResult

DEFAULT_LAKE = "./drivelake-lake"

# Lance logs "creating dataset" warnings on stderr; the CLI reports what matters itself.
os.environ.setdefault("LANCE_LOG", "error")


#: The ``signals`` SQL view: committed drives' rows, channels decoded (zigzag, step) to SI floats.
#: (stored block, logical stream) pairs: a shared block's rows are a row of each member.
_BLOCK_MEMBERS = [(st, st) for st in schema.STREAM_CHANNELS] + [
    (block, member) for block, members in schema.SHARED_BLOCKS.items() for member in members
]


def _view_channel(channel: str) -> str:
    """SQL for one named channel of the ``signals`` view: its slot in the block, decoded."""
    kind = "DOUBLE" if channel in schema.DOUBLE_CHANNELS else "FLOAT"
    cases = " ".join(
        f"WHEN s.stream = '{block}' AND m.stream = '{stream}' THEN (CASE WHEN s.{slot} % 2 = 0 "
        f"THEN s.{slot} // 2 ELSE -((s.{slot}::BIGINT + 1) // 2) END)"
        for block, stream in _BLOCK_MEMBERS
        if channel in schema.STREAM_CHANNELS[stream] and (slot := schema.slot_of(block, channel))
    )
    step = schema.CHANNEL_STEPS[channel]
    return f"CAST((CASE {cases} END) * {step!r} AS {kind}) AS {channel}"


#: The ``signals`` SQL view: committed drives' samples, one row per stream and time, with named
#: channels as SI floats (blocks, slots and integer steps are storage details).
_SIGNALS_VIEW = (
    "SELECT s.drive_id, m.stream, d.start_ns + CAST(s.t_off_ns AS BIGINT) AS t_ns, "
    + ", ".join(_view_channel(c) for c in schema.CHANNELS)
    + " FROM _signals_stored s JOIN (VALUES "
    + ", ".join(f"('{block}', '{stream}')" for block, stream in _BLOCK_MEMBERS)
    + ") m(block, stream) ON s.stream = m.block JOIN drives d"
    " ON s.drive_id = d.drive_id AND s.ingest_id = d.ingest_id"
)


#: Tables a detector run writes (:mod:`drivelake.events.store`), one set of rows per run.
_PER_RUN = ("events", "roughness", "event_coverage")
#: A per-run table's rows of the runs in ``runs`` (rows without a finished run are not shown).
_RUN_ROWS = (
    "SELECT t.* FROM _{table}_stored t SEMI JOIN ({runs}) r "
    "ON t.drive_id = r.drive_id AND t.run_id = r.run_id"
)
#: Every finished run of every drive.
_FINISHED_RUNS = "SELECT drive_id, run_id FROM event_runs"
#: Each drive's most recent finished run.
_LATEST_RUNS = (
    "SELECT drive_id, arg_max(run_id, finished_at) AS run_id FROM event_runs GROUP BY drive_id"
)


def open(uri: str | os.PathLike[str] | None = None, *, create: bool = True) -> Lake:
    """Open the lake at ``uri`` (a folder or an object-store URI), creating it if needed.

    Without ``uri``, ``$DRIVELAKE_LAKE`` or ``./drivelake-lake`` is used.
    """
    uri = str(uri or os.environ.get("DRIVELAKE_LAKE") or DEFAULT_LAKE)
    if "://" not in uri:
        path = Path(uri)
        if path.exists() and not path.is_dir():
            raise StoreError(f"{uri}: not a folder, cannot hold a lake")
        if not path.exists():
            if not create:
                raise NotFoundError(f"{uri}: no lake here (run `drivelake ingest` to create one)")
            path.mkdir(parents=True)
        uri = str(path.resolve())
    return Lake(uri)


def new_ingest_id() -> str:
    """Ids that say who wrote them, so orphans of a live process are never swept."""
    return f"{socket.gethostname()}:{os.getpid()}:{time.time_ns()}:{uuid.uuid4().hex[:8]}"


class Lake:
    """A drivelake lake. Create with :func:`drivelake.open`."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        #: the catalogue as of one version, kept while that is still the latest (lookups by id)
        self._catalogue: tuple[int, pa.Table] | None = None

    def __repr__(self) -> str:
        return f"Lake({self.uri!r})"

    # ------------------------------------------------------------------ tables

    def table_uri(self, name: str) -> str:
        return f"{self.uri.rstrip('/')}/{name}.lance"

    def dataset(self, name: str) -> lance.LanceDataset | None:
        """The latest version of a table, or None if it was never written."""
        import lance

        try:
            return lance.dataset(self.table_uri(name))
        except (ValueError, OSError) as exc:
            if "not found" in str(exc).lower() or "does not exist" in str(exc).lower():
                return None
            raise StoreError(f"{self.table_uri(name)}: cannot open table: {exc}") from exc

    def table_names(self) -> list[str]:
        if "://" in self.uri:
            return [n for n in schema.TABLES if self.dataset(n) is not None]
        return sorted(p.name[: -len(".lance")] for p in Path(self.uri).glob("*.lance"))

    def append(self, name: str, data: pa.Table, *, message: str = "") -> int:
        """Append rows to a table as one new version, creating the table first if needed.

        Creation happens under the commit lock: two writers racing to create a table would
        otherwise each write a first version, and one of them would be lost.
        """
        target = schema.TABLES.get(name, data.schema)
        data = data.select(target.names).cast(target) if name in schema.TABLES else data
        if self.dataset(name) is None:
            with self.lock(name):
                if self.dataset(name) is None:
                    return self._write(name, data, target, "create", message)
        return self._write(name, data, target, "append", message)

    def _write(self, name: str, data: pa.Table, target: pa.Schema, mode: str, message: str) -> int:
        import lance

        try:
            ds = lance.write_dataset(
                data,
                self.table_uri(name),
                schema=target,
                mode=mode,
                max_rows_per_file=4 << 20,
                transaction_properties={"message": message} if message else None,
            )
        except OSError as exc:
            raise StoreError(f"{self.table_uri(name)}: write failed: {exc}") from exc
        return ds.version

    def _create_if_missing(self, name: str, target: pa.Schema) -> None:
        """Write a table's empty first version; callers hold the commit lock."""
        if self.dataset(name) is None:
            self._write(name, target.empty_table(), target, "create", f"create {name}")

    def append_fragments(self, name: str, data: pa.Table, *, message: str = "") -> list[int]:
        """Append rows as fragments of their own; return the fragment ids, in row order.

        The ids let a reader go straight to these rows later (see ``signal_fragments``).
        Concurrent appends are fine: Lance rebases them, and ids are found by data file.
        """
        import lance
        from lance.fragment import write_fragments

        target = schema.TABLES[name]
        data = data.select(target.names).cast(target)
        if self.dataset(name) is None:
            with self.lock(name):
                self._create_if_missing(name, target)
        uri = self.table_uri(name)
        written = write_fragments(data, uri, schema=target, max_rows_per_file=4 << 20)
        read_version = lance.dataset(uri).version
        try:
            ds = lance.LanceDataset.commit(
                uri,
                lance.LanceOperation.Append(written),
                read_version=read_version,
                commit_message=message or None,
            )
        except OSError as exc:
            raise StoreError(f"{uri}: write failed: {exc}") from exc
        wanted = {f.files[0].path: i for i, f in enumerate(written)}
        ids = [0] * len(written)
        for fragment in reversed(ds.get_fragments()):
            path = fragment.metadata.files[0].path
            if path in wanted:
                ids[wanted.pop(path)] = fragment.fragment_id
                if not wanted:
                    break
        return ids

    def insert_new(self, name: str, data: pa.Table, key: str, *, message: str = "") -> int:
        """Insert rows whose ``key`` is not in the table yet; return how many were inserted.

        The check and the insert happen under the lake's commit lock (a file lock for local
        lakes), so concurrent writers never duplicate a key. Object stores have no file locks:
        there Lance's merge-insert does the check, which is safe for one writer per key.
        """
        data = data.select(schema.TABLES[name].names).cast(schema.TABLES[name])
        with self.lock(name):
            self._create_if_missing(name, schema.TABLES[name])
            ds = self.dataset(name)
            if "://" not in self.uri:
                keys = data.column(key).to_pylist()
                listed = ", ".join(f"'{_quote(k)}'" for k in keys)
                present = set(
                    ds.to_table(columns=[key], filter=f"{key} IN ({listed})")
                    .column(key)
                    .to_pylist()
                )
                fresh = data.filter(pa.array([k not in present for k in keys]))
                if fresh.num_rows:
                    self.append(name, fresh, message=message)
                return fresh.num_rows
            result = ds.merge_insert(key).when_not_matched_insert_all().execute(data)
            return int(result.get("num_inserted_rows", 0))

    @contextmanager
    def lock(self, name: str) -> Iterator[None]:
        """Hold the lake-wide lock ``name`` (other processes on this machine wait for it).

        A local lake only: an object store has no shared lock, and there Lance's own commit
        conflict detection is what keeps concurrent writers apart.
        """
        if "://" in self.uri:
            yield
            return
        import fcntl

        lock_dir = Path(self.uri) / "_locks"
        lock_dir.mkdir(exist_ok=True)
        with (lock_dir / f"{name}.lock").open("a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def delete(self, name: str, predicate: str) -> None:
        ds = self.dataset(name)
        if ds is not None:
            ds.delete(predicate)

    # ------------------------------------------------------------------ reading

    def drives(self, where: str | None = None, columns: Sequence[str] | None = None) -> pa.Table:
        """The catalogue: one row per committed drive (an Arrow table)."""
        ds = self.dataset("drives")
        if ds is None:
            return schema.DRIVES.empty_table()
        return ds.to_table(filter=where, columns=list(columns) if columns else None)

    def resolve_drive_id(self, drive_id: str) -> str:
        """Accept a unique prefix of a drive id, as git does for commits."""
        return self._drive_row(drive_id, ["drive_id"])["drive_id"]

    def _drive_row(self, drive_id: str, columns: list[str] | None = None) -> dict[str, Any]:
        """The catalogue row of a drive id or of a unique prefix of one.

        Lookups read an in-memory copy of the catalogue that is refreshed whenever ``drives``
        has a newer version, so a server or a loop over drives pays one scan per version.
        """
        ds = self.dataset("drives")
        if ds is None:
            raise NotFoundError(f"no drive {drive_id!r} in {self.uri}")
        cached = self._catalogue
        if cached is None or cached[0] != ds.version:
            cached = self._catalogue = (ds.version, ds.to_table())
        table = cached[1]
        found = table.filter(pc.starts_with(table["drive_id"], drive_id))
        if columns:
            found = found.select(sorted({"drive_id", *columns}))
        rows = found.to_pylist()
        exact = [r for r in rows if r["drive_id"] == drive_id]
        matches = exact or rows
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise NotFoundError(f"no drive {drive_id!r} in {self.uri}")
        raise NotFoundError(f"drive id prefix {drive_id!r} is ambiguous ({len(matches)} drives)")

    def drive(self, drive_id: str) -> dict[str, Any]:
        """One drive's catalogue row as a dict (``drive_id`` may be a unique prefix)."""
        row = self._drive_row(drive_id)
        row["metadata"] = json.loads(row.pop("metadata_json") or "{}")
        return row

    def signals(
        self,
        drive_id: str,
        streams: Iterable[str] | None = None,
        columns: Sequence[str] | None = None,
    ) -> pa.Table:
        """A drive's samples, sorted by stream then time: ``stream``, ``t_ns`` and channels.

        Without ``columns``, the channels meaningful for the streams read come (a drive with
        only IMU data does not pay for the empty GNSS and CAN columns). Channels are floats in
        SI units.
        """
        out, batches = self._signal_batches(drive_id, streams, columns)
        return pa.Table.from_batches(batches, schema=out) if batches else out.empty_table()

    def _signal_batches(
        self, drive_id: str, streams: Iterable[str] | None, columns: Sequence[str] | None
    ) -> tuple[pa.Schema, list[pa.RecordBatch]]:
        """:meth:`signals` as its schema and batches, each batch one stream's rows in time."""
        drive = self._drive_row(
            drive_id, ["ingest_id", "start_ns", "streams", "signal_fragments", "signal_blocks"]
        )
        wanted = list(streams) if streams is not None else drive["streams"]
        if columns is None:
            meaningful = {c for s in wanted for c in schema.STREAM_CHANNELS.get(s, schema.CHANNELS)}
            columns = [c for c in schema.CHANNELS if c in meaningful]
        channels = [c for c in columns if c in schema.CHANNEL_STEPS]
        out = pa.schema([schema.SAMPLES.field(n) for n in ("stream", "t_ns", *channels)])
        ds = self.dataset("signals")
        if ds is None:
            return out, []
        plans = self._stream_reads(ds, drive, wanted, channels)
        if plans is None:  # the drive's fragments were compacted away since: scan instead
            return out, self._scan_streams(ds, drive, wanted, channels)
        # streams read and decode in parallel (Lance and NumPy release the GIL)
        return out, list(_io_pool().map(lambda plan: _read_planned(plan, out), plans))

    def _stream_reads(
        self, ds: lance.LanceDataset, drive: dict[str, Any], streams: list[str], channels: list[str]
    ) -> list[_StreamRead] | None:
        """Where each wanted stream's rows are in the drive's fragments (None: not there now).

        Each stream reads only the slots of its own channels of ``channels``.
        """
        fragments = [ds.get_fragment(i) for i in drive["signal_fragments"] or []]
        if not fragments or any(f is None for f in fragments):
            return None
        bounds = np.cumsum([0] + [f.metadata.physical_rows for f in fragments])
        plans, first = [], 0
        for block in drive["signal_blocks"]:  # rows are stored in this order
            lo, hi = first, first + block["rows"]
            first = hi
            for stream in _members(block["block"]):
                if stream not in streams:
                    continue
                parts = [
                    (f, int(max(lo, f_lo) - f_lo), int(min(hi, f_hi) - max(lo, f_lo)))
                    for f, f_lo, f_hi in zip(fragments, bounds[:-1], bounds[1:], strict=True)
                    if max(lo, f_lo) < min(hi, f_hi)
                ]
                mine = [c for c in channels if c in schema.STREAM_CHANNELS.get(stream, ())]
                columns = ["t_off_ns", *_slots_of(block["block"], mine)]
                plans.append(_StreamRead(stream, block["block"], drive["start_ns"], parts, columns))
        return sorted(plans, key=lambda p: p.stream)

    def _scan_streams(
        self, ds: lance.LanceDataset, drive: dict[str, Any], streams: list[str], channels: list[str]
    ) -> list[pa.RecordBatch]:
        """The filtered-scan way to the same samples (when fragment ids no longer hold)."""
        blocks = {b["block"] for b in drive["signal_blocks"]}
        table = ds.to_table(
            columns=["stream", "t_off_ns", *(f"v{i}" for i in range(schema.VALUE_SLOTS))],
            filter=f"drive_id = '{_quote(drive['drive_id'])}' AND ingest_id = "
            f"'{drive['ingest_id']}'",
        )
        out = pa.schema([schema.SAMPLES.field(n) for n in ("stream", "t_ns", *channels)])
        return [
            _decode(
                stream,
                table.filter(pc.equal(table["stream"], block)),
                out,
                block,
                drive["start_ns"],
            )
            for block in sorted(blocks)
            for stream in _members(block)
            if stream in streams
        ]

    def stream(self, drive_id: str, stream: str) -> pa.Table | None:
        """One stream of a drive with only its meaningful channels, or None if absent."""
        return self.streams(drive_id, [stream])[stream]

    def streams(self, drive_id: str, names: Sequence[str]) -> dict[str, pa.Table | None]:
        """Several streams of a drive, each as :meth:`stream` gives it, from one read."""
        out, batches = self._signal_batches(drive_id, names, None)
        found: dict[str, pa.Table | None] = {}
        for name in names:
            mine = [b for b in batches if len(b) and b.column(0)[0].as_py() == name]
            cols = ["stream", "t_ns", *schema.STREAM_CHANNELS.get(name, schema.CHANNELS)]
            keep = [c for c in cols if c in out.names]
            found[name] = pa.Table.from_batches(mine, schema=out).select(keep) if mine else None
        return found

    # ------------------------------------------------------------------ later stages
    # Thin doors to the stage modules (imported on use, so `import drivelake` stays light).

    def detect(self, drive_ids: list[str] | None = None, **options: Any) -> dict[str, Any]:
        """Detect driving events; see :func:`drivelake.events.detect`."""
        from drivelake.events import detect

        return detect(self, drive_ids, **options)

    def events(self, drive_id: str | None = None, **filters: Any) -> pa.Table:
        """Detected events (``type=``, ``run_id=``); see :func:`drivelake.events.events`."""
        from drivelake.events import events

        return events(self, drive_id, **filters)

    def search(self, text: str | None = None, **options: Any) -> pa.Table:
        """Search frames by words, example and SQL; see :func:`drivelake.search.search`."""
        from drivelake.search import search

        return search(self, text, **options)

    @property
    def datasets(self) -> Datasets:
        """The curated datasets by name: ``lake.datasets["night-brakes"]``."""
        from drivelake.curate.datasets import datasets

        return datasets(self)

    # ------------------------------------------------------------------ SQL

    def connect(self) -> duckdb.DuckDBPyConnection:
        """A DuckDB connection with every table of the lake as a view of the same name.

        ``signals`` shows only rows of committed drives, with channels as floats in SI units.
        ``events``, ``roughness`` and ``event_coverage`` show each drive's latest committed
        detector run (a run with another config is kept apart, not mixed in); ``events_all``,
        ``roughness_all`` and ``event_coverage_all`` show every committed run, with its
        ``run_id``. A lake with no ``event_runs`` (events imported
        from elsewhere) shows them as stored.
        """
        import duckdb

        con = duckdb.connect()
        names = self.table_names()
        views = []
        for name in names:
            ds = self.dataset(name)
            if ds is None:
                continue
            if name == "signals" and "drives" in names:
                con.register("_signals_stored", ds)
                views.append(f"CREATE VIEW signals AS {_SIGNALS_VIEW}")
            elif name in _PER_RUN and "event_runs" in names:
                con.register(f"_{name}_stored", ds)
                for view, runs in ((f"{name}_all", _FINISHED_RUNS), (name, _LATEST_RUNS)):
                    views.append(f"CREATE VIEW {view} AS {_RUN_ROWS.format(table=name, runs=runs)}")
            else:
                con.register(name, ds)
        for view in views:  # once every table they read is registered
            con.execute(view)
        return con

    def sql(self, query: str) -> pa.Table:
        """Run a SQL query (DuckDB dialect) over the lake's tables; returns an Arrow table."""
        import duckdb

        con = self.connect()
        try:
            result = con.sql(query)
            return result.to_arrow_table() if result is not None else pa.table({})
        except duckdb.Error as exc:
            raise StoreError(f"SQL error: {str(exc).splitlines()[0]}") from exc
        finally:
            con.close()

    # ------------------------------------------------------------------ versions

    def versions(self, table: str | None = None) -> pa.Table:
        """Every version of every table (or one table): number, time, rows and message."""
        rows = []
        for name in [table] if table else self.table_names():
            ds = self.dataset(name)
            if ds is None:
                raise NotFoundError(f"no table {name!r} in {self.uri}")
            messages = {}
            try:
                for tx in ds.get_transactions():
                    if tx is not None:
                        props = tx.transaction_properties or {}
                        messages[tx.read_version + 1] = props.get(
                            "message", type(tx.operation).__name__
                        )
            except Exception:  # transaction files may be cleaned up; messages are optional
                pass
            for v in ds.versions():
                rows.append(
                    {
                        "table": name,
                        "version": v["version"],
                        "timestamp": v["timestamp"],
                        "rows": int(v["metadata"].get("total_rows", 0)),
                        "message": messages.get(v["version"], ""),
                    }
                )
        return pa.Table.from_pylist(
            rows,
            schema=pa.schema(
                [
                    ("table", pa.string()),
                    ("version", pa.int64()),
                    ("timestamp", pa.timestamp("us")),
                    ("rows", pa.int64()),
                    ("message", pa.string()),
                ]
            ),
        )

    # ------------------------------------------------------------------ user interactions

    def tag(
        self,
        drive_id: str,
        text: str,
        *,
        kind: str = "tag",
        t_s: float | None = None,
        author: str | None = None,
    ) -> str:
        """Attach a tag or a note to a drive (optionally at a moment in it); returns its id."""
        if kind not in ("tag", "note"):
            raise ValueError(f"kind must be 'tag' or 'note', not {kind!r}")
        drive_id = self.resolve_drive_id(drive_id)
        tag_id = uuid.uuid4().hex[:16]
        row = {
            "tag_id": tag_id,
            "drive_id": drive_id,
            "kind": kind,
            "text": text,
            "t_s": t_s,
            "author": author or os.environ.get("USER"),
            "created_at": datetime.now(UTC),
        }
        self.append("tags", pa.Table.from_pylist([row], schema=schema.TAGS), message=f"{kind}")
        return tag_id

    def tags(self, drive_id: str | None = None) -> pa.Table:
        ds = self.dataset("tags")
        if ds is None:
            return schema.TAGS.empty_table()
        where = f"drive_id = '{_quote(self.resolve_drive_id(drive_id))}'" if drive_id else None
        return ds.to_table(filter=where)

    # ------------------------------------------------------------------ ingest

    def ingest(
        self,
        paths: Sequence[str | os.PathLike[str]],
        options: IngestOptions | None = None,
        *,
        on_result: Callable[[IngestResult], None] | None = None,
        on_discovered: Callable[[int], None] | None = None,
        **fields: Any,
    ) -> IngestReport:
        """Ingest files and folders; see :class:`drivelake.ingest.IngestOptions`.

        Options come as an object or as its fields: ``lake.ingest(paths, vehicle_id="van-17",
        jobs=2)``.
        """
        from drivelake.ingest import IngestOptions, ingest_paths

        options = options or IngestOptions(**fields)
        return ingest_paths(self, paths, options, on_result=on_result, on_discovered=on_discovered)

    def compact_catalogue(self, max_fragments: int = 16) -> bool:
        """Rewrite ``drives`` into few files once appends have left many small ones.

        Every ingest appends one catalogue row as its own fragment; thousands of them would
        make each drive lookup pay per fragment. Runs under the commit lock.
        """
        ds = self.dataset("drives")
        if ds is None or len(ds.get_fragments()) <= max_fragments:
            return False
        with self.lock("drives"):
            self.dataset("drives").optimize.compact_files()
        return True

    def sweep_orphans(self) -> int:
        """Delete sample rows of ingests that never committed and whose writer is gone.

        Every committed drive names its fragments, so only the others need a look: each such
        fragment holds one ingest's rows, and its first row says whose.
        """
        drives = self.drives(columns=["ingest_id", "signal_fragments"])
        committed = set(drives.column("ingest_id").to_pylist())
        owned = {i for ids in drives.column("signal_fragments").to_pylist() for i in ids or []}
        ds = self.dataset("signals")
        if ds is None:
            return 0
        dead = set()
        for fragment in ds.get_fragments():
            if fragment.fragment_id in owned:
                continue
            first = fragment.to_table(columns=["ingest_id"], limit=1).column("ingest_id")
            for ingest_id in first.to_pylist():
                if ingest_id not in committed and not _writer_alive(ingest_id):
                    dead.add(ingest_id)
        if dead:
            ds.delete("ingest_id IN ({})".format(", ".join(f"'{i}'" for i in sorted(dead))))
        return len(dead)


def _quote(value: str) -> str:
    return value.replace("'", "''")


def _writer_alive(ingest_id: str, max_age_s: float = 6 * 3600) -> bool:
    """Whether the process that wrote ``ingest_id`` may still be running."""
    try:
        host, pid, started_ns, _ = ingest_id.split(":")
    except ValueError:
        return False
    if host != socket.gethostname():
        return time.time() - int(started_ns) / 1e9 < max_age_s
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return int(pid) != os.getpid()


def _members(block: str) -> tuple[str, ...]:
    return schema.SHARED_BLOCKS.get(block, (block,))


def _slots_of(block: str, channels: list[str]) -> list[str]:
    """The stored value slots holding ``channels`` in rows of ``block``."""
    return [slot for c in channels if (slot := schema.slot_of(block, c))]


def _decode(
    stream: str, rows: pa.Table, out: pa.Schema, block: str, start_ns: int
) -> pa.RecordBatch:
    """Stored rows of one stream (in ``block``) as samples: slots back to named SI floats."""
    n = rows.num_rows
    t_ns = rows["t_off_ns"].combine_chunks().to_numpy().view(np.int64) + start_ns
    arrays = [pa.repeat(pa.scalar(stream, pa.string()), n), pa.array(t_ns, pa.int64())]
    for field in out:
        if field.name not in schema.CHANNEL_STEPS:
            continue
        own = field.name in schema.STREAM_CHANNELS.get(stream, ())
        slot = schema.slot_of(block, field.name) if own else None
        if slot is None or slot not in rows.column_names:
            arrays.append(pa.nulls(n, field.type))
            continue
        stored = rows[slot].combine_chunks()
        zigzag = stored.fill_null(0).to_numpy() if stored.null_count else stored.to_numpy()
        values = _unzigzag_scaled(zigzag, schema.CHANNEL_STEPS[field.name], field.type)
        mask = stored.is_null().to_numpy(zero_copy_only=False) if stored.null_count else None
        arrays.append(pa.array(values, field.type, mask=mask))
    return pa.RecordBatch.from_arrays(arrays, schema=out)


def _unzigzag_scaled(zigzag: np.ndarray, step: float, kind: pa.DataType) -> np.ndarray:
    """Zigzag-coded steps to floats, in place where possible (this is the hot loop of a load).

    The product is computed in float64 and rounded once to the output type: the float nearest
    the true value, the same as the SQL view gives.
    """
    one = np.uint32(1)
    ints = np.right_shift(zigzag, one)
    sign = np.bitwise_and(zigzag, one)
    np.negative(sign, out=sign)
    np.bitwise_xor(ints, sign, out=ints)
    values = np.empty(len(zigzag), kind.to_pandas_dtype())
    np.multiply(ints.view(np.int32), np.float64(step), out=values, casting="unsafe")
    return values


@dataclass(frozen=True)
class _StreamRead:
    """One stream's rows of a drive: (fragment, offset, count) runs and the columns to read."""

    stream: str
    block: str
    start_ns: int
    parts: list[tuple[Any, int, int]]
    columns: list[str]


def _read_planned(plan: _StreamRead, out: pa.Schema) -> pa.RecordBatch:
    rows = pa.concat_tables(
        [f.to_table(columns=plan.columns, offset=o, limit=n) for f, o, n in plan.parts]
    )
    return _decode(plan.stream, rows, out, plan.block, plan.start_ns)


@functools.cache
def _io_pool() -> ThreadPoolExecutor:
    """Threads for reading a drive's streams side by side (one pool per process)."""
    return ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2))
