"""A PyTorch ``Dataset`` over a snapshot's frames, read by row from Lance.

Each item is ``{"image": uint8 tensor (3, H, W), "label": int, "telemetry": float32 tensor
(2, T) of speed (m/s) and horizontal g around the frame, "member_id": str}``. The dataset holds
only the snapshot's URI and version, so it pickles into ``DataLoader`` workers, each of which
opens the table itself (once: use ``persistent_workers=True``). A batch is one Lance ``take``
(``__getitems__``) in row order, not one read per sample, and its frames are decoded straight
into one ``(N, H, W, 3)`` buffer — in shared memory inside a worker — of which each item's image
is a view; :func:`collate` (pass as ``collate_fn=``) hands that buffer on as the batch instead of
copying and transposing every image into a new one, as ``default_collate`` does.
:class:`GroupedBatchSampler` draws batches of rows that lie close together in the table, so each
``take`` reads a few runs of rows rather than scattered ones. torch is imported here only, when
this module is used.
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
    from PIL import Image

    from drivelake.lake import Lake

_COLUMNS = ["member_id", "image", "event_type", "speed_window", "g_window"]


def _rgb(data: bytes | memoryview) -> Image.Image:
    """JPEG (or PNG) bytes decoded by PIL, as an RGB image."""
    from PIL import Image

    image = Image.open(io.BytesIO(data))
    return image if image.mode == "RGB" else image.convert("RGB")


def _pixels(image: Image.Image) -> np.ndarray:
    """An RGB image's pixels as a read-only uint8 ``(H, W, 3)`` view of its packed bytes."""
    return np.frombuffer(image.tobytes(), np.uint8).reshape(image.height, image.width, 3)


def _tensor(image: Image.Image) -> torch.Tensor:
    """An RGB image as a uint8 ``(3, H, W)`` view of a writable copy of its pixels."""
    import torch

    return torch.from_numpy(_pixels(image).copy()).permute(2, 0, 1)


def decode_image(data: bytes | memoryview) -> torch.Tensor:
    """JPEG (or PNG) bytes as a uint8 ``(3, H, W)`` tensor, decoded by PIL.

    The tensor is a channels-first view of the decoded ``(H, W, 3)`` pixels; it owns writable
    memory, so transforms may modify it in place.
    """
    return _tensor(_rgb(data))


def decode_batch(images: Sequence[bytes | memoryview]) -> list[torch.Tensor]:
    """Several frames as uint8 ``(3, H, W)`` tensors, decoded by PIL into one buffer.

    When the frames share a size they are written side by side into one ``(N, H, W, 3)`` buffer
    (allocated in shared memory inside a ``DataLoader`` worker, so that handing the batch to the
    main process copies nothing) and each tensor is a view of it, as :func:`decode_image` returns
    it; :func:`collate` then passes the buffer on as the batch without a copy.
    """
    import torch
    from torch.utils.data import get_worker_info

    decoded = [_rgb(data) for data in images]
    if not decoded or len({image.size for image in decoded}) > 1:
        return [_tensor(image) for image in decoded]
    width, height = decoded[0].size
    shape = (len(decoded), height, width, 3)
    if get_worker_info() is None:
        batch = torch.empty(shape, dtype=torch.uint8)
    else:  # as default_collate does: the batch is born in shared memory, not moved there
        storage = torch.UntypedStorage._new_shared(int(np.prod(shape)))
        batch = torch.empty(0, dtype=torch.uint8).set_(storage).view(shape)
    out = batch.numpy()
    for i, image in enumerate(decoded):
        out[i] = _pixels(image)
    return list(batch.permute(0, 3, 1, 2).unbind())


def _side_by_side(tensors: Sequence[torch.Tensor]) -> torch.Tensor | None:
    """The batch that ``tensors`` already are, as a view, if they lie evenly spaced in one
    buffer (views ``buffer[0]``, ``buffer[1]``, …); otherwise None."""
    import torch

    first = tensors[0]
    if len(tensors) < 2:
        return first.unsqueeze(0)
    step = tensors[1].storage_offset() - first.storage_offset()
    if step < first.numel():  # overlapping (or repeated) tensors are not a batch buffer
        return None
    storage = first.untyped_storage().data_ptr()
    for i, tensor in enumerate(tensors):
        if (
            tensor.untyped_storage().data_ptr() != storage
            or tensor.storage_offset() != first.storage_offset() + i * step
            or tensor.shape != first.shape
            or tensor.stride() != first.stride()
            or tensor.dtype != first.dtype
        ):
            return None
    return torch.as_strided(
        first, (len(tensors), *first.shape), (step, *first.stride()), first.storage_offset()
    )


def collate(samples: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """``default_collate`` for items of :class:`SnapshotDataset`, without copying their images.

    Tensors that lie side by side in one buffer (the images and telemetry windows of a batch
    from ``__getitems__``) are returned as that buffer; anything else goes to
    ``default_collate``. The image batch is therefore ``(N, 3, H, W)`` in channels-last memory
    order (``.contiguous()`` gives the usual layout, for the cost ``default_collate`` pays).
    """
    import torch
    from torch.utils.data import default_collate

    batch: dict[str, Any] = {}
    for key, first in samples[0].items():
        values = [sample[key] for sample in samples]
        stacked = _side_by_side(values) if isinstance(first, torch.Tensor) else None
        batch[key] = default_collate(values) if stacked is None else stacked
    return batch


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
        back = np.empty_like(order)  # row i of the batch is row back[i] of the table
        back[order] = np.arange(len(order))
        windows = _windows(table.column("speed_window"), table.column("g_window"))[back]
        columns = (table.column(c).to_pylist() for c in ("member_id", "event_type", "image"))
        ids, types, data = ([values[j] for j in back] for values in columns)
        labels = [self._label_of[t or "none"] for t in types]
        images = decode_batch(data)
        if self.transform is not None:
            images = [self.transform(image) for image in images]
        return [
            {"image": image, "label": label, "telemetry": window, "member_id": member_id}
            for image, label, window, member_id in zip(
                images, labels, torch.from_numpy(windows).unbind(), ids, strict=True
            )
        ]


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
