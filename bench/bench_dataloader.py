"""DataLoader samples/s from a snapshot (Lance random access) vs the same JPEGs in a folder (PIL).

Both sides decode the JPEG to a uint8 tensor and return the label, shuffled, with the same
batch size and workers. Target: the snapshot at least as fast as loose files (≥ 1×).

    .venv/bin/python bench/bench_dataloader.py --frames 5000 --workers 4
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from _common import report, timed
from _snapshot import build
from drivelake.curate import datasets
from drivelake.curate.torch_dataset import SnapshotDataset


class FolderDataset:
    def __init__(self, paths: list[Path], labels: list[int]) -> None:
        self.paths, self.labels = paths, labels

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> dict:
        import torch

        image = np.asarray(Image.open(self.paths[i]).convert("RGB"))
        return {"image": torch.from_numpy(image).permute(2, 0, 1), "label": self.labels[i]}


def rate(dataset, workers: int, batch: int) -> float:
    import torch

    loader = torch.utils.data.DataLoader(
        dataset,
        batch_size=batch,
        shuffle=True,
        num_workers=workers,
        multiprocessing_context="forkserver" if workers else None,
        generator=torch.Generator().manual_seed(0),
    )
    seconds, n = timed(lambda: sum(len(b["label"]) for b in loader))
    return n / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--batch", type=int, default=64)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        lake = build(f"{tmp}/lake", args.frames)
        members = datasets(lake)["bench"].members("v1", images=True).to_pylist()
        folder = Path(tmp) / "jpegs"
        folder.mkdir()
        paths = []
        for row in members:
            paths.append(folder / f"{row['member_id']}.jpg")
            paths[-1].write_bytes(row["image"])
        labels = [0 if row["event_type"] is None else 1 for row in members]
        snapshot_rate = rate(SnapshotDataset(lake, "bench@v1"), args.workers, args.batch)
        folder_rate = rate(FolderDataset(paths, labels), args.workers, args.batch)
        ratio = snapshot_rate / folder_rate
        report(
            f"DataLoader from snapshot, {args.frames} frames, {args.workers} workers",
            f"{snapshot_rate:,.0f} samples/s",
            f"PIL from a local folder {folder_rate:,.0f} samples/s",
            ratio,
            "≥ 1×",
            ratio >= 1.0,
        )


if __name__ == "__main__":
    main()
