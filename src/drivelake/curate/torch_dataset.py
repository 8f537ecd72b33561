"""A PyTorch ``Dataset`` over a snapshot's frames, read by row from Lance.

Each item is ``{"image": uint8 tensor (3, H, W), "label": int, "telemetry": float32 tensor
(2, T) of speed (m/s) and horizontal g around the frame, "member_id": str}``. The dataset holds
only the snapshot's URI and version, so it pickles into ``DataLoader`` workers, each of which
opens the table itself; a batch is one Lance ``take`` (``__getitems__``), not one per sample.
torch is imported here only, when this module is used.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow.compute as pc

from drivelake.curate.datasets import datasets, parse_ref
from drivelake.errors import InputError

if TYPE_CHECKING:
    import lance

    from drivelake.lake import Lake

_COLUMNS = ["member_id", "image", "event_type", "speed_window", "g_window"]


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
        from PIL import Image

        rows = self._table().take(self.rows[list(indices)].tolist(), columns=_COLUMNS)
        items = []
        for r in rows.to_pylist():
            image = np.asarray(Image.open(io.BytesIO(r["image"])).convert("RGB"))
            tensor = torch.from_numpy(image).permute(2, 0, 1).contiguous()
            window = np.nan_to_num(np.asarray([r["speed_window"], r["g_window"]], np.float32))
            item = {
                "image": tensor if self.transform is None else self.transform(tensor),
                "label": self.labels.index(r["event_type"] or "none"),
                "telemetry": torch.from_numpy(window),
                "member_id": r["member_id"],
            }
            items.append(item)
        return items
