"""DataLoader samples/s from a snapshot (Lance random access) vs the same JPEGs in a folder (PIL).

Every side decodes each JPEG with PIL to uint8 ``(3, H, W)`` pixels, is shuffled by the same
seeded generator, with the same batch size and the same number of persistent workers
(forkserver). The folder side is the usual loose-files ``Dataset``: one ``open().read()`` and
:func:`~drivelake.curate.torch_dataset.decode_image` per item, batched by ``default_collate``
(which copies and transposes every image into the batch). The snapshot side is
``SnapshotDataset`` as documented: one Lance ``take`` per batch, frames decoded straight into
the batch buffer (``decode_batch``), handed on by ``collate`` without a copy; it also returns
each frame's telemetry window and member id. Two more figures say where the difference comes
from: the folder read through the same batch path (``__getitems__`` reading the files, then
``decode_batch`` and ``collate``), and the snapshot with :class:`GroupedBatchSampler`.

Each loader runs one untimed warm-up epoch (worker start-up, imports, page cache), then
``--epochs`` timed epochs; the loaders take turns ``--repeat`` times and the best rates are
compared (interference on a shared machine only ever slows a run). Beside each rate: the CPU
time per sample of the main process and its workers together, which contention moves less
than it moves the rates.
Target: the snapshot at least as fast as loose files (≥ 1×).

    .venv/bin/python bench/bench_dataloader.py --frames 2000 --workers 2 --epochs 2 --repeat 3
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from _common import report
from _snapshot import build
from drivelake.curate import datasets
from drivelake.curate.torch_dataset import (
    GroupedBatchSampler,
    SnapshotDataset,
    collate,
    decode_batch,
    decode_image,
)


class FolderDataset:
    """Loose JPEG files, one read and one decode per item."""

    def __init__(self, paths: list[Path], labels: list[int]) -> None:
        self.paths, self.labels = paths, labels

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> dict:
        with open(self.paths[i], "rb") as f:
            data = f.read()
        return {"image": decode_image(data), "label": self.labels[i]}


class BatchedFolderDataset(FolderDataset):
    """The same files read a batch at a time through the snapshot's decode path."""

    def __getitems__(self, indices: list[int]) -> list[dict]:
        data = []
        for i in indices:
            with open(self.paths[i], "rb") as f:
                data.append(f.read())
        images = decode_batch(data)
        labels = [self.labels[i] for i in indices]
        return [{"image": im, "label": lb} for im, lb in zip(images, labels, strict=True)]


def loader(dataset, args, *, batched: bool, grouped: bool = False):
    import torch

    common = {
        "num_workers": args.workers,
        "persistent_workers": args.workers > 0,
        "multiprocessing_context": "forkserver" if args.workers else None,
    }
    if batched:
        common["collate_fn"] = collate
    if grouped:
        sampler = GroupedBatchSampler(len(dataset), args.batch, seed=0)
        return torch.utils.data.DataLoader(dataset, batch_sampler=sampler, **common)
    return torch.utils.data.DataLoader(
        dataset,
        batch_size=args.batch,
        shuffle=True,
        generator=torch.Generator().manual_seed(0),
        **common,
    )


def cpu_seconds(data_loader) -> float:
    """CPU time of this process and of the loader's (persistent) workers so far."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = time.process_time()
    for worker in getattr(data_loader._iterator, "_workers", []):
        fields = Path(f"/proc/{worker.pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return total


def rate(data_loader, epochs: int) -> tuple[float, float]:
    """Samples per second, and CPU microseconds per sample (all processes)."""
    cpu, start = cpu_seconds(data_loader), time.perf_counter()
    n = sum(len(b["label"]) for _ in range(epochs) for b in data_loader)
    seconds = time.perf_counter() - start
    return n / seconds, (cpu_seconds(data_loader) - cpu) / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        lake = build(f"{tmp}/lake", args.frames)
        members = datasets(lake)["bench"].members("v1", images=True)
        folder = Path(tmp) / "jpegs"
        folder.mkdir()
        paths = []
        for row in members.select(["member_id", "image"]).to_pylist():
            paths.append(folder / f"{row['member_id']}.jpg")
            paths[-1].write_bytes(row["image"])
        snapshot = SnapshotDataset(lake, "bench@v1")
        labels = [snapshot.labels.index(t or "none") for t in members["event_type"].to_pylist()]
        loaders = {
            "snapshot": loader(snapshot, args, batched=True),
            "folder": loader(FolderDataset(paths, labels), args, batched=False),
            "folder, batch path": loader(BatchedFolderDataset(paths, labels), args, batched=True),
            "snapshot, grouped": loader(snapshot, args, batched=True, grouped=True),
        }
        for data_loader in loaders.values():
            rate(data_loader, 1)  # warm-up: workers start and stay, files are cached
        runs: dict[str, list[tuple[float, float]]] = {name: [] for name in loaders}
        for i in range(args.repeat):
            for name in loaders if i % 2 == 0 else reversed(loaders):
                runs[name].append(rate(loaders[name], args.epochs))
        best = {name: max(r for r, _ in results) for name, results in runs.items()}
        cpu = {name: min(c for _, c in results) for name, results in runs.items()}

        def figure(name: str) -> str:
            rates = ", ".join(f"{r:,.0f}" for r, _ in runs[name])
            return (
                f"{name} {best[name]:,.0f} samples/s ({best[name] / best['folder']:.2f}×; "
                f"runs {rates}; CPU {cpu[name]:,.0f} µs/sample)"
            )

        ratio = best["snapshot"] / best["folder"]
        report(
            f"DataLoader from snapshot, {args.frames} frames, {args.workers} workers, "
            f"batch {args.batch}, best of {args.repeat} × {args.epochs} epochs",
            "; ".join(figure(name) for name in loaders if name != "folder"),
            figure("folder"),
            ratio,
            "≥ 1×",
            ratio >= 1.0,
        )


if __name__ == "__main__":
    main()
