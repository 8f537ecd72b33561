"""Web app load times in headless Chromium: the fleet page at 10,000 drives / 100,000 events, and
two drive pages (15 min at 100 Hz with events; 2 min with a dashcam video).

    .venv/bin/python bench/bench_webapp.py [--drives 10000] [--events 100000] [--fresh 5]
                                           [--runs 3] [--compare OTHER_CHECKOUT/src]

Catalogue and event rows are generated straight into a fresh lake with the project's schemas
(``drives``, ``events`` and ``event_runs``, as a detector run writes them), plus one synthetic drive
ingested and detected for the drive page, and a 2-minute one with a dashcam video (its page opens at
the harsh brake, ready once the video is there). Each page is measured on fresh ``drivelake serve``
processes: one load as soon as a server answers (while it warms its caches in the background:
:mod:`drivelake.server.warmup`); then, once the server says it is warm, ``--fresh`` first loads,
each in a fresh browser profile (nothing cached: what a user opening a link meets), and ``--runs``
loads in one profile (the browser warm). The targets are judged on the worst of those. With
``--compare`` the trees' fresh loads alternate, so both meet the same moments of a noisy machine.
Two clocks: the wall time from ``page.goto`` until Playwright sees the page mark itself usable (the
fleet map drawn with its clusters, counts and histogram; the drive's plots, player (the video at its
start time) and map drawn), which the targets are judged on, and the page's own clock from
navigation to the first frame painted after that mark (without Playwright's polling, which on a
loaded 2-CPU machine adds 0.1-0.5 s).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import report
from test_webapp import CHROMIUM, CHROMIUM_ARGS, ingest_video_drive, serve

FLEET_TARGET_S = 2.0
DRIVE_TARGET_S = 1.0
FLEET_READY = "#fleet-map[data-state=ready] .cluster"
DRIVE_READY = ".page-drive[data-state=ready]"
#: Run in every page from its start: two frames after a page is ready, note the page's clock.
WATCH = (
    f"const ready = {json.dumps([FLEET_READY, DRIVE_READY])};"
    + """
new MutationObserver((_, watch) => {
  if (ready.some((selector) => document.querySelector(selector))) {
    watch.disconnect();
    const note = () => (window.__painted = performance.now());
    requestAnimationFrame(() => requestAnimationFrame(note));
  }
}).observe(document, { subtree: true, childList: true, attributes: true });"""
)
#: Run in every page from its start: signed in with the bench's admin key (about:blank has no
#: storage), so even the first load of a fresh profile opens the page, not the login form.
SIGNED_IN = """
try {{ sessionStorage.setItem("drivelake.key", {key}); }} catch {{}}"""
PAINTED = """async () => {
  while (window.__painted === undefined) await new Promise((r) => setTimeout(r, 10));
  return window.__painted;
}"""


def fleet_lake(root: Path, drives: int, events: int, seed: int = 0):
    """A lake whose catalogue and event tables hold ``drives`` and ``events`` generated rows."""
    import drivelake
    from drivelake import schema
    from drivelake.events import TYPES, detect
    from drivelake.events.store import EVENTS, RUNS
    from drivelake.synth import synth_drive

    lake = drivelake.open(root / "lake")
    real = synth_drive(seed=seed, minutes=15, rate_hz=100)
    real.write_csv(root / "real.csv")
    real_id = lake.ingest([root / "real.csv"], vehicle_id="real-01").drive_ids[0]
    run_id = detect(lake, [real_id])["run_id"]
    video_id = ingest_video_drive(lake, root / "video-drive")

    rng = np.random.default_rng(seed)
    t0 = int(datetime(2024, 1, 1, tzinfo=UTC).timestamp() * 1e9)
    start = t0 + np.sort(rng.integers(0, 180 * 86400, drives)) * 10**9
    duration = rng.uniform(300, 3600, drives)
    lat = 48.137 + rng.normal(0, 0.08, drives)
    lon = 11.575 + rng.normal(0, 0.12, drives)
    ids = [f"gen{i:017d}" for i in range(drives)]
    catalogue = {name: [None] * drives for name in schema.DRIVES.names}
    catalogue |= {
        "drive_id": ids,
        "vehicle_id": [f"veh-{i % 250:03d}" for i in range(drives)],
        "source_format": ["generated"] * drives,
        "start_ns": start.tolist(),
        "end_ns": (start + (duration * 1e9).astype(np.int64)).tolist(),
        "start_utc": pa.array(start, pa.int64()).cast(schema.UTC),
        "end_utc": pa.array(start + (duration * 1e9).astype(np.int64)).cast(schema.UTC),
        "duration_s": duration.tolist(),
        "distance_m": (duration * rng.uniform(5, 15, drives)).tolist(),
        "min_lat": (lat - 0.01).tolist(),
        "max_lat": (lat + 0.01).tolist(),
        "min_lon": (lon - 0.015).tolist(),
        "max_lon": (lon + 0.015).tolist(),
        "synthetic": [True] * drives,
        "ingest_id": [f"bench:{i}" for i in range(drives)],
    }
    lake.append("drives", pa.table(catalogue, schema=schema.DRIVES), message="bench drives")

    owner = rng.integers(0, drives, events)
    at = rng.uniform(0, 1, events) * duration[owner]
    kinds = np.array(TYPES)[rng.integers(0, len(TYPES), events)]
    rows = {name: [None] * events for name in EVENTS.names}
    rows |= {
        "event_id": [f"ev{i:014d}" for i in range(events)],
        "run_id": [run_id] * events,
        "drive_id": [ids[o] for o in owner],
        "type": kinds.tolist(),
        "severity": np.array(["low", "medium", "high"])[rng.integers(0, 3, events)].tolist(),
        "start_s": at.tolist(),
        "end_s": (at + 1.5).tolist(),
        "start_utc_ns": (start[owner] + (at * 1e9).astype(np.int64)).tolist(),
        "peak": rng.uniform(3, 8, events).tolist(),
        "unit": ["m/s^2"] * events,
        "lat": (lat[owner] + rng.normal(0, 0.006, events)).tolist(),
        "lon": (lon[owner] + rng.normal(0, 0.009, events)).tolist(),
    }
    lake.append("events", pa.table(rows, schema=EVENTS), message="bench events")
    runs = {name: [None] * drives for name in RUNS.names}
    runs |= {
        "run_id": [run_id] * drives,
        "drive_id": ids,
        "finished_at": pa.array([datetime.now(UTC)] * drives, RUNS.field("finished_at").type),
    }
    lake.append("event_runs", pa.table(runs, schema=RUNS), message="bench runs")
    from drivelake.share import Sharing

    return lake, (real_id, video_id), Sharing(lake).create_key(admin=True).token


def warmed(base: str, key: str, timeout_s: float = 120) -> float:
    """Wait until the server says its caches are warm; seconds waited. A server from before
    the ``warming`` flag (``--compare``) counts as warm once its fleet index has loaded."""
    start = time.perf_counter()
    headers = {"Authorization": f"Bearer {key}"}
    while time.perf_counter() - start < timeout_s:
        session = httpx.get(base + "/api/app/session", headers=headers, timeout=30).json()
        if "warming" not in session:
            httpx.get(base + "/api/app/fleet", params={"zoom": 3}, headers=headers, timeout=60)
            return time.perf_counter() - start
        if not session["warming"]:
            return time.perf_counter() - start
        time.sleep(0.05)
    raise RuntimeError(f"the server was still warming up after {timeout_s} s")


def server(root: Path, lake_dir: Path, key: str, name: str, warm: bool, src=None):
    """A ``drivelake serve`` for one measurement (from the ``src`` folder when given, else this
    checkout); with ``warm``, returned once it has warmed its caches, else as soon as it answers."""
    proc, base = serve(
        lake_dir, root / f"serve-{name}.log", env={"PYTHONPATH": src} if src else None
    )
    if warm:
        print(f"{name}: server warm {warmed(base, key):.1f} s after answering", file=sys.stderr)
    return proc, base


def loads(p, root: Path, base: str, key: str, page: tuple[str, str], runs: int, name: str):
    """``runs`` loads of one page (its hash and ready selector) in a fresh browser profile (the
    first with nothing in the browser's caches); each as (wall seconds, in-page seconds to
    painted)."""
    page_hash, ready = page
    context = p.chromium.launch_persistent_context(
        str(root / f"profile-{name}-{time.monotonic_ns()}"),
        executable_path=CHROMIUM,
        args=CHROMIUM_ARGS,
        headless=True,
        viewport={"width": 1400, "height": 900},
    )
    try:
        page = context.new_page()
        page.add_init_script(WATCH + SIGNED_IN.format(key=json.dumps(key)))
        out = []
        for _ in range(runs):
            page.goto("about:blank")
            start = time.perf_counter()
            page.goto(f"{base}/#/{page_hash}")
            page.wait_for_selector(ready, timeout=60_000)
            wall = time.perf_counter() - start
            out.append((wall, page.evaluate(PAINTED) / 1000))
    finally:
        context.close()
    return out


def measure(p, root: Path, lake_dir: Path, key: str, page, variants: dict, args) -> dict:
    """Per variant (tree): one load while its server warms up, then, once warm, ``--fresh``
    first loads in fresh browser profiles and ``--runs`` loads in one profile. The variants'
    fresh loads alternate, so a noisy moment on the machine hits them alike."""
    out = {}
    for label, src in variants.items():
        name = f"{page[0].split('/')[0]}-cold"
        proc, base = server(root, lake_dir, key, name, warm=False, src=src)
        try:
            out[label] = {"starting": loads(p, root, base, key, page, 1, name)[0][0]}
        finally:
            proc.terminate()
            proc.wait(10)
    servers = {
        label: server(root, lake_dir, key, f"{page[0].split('/')[0]}-warm", True, src)
        for label, src in variants.items()
    }
    try:
        for label in variants:
            out[label]["first"] = []
        for i in range(args.fresh):
            for label, (_, base) in servers.items():
                out[label]["first"] += loads(p, root, base, key, page, 1, f"fresh{i}")
        for label, (_, base) in servers.items():
            out[label]["warm"] = loads(p, root, base, key, page, args.runs, "warm")
    finally:
        for proc, _ in servers.values():
            proc.terminate()
            proc.wait(10)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--drives", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3, help="loads in one browser profile")
    parser.add_argument(
        "--fresh", type=int, default=5, help="first loads, each in a fresh browser profile"
    )
    parser.add_argument(
        "--compare",
        metavar="SRC",
        help="also serve the app from another checkout's src/ (PYTHONPATH), page by page in "
        "the same run: before/after figures under the same machine load",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        made = time.perf_counter()
        lake, (real_id, video_id), key = fleet_lake(root, args.drives, args.events)
        from drivelake.events import events

        brake_s = events(lake, video_id, "harsh_brake")["start_s"][0].as_py()
        print(
            f"lake: {args.drives:,} drives, {args.events:,} events generated in "
            f"{time.perf_counter() - made:.1f} s",
            file=sys.stderr,
        )
        from playwright.sync_api import sync_playwright

        pages = {
            f"fleet page, {args.drives:,} drives / {args.events:,} events": (
                ("fleet", FLEET_READY),
                FLEET_TARGET_S,
            ),
            "drive page, 15 min at 100 Hz with events": (
                (f"drive/{real_id}", DRIVE_READY),
                DRIVE_TARGET_S,
            ),
            "drive page with video (2 min, 320x192 H.264), opened at its harsh brake": (
                (f"drive/{video_id}?t={brake_s:.1f}", DRIVE_READY),
                DRIVE_TARGET_S,
            ),
        }
        variants = {"": None} | ({f" [{args.compare}]": args.compare} if args.compare else {})
        with sync_playwright() as p:
            for name, (page, target) in pages.items():
                measured = measure(p, root, Path(lake.uri), key, page, variants, args)
                for label, m in measured.items():
                    first = [wall for wall, _ in m["first"]]
                    warm = [wall for wall, _ in m["warm"]]
                    painted = statistics.median(in_page for _, in_page in m["first"])
                    figure = (
                        f"first load in a fresh browser: median {statistics.median(first):.2f} s, "
                        f"worst {max(first):.2f} s of {len(first)} (in page, navigation to "
                        f"painted: median {painted:.2f} s); warm browser: median "
                        f"{statistics.median(warm):.2f} s of {len(warm)}; opened as the server "
                        f"starts: {m['starting']:.2f} s"
                    )
                    worst = max(first + warm)
                    report(
                        name + label,
                        figure,
                        f"target {target:.1f} s",
                        worst / target,
                        f"worst load / target <= 1 (<= {target:.0f} s)",
                        worst <= target,
                    )


if __name__ == "__main__":
    main()
