"""A PyTorch ``Dataset`` over a snapshot's frames, read by row from Lance.

Each item is ``{"image": uint8 tensor (3, H, W), "label": int, "telemetry": float32 tensor
(2, T) of speed (m/s) and horizontal g around the frame, "member_id": str}``. The dataset holds
only the snapshot's URI and version, so it pickles into ``DataLoader`` workers, each of which
opens the table itself (once: use ``persistent_workers=True``); a batch is one Lance ``take``
(``__getitems__``) in row order, not one read per sample. :class:`GroupedBatchSampler` draws
batches of rows that lie close together in the table, so each ``take`` reads a few runs of
rows rather than scattered ones. torch is imported here only, when this module is used.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from drivelake.curate.datasets import WINDOW_S, WINDOW_STEP_S, datasets, parse_ref
from drivelake.errors import InputError

if TYPE_CHECKING:
    import lance
    import torch

    from drivelake.lake import Lake

_COLUMNS = ["member_id", "image", "event_type", "speed_window", "g_window"]


def decode_image(data: bytes | memoryview) -> torch.Tensor:
    """JPEG (or PNG) bytes as a uint8 ``(3, H, W)`` tensor, decoded by PIL.

    The tensor is a channels-first view of the decoded ``(H, W, 3)`` pixels (no copy); it owns
    writable memory, so transforms may modify it in place.
    """
    import torch
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        rgb = image if image.mode == "RGB" else image.convert("RGB")
        pixels = bytearray(rgb.tobytes())
        width, height = rgb.size
    return torch.frombuffer(pixels, dtype=torch.uint8).view(height, width, 3).permute(2, 0, 1)


#: Samples in a telemetry window (t_s ± WINDOW_S every WINDOW_STEP_S).
WINDOW = round(2 * WINDOW_S / WINDOW_STEP_S) + 1


def _window(column: pa.ChunkedArray) -> np.ndarray:
    """A list<float32> column as float32 ``(rows, WINDOW)``, missing values NaN."""
    lists = column.combine_chunks()
    values = lists.flatten().to_numpy(zero_copy_only=False)
    if not lists.null_count and len(values) == len(lists) * WINDOW:
        return values.astype(np.float32, copy=False).reshape(len(lists), WINDOW)
    out = np.full((len(lists), WINDOW), np.nan, np.float32)
    for i, window in enumerate(lists.to_pylist()):
        window = (window or [])[:WINDOW]
        out[i, : len(window)] = np.asarray(window, np.float32)
    return out


def _windows(speed: pa.ChunkedArray, g: pa.ChunkedArray) -> np.ndarray:
    """The telemetry windows of a batch as float32 ``(rows, 2, WINDOW)``, NaN as 0."""
    return np.nan_to_num(np.stack([_window(speed), _window(g)], axis=1))


class SnapshotDataset:
    """Frames of snapshot ``ref`` (``name@tag``), optionally of one split."""

    def __init__(
        self,
        lake: Lake,
        ref: str,
        *,
        split: str | None = None,
        transform: Callable[[Any], Any] | None = None,
    ) -> None:
        name, tag = parse_ref(ref)
        if tag is None:
            raise InputError("dataset", f"{ref!r}: train from a snapshot, name@tag")
        dataset = datasets(lake)[name]
        self.uri = dataset.uri
        self.version = int(dataset.lance(tag).version)
        table = dataset.lance(self.version).to_table(columns=["kind", "split", "event_type"])
        mask = pc.equal(table.column("kind"), "frame")
        if split is not None:
            mask = pc.and_(mask, pc.equal(table.column("split"), split))
        self.rows = np.flatnonzero(mask.to_numpy(zero_copy_only=False))
        self.labels = sorted({t or "none" for t in table.column("event_type").to_pylist()})
        self._label_of = {label: i for i, label in enumerate(self.labels)}
        self.transform = transform
        self._lance: lance.LanceDataset | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_lance": None}  # each worker opens its own handle

    def __len__(self) -> int:
        return len(self.rows)

    def _table(self) -> lance.LanceDataset:
        if self._lance is None:
            import lance

            self._lance = lance.dataset(self.uri, version=self.version)
        return self._lance

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.__getitems__([index])[0]

    def __getitems__(self, indices: Sequence[int]) -> list[dict[str, Any]]:
        import torch

        wanted = self.rows[np.asarray(indices, dtype=np.int64)]
        order = np.argsort(wanted, kind="stable")  # Lance reads rows best in table order
        table = self._table().take(wanted[order].tolist(), columns=_COLUMNS)
        back = np.empty_like(order)
        back[order] = np.arange(len(order))
        table = table.take(pa.array(back))
        windows = torch.from_numpy(_windows(table.column("speed_window"), table.column("g_window")))
        ids = table.column("member_id").to_pylist()
        labels = [self._label_of[t or "none"] for t in table.column("event_type").to_pylist()]
        items = []
        for i, data in enumerate(table.column("image").to_pylist()):
            image = decode_image(data)
            items.append(
                {
                    "image": image if self.transform is None else self.transform(image),
                    "label": labels[i],
                    "telemetry": windows[i],
                    "member_id": ids[i],
                }
            )
        return items


class GroupedBatchSampler:
    """Shuffled batches whose indices come from a few runs of neighbouring rows.

    The indices are cut into runs of ``run`` consecutive ones; each epoch the runs are
    shuffled, and each window of ``batch_size`` // ``run`` × ``mix`` runs is shuffled together
    and cut into batches. A batch therefore holds samples from several places of the dataset
    (every run is equally likely anywhere in the epoch) while its ``take`` reads a few
    contiguous stretches. ``run=1`` is a plain shuffle. Pass as ``batch_sampler=``.
    """

    def __init__(
        self, size: int, batch_size: int, *, run: int = 8, mix: int = 4, seed: int = 0
    ) -> None:
        self.size, self.batch_size, self.run, self.mix = size, batch_size, max(run, 1), mix
        self.seed, self.epoch = seed, 0

    def __len__(self) -> int:
        return -(-self.size // self.batch_size)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[list[int]]:
        rng = np.random.default_rng([self.seed, self.epoch])
        self.epoch += 1
        starts = rng.permutation(np.arange(0, self.size, self.run))
        runs = [np.arange(s, min(s + self.run, self.size)) for s in starts]
        per_window = max(self.batch_size // self.run, 1) * self.mix
        order = []
        for lo in range(0, len(runs), per_window):
            window = np.concatenate(runs[lo : lo + per_window])
            order.append(rng.permutation(window))
        flat = np.concatenate(order) if order else np.empty(0, np.int64)
        for lo in range(0, len(flat), self.batch_size):
            yield flat[lo : lo + self.batch_size].tolist()
