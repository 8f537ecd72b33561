"""API latency under load: p50/p99 of one endpoint with 32 concurrent clients on loopback.

    .venv/bin/python bench/bench_api.py [--requests 2000] [--clients 32]

Builds a small lake (synthetic CSV drives) in a temporary folder, starts the real server
(uvicorn, one process, the rate limit lifted) in a subprocess, and fetches a frame thumbnail when
the lake has frames, else one drive's detail, through an admin key. Every request goes through
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

SERVE = """
import sys, uvicorn, drivelake
from drivelake.server import ServerConfig, create_app
app = create_app(drivelake.open(sys.argv[1]), ServerConfig(rate_per_s=1e9, burst=10**9))
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="error")
"""


def build_lake(root: Path) -> tuple[str, str]:
    """A lake of a few drives and an admin key; returns (lake path, key)."""
    import drivelake
    from drivelake.share import Sharing

    lake = drivelake.open(root / "lake")
    lake.ingest([write_csv(root / f"d{i}.csv", seed=i, t0=1.7e9 + i * 1e5) for i in range(4)])
    return lake.uri, Sharing(lake).create_key(admin=True).token


def target_path(base: str, headers: dict[str, str]) -> str:
    frames = httpx.get(f"{base}/api/drives", headers=headers).json()
    drive = frames[0]["drive_id"]
    listed = httpx.get(f"{base}/api/drives/{drive}/frames", headers=headers).json()
    if listed and "frame_id" in listed[0]:
        return f"/api/frames/{listed[0]['frame_id']}/thumbnail"
    return f"/api/drives/{drive}"


async def load(base: str, path: str, headers: dict[str, str], n: int, clients: int) -> list[float]:
    latencies: list[float] = []
    queue = iter(range(n))

    async def client(http: httpx.AsyncClient) -> None:
        for _ in queue:
            t0 = time.perf_counter()
            r = await http.get(path)
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
            path = target_path(base, headers)
            asyncio.run(load(base, path, headers, 100, args.clients))  # warm up
            t0 = time.perf_counter()
            lat = np.array(asyncio.run(load(base, path, headers, args.requests, args.clients)))
            wall = time.perf_counter() - t0
        finally:
            server.terminate()
            server.wait(10)
    print(f"endpoint      GET {path.replace(path.split('/')[3], '{id}')}")
    print(f"requests      {args.requests} with {args.clients} concurrent clients")
    print(f"p50 latency   {np.percentile(lat, 50) * 1e3:.1f} ms")
    print(f"p99 latency   {np.percentile(lat, 99) * 1e3:.1f} ms")
    print(f"throughput    {args.requests / wall:.0f} req/s")


if __name__ == "__main__":
    main()
