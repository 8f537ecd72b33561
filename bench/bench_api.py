"""API latency under load: p50/p99 of a frame thumbnail with 32 concurrent clients on loopback.

    .venv/bin/python bench/bench_api.py [--requests 2000] [--clients 32]

Builds a small lake in a temporary folder — drives of synthetic telemetry, each with a 720p
dashcam video from the project's own generator (:mod:`drivelake.video.synth`), whose frames the
ingest samples (1 per second) into the ``frames`` table — starts the real server (uvicorn, one
process, the rate limit lifted) in a subprocess, and fetches ``GET /api/frames/{id}/thumbnail``
through an admin key, cycling over every sampled frame. Every request goes through
authentication, the limits and the audit log, as in production.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from csvgen import write_csv

#: The server, wrapped in an outermost layer that times each request inside the process (from
#: the app receiving it to its last body byte) and hands the times out at ``/__timings``: the
#: client's latency less these is time spent queued outside the app (sockets, event loops,
#: the load generator itself).
SERVE = """
import json, sys, time, uvicorn, drivelake
from drivelake.server import ServerConfig, create_app
app = create_app(drivelake.open(sys.argv[1]), ServerConfig(rate_per_s=1e9, burst=10**9))
times = []

async def timed(scope, receive, send):
    if scope["type"] != "http":
        return await app(scope, receive, send)
    if scope["path"] == "/__timings":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": json.dumps(times).encode()})
        times.clear()
        return
    start = time.perf_counter()

    async def timed_send(message):
        await send(message)
        if message["type"] == "http.response.body" and not message.get("more_body"):
            times.append(time.perf_counter() - start)

    await app(scope, receive, timed_send)

uvicorn.run(timed, host="127.0.0.1", port=int(sys.argv[2]), log_level="error")
"""


def build_lake(root: Path, drives: int = 4, seconds: int = 10) -> tuple[str, str]:
    """A lake of drives with video and sampled frames, and an admin key: (lake path, key)."""
    import drivelake
    from drivelake.share import Sharing
    from drivelake.video.synth import write_synthetic_video

    for i in range(drives):
        folder = root / f"drive{i}"
        write_csv(folder / "log.csv", seed=i, t0=1.7e9 + i * 1e5, n=seconds * 50, rate_hz=50.0)
        write_synthetic_video(folder / "cam.mp4", seconds=seconds, width=1280, height=720, seed=i)
    lake = drivelake.open(root / "lake")
    report = lake.ingest([root / f"drive{i}" for i in range(drives)])
    assert report.ok, report.results
    return lake.uri, Sharing(lake).create_key(admin=True).token


def frame_paths(lake: str) -> list[str]:
    """The thumbnail path of every sampled frame (the lake must have some)."""
    import drivelake

    frames = drivelake.open(lake).sql("SELECT frame_id FROM frames ORDER BY frame_id")
    assert frames.num_rows, "the ingest sampled no frames: nothing to benchmark"
    return [f"/api/frames/{f}/thumbnail" for f in frames["frame_id"].to_pylist()]


async def load(
    base: str, paths: list[str], headers: dict[str, str], n: int, clients: int
) -> list[float]:
    latencies: list[float] = []
    queue = iter(range(n))

    async def client(http: httpx.AsyncClient) -> None:
        for i in queue:
            t0 = time.perf_counter()
            r = await http.get(paths[i % len(paths)])
            latencies.append(time.perf_counter() - t0)
            r.raise_for_status()

    limits = httpx.Limits(max_connections=clients)
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits) as http:
        await asyncio.gather(*(client(http) for _ in range(clients)))
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=32)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        lake, key = build_lake(Path(tmp))
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        server = subprocess.Popen([sys.executable, "-c", SERVE, lake, str(port)])
        try:
            base, headers = f"http://127.0.0.1:{port}", {"X-API-Key": key}
            for _ in range(200):
                try:
                    httpx.get(base + "/", timeout=1)
                    break
                except httpx.TransportError:
                    time.sleep(0.05)
            paths = frame_paths(lake)
            asyncio.run(load(base, paths, headers, 100, args.clients))  # warm up
            httpx.get(base + "/__timings")
            t0, cpu0 = time.perf_counter(), time.process_time()
            lat = np.array(asyncio.run(load(base, paths, headers, args.requests, args.clients)))
            wall, client_cpu = time.perf_counter() - t0, time.process_time() - cpu0
            inside = np.array(httpx.get(base + "/__timings").json())
        finally:
            server.terminate()
            server.wait(10)
    print(f"endpoint      GET /api/frames/{{id}}/thumbnail ({len(paths)} frames, in turn)")
    print(f"requests      {args.requests} with {args.clients} concurrent clients")
    print(f"p50 latency   {np.percentile(lat, 50) * 1e3:.1f} ms")
    print(f"p99 latency   {np.percentile(lat, 99) * 1e3:.1f} ms")
    print(f"throughput    {args.requests / wall:.0f} req/s")
    print(
        f"in the server  p50 {np.percentile(inside, 50) * 1e3:.1f} ms, "
        f"p99 {np.percentile(inside, 99) * 1e3:.1f} ms (app received -> last byte sent)"
    )
    print(f"load generator {client_cpu / wall:.0%} of a core (same machine)")


if __name__ == "__main__":
    main()
