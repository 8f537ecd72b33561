"""Named datasets: a versioned table of members plus the recipe that produced them.

Each dataset is one Lance table, ``<lake>/datasets/<name>.lance``, outside the lake's SQL views
(dataset names may hold ``-``). Every curation step rewrites the members as one new version and
appends itself to the **recipe**, a JSON list kept in that version's schema metadata, so the
members and the rules that produced them are versioned together; a snapshot is a Lance tag on
one version (:mod:`.snapshot`).

Members are self-contained: a frame member carries its JPEG bytes, labels, boxes and a
telemetry window, copied from the lake when the member was added. A snapshot therefore never
changes when the lake's ``frames`` table is re-timed or compacted, exports of it are
reproducible to the byte, and training reads one table by row (Lance random access).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from drivelake.errors import InputError, NotFoundError

if TYPE_CHECKING:
    import lance

    from drivelake.lake import Lake

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
RECIPE_KEY = b"drivelake.recipe"

#: Seconds around a frame covered by its telemetry window, and the window's step.
WINDOW_S, WINDOW_STEP_S = 1.0, 0.1

BOX = pa.struct(
    [
        ("label", pa.string()),
        ("score", pa.float32()),
        ("x0", pa.float32()),
        ("y0", pa.float32()),
        ("x1", pa.float32()),
        ("y1", pa.float32()),
    ]
)

MEMBERS = pa.schema(
    [
        pa.field("member_id", pa.string(), nullable=False),  # frame id, event id or drive id
        pa.field("kind", pa.string(), nullable=False),  # frame | span | drive
        pa.field("drive_id", pa.string(), nullable=False),
        pa.field("vehicle_id", pa.string()),
        pa.field("frame_id", pa.string()),
        pa.field("video_id", pa.string()),
        pa.field("t_s", pa.float64()),  # a frame's time on its drive's timeline
        pa.field("start_s", pa.float64()),  # the span a member covers (a frame: its moment)
        pa.field("end_s", pa.float64()),
        pa.field("t_utc", pa.timestamp("ns", tz="UTC")),
        pa.field("event_id", pa.string()),
        pa.field("event_type", pa.string()),  # the label of classification exports
        pa.field("source", pa.string()),  # the recipe step that added it
        pa.field("score", pa.float32()),  # search score, when a search added it
        pa.field("uniqueness", pa.float32()),  # mean distance to nearest neighbours
        pa.field("split", pa.string()),
        pa.field("lat", pa.float64()),
        pa.field("lon", pa.float64()),
        pa.field("speed_mps", pa.float32()),
        pa.field("width", pa.int32()),
        pa.field("height", pa.int32()),
        pa.field("image", pa.binary()),  # JPEG (the frame's thumbnail)
        pa.field("content_sha256", pa.string()),  # of the image, or of the member's identity
        pa.field("speed_window", pa.list_(pa.float32())),  # m/s, t_s ± WINDOW_S
        pa.field("g_window", pa.list_(pa.float32())),  # horizontal g, same times
        pa.field("boxes", pa.list_(BOX)),  # detections on the image, in its pixels
    ]
)

#: Columns without the image bytes: what listings, diffs and manifests read.
META_COLUMNS = [n for n in MEMBERS.names if n != "image"]


def check_name(name: str) -> str:
    if not NAME.match(name):
        raise InputError("dataset", f"{name!r} is not a dataset name (letters, digits, . _ -)")
    return name


def parse_ref(ref: str) -> tuple[str, str | None]:
    """``name@tag`` into (name, tag); a bare name is (name, None), the latest version."""
    name, _, tag = ref.partition("@")
    return check_name(name), tag or None


class Dataset:
    """One named dataset of a lake. Get it with ``drivelake.curate.datasets(lake)[name]``."""

    def __init__(self, lake: Lake, name: str) -> None:
        self.lake = lake
        self.name = check_name(name)
        self.uri = lake.table_uri(f"datasets/{name}")

    def __repr__(self) -> str:
        return f"Dataset({self.name!r}, {self.lake.uri!r})"

    def lance(self, version: int | str | None = None) -> lance.LanceDataset:
        """The members table at a version or tag (the latest without one)."""
        import lance

        try:
            return lance.dataset(self.uri, version=version)
        except (ValueError, OSError) as exc:
            what = f"dataset {self.name!r}" + (f" at {version!r}" if version is not None else "")
            raise NotFoundError(f"no {what} in {self.lake.uri}: {exc}") from exc

    def exists(self) -> bool:
        return self.lake.dataset(f"datasets/{self.name}") is not None

    @property
    def version(self) -> int:
        return self.lance().version

    def members(self, version: int | str | None = None, *, images: bool = False) -> pa.Table:
        """The members at a version or tag, sorted by member id (images only on request)."""
        columns = None if images else META_COLUMNS
        table = self.lance(version).to_table(columns=columns)
        return table.sort_by("member_id")

    def recipe(self, version: int | str | None = None) -> list[dict[str, Any]]:
        """The steps that produced this version, oldest first."""
        metadata = self.lance(version).schema.metadata or {}
        return json.loads(metadata.get(RECIPE_KEY, b"[]"))

    def commit(self, members: pa.Table, step: dict[str, Any], *, create: bool = False) -> int:
        """Write ``members`` as the next version, with ``step`` appended to the recipe."""
        import lance

        if create and self.exists():
            raise InputError("dataset", f"{self.name!r} exists already in {self.lake.uri}")
        recipe = [] if create else self.recipe()
        table = members.select(MEMBERS.names).cast(MEMBERS).sort_by("member_id")
        step = {**step, "members": table.num_rows}
        table = table.replace_schema_metadata(_recipe_metadata([*recipe, step]))
        ds = lance.write_dataset(
            table,
            self.uri,
            mode="create" if create else "overwrite",
            transaction_properties={"message": step["op"]},
        )
        return ds.version

    def add_step(self, step: dict[str, Any]) -> int:
        """Record a step that changed no members (a snapshot note): a metadata-only version."""
        ds = self.lance()
        step = {**step, "members": ds.count_rows()}
        ds.update_schema_metadata(_recipe_metadata([*self.recipe(), step]))
        return self.version


def _recipe_metadata(recipe: list[dict[str, Any]]) -> dict[str, str]:
    return {RECIPE_KEY.decode(): json.dumps(recipe, sort_keys=True)}


class Datasets(Mapping[str, Dataset]):
    """The lake's datasets by name (``drivelake.curate.datasets(lake)``)."""

    def __init__(self, lake: Lake) -> None:
        self.lake = lake

    def __getitem__(self, name: str) -> Dataset:
        ds = Dataset(self.lake, name)
        if not ds.exists():
            raise NotFoundError(
                f"no dataset {name!r} in {self.lake.uri} (datasets: "
                f"{', '.join(self.names()) or 'none'}; create one with `drivelake dataset create`)"
            )
        return ds

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())

    def names(self) -> list[str]:
        from pathlib import Path

        if "://" in self.lake.uri:
            raise NotImplementedError("listing datasets of an object-store lake")
        root = Path(self.lake.uri) / "datasets"
        return sorted(p.name[: -len(".lance")] for p in root.glob("*.lance"))


def datasets(lake: Lake) -> Datasets:
    return Datasets(lake)
