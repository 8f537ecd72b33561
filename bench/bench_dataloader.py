"""DataLoader samples/s from a snapshot (Lance random access) vs the same JPEGs in a folder (PIL).

Both sides decode with the same function (:func:`drivelake.curate.torch_dataset.decode_image`:
PIL, to a uint8 ``(3, H, W)`` tensor) and return the label, shuffled by the same seeded
generator, with the same batch size and the same number of persistent workers (forkserver).
The snapshot side also returns each frame's telemetry window and member id; the folder side
reads each file with one ``open().read()``. Each loader runs one untimed warm-up epoch (worker
start-up, imports, page cache), then ``--epochs`` timed epochs; the sides alternate
``--repeat`` times and the best rates are compared (interference on a shared machine only ever
slows a run). A third figure uses :class:`GroupedBatchSampler` (batches from runs of
neighbouring rows). Target: the snapshot at least as fast as loose files (≥ 1×).

    .venv/bin/python bench/bench_dataloader.py --frames 2000 --workers 2 --epochs 2 --repeat 3
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from _common import report, timed
from _snapshot import build
from drivelake.curate import datasets
from drivelake.curate.torch_dataset import GroupedBatchSampler, SnapshotDataset, decode_image


class FolderDataset:
    def __init__(self, paths: list[Path], labels: list[int]) -> None:
        self.paths, self.labels = paths, labels

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> dict:
        with open(self.paths[i], "rb") as f:
            data = f.read()
        return {"image": decode_image(data), "label": self.labels[i]}


def loader(dataset, args, *, grouped: bool = False):
    import torch

    common = {
        "num_workers": args.workers,
        "persistent_workers": args.workers > 0,
        "multiprocessing_context": "forkserver" if args.workers else None,
    }
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


def rate(data_loader, epochs: int) -> float:
    def epoch() -> int:
        return sum(len(b["label"]) for b in data_loader)

    seconds, n = timed(lambda: sum(epoch() for _ in range(epochs)))
    return n / seconds


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
            "snapshot": loader(snapshot, args),
            "folder": loader(FolderDataset(paths, labels), args),
            "grouped": loader(snapshot, args, grouped=True),
        }
        for data_loader in loaders.values():
            rate(data_loader, 1)  # warm-up: workers start and stay, files are cached
        rates: dict[str, list[float]] = {name: [] for name in loaders}
        for i in range(args.repeat):
            for name in loaders if i % 2 == 0 else reversed(loaders):
                rates[name].append(rate(loaders[name], args.epochs))
        best = {name: max(r) for name, r in rates.items()}
        ratio = best["snapshot"] / best["folder"]

        def runs(name: str) -> str:
            return ", ".join(f"{r:,.0f}" for r in rates[name])

        report(
            f"DataLoader from snapshot, {args.frames} frames, {args.workers} workers, "
            f"batch {args.batch}, best of {args.repeat} × {args.epochs} epochs",
            f"{best['snapshot']:,.0f} samples/s (runs {runs('snapshot')}); grouped batches "
            f"{best['grouped']:,.0f} samples/s ({best['grouped'] / best['folder']:.2f}×; "
            f"runs {runs('grouped')})",
            f"PIL from a local folder {best['folder']:,.0f} samples/s (runs {runs('folder')})",
            ratio,
            "≥ 1×",
            ratio >= 1.0,
        )


if __name__ == "__main__":
    main()
