"""The HTTP API on a real uvicorn server: keys, shares, licences, columns, zones, limits, audit."""

from __future__ import annotations

import math
import time
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest

from csvgen import write_csv
from live_server import live_server

pytest.importorskip("fastapi")

from drivelake.server import ServerConfig, create_app
from drivelake.share import Sharing

LICENSED = ["duration_s", "distance_m", "speed_mps", "lat", "lon"]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A lake of two drives, shared with acme and globex, served on a free loopback port."""
    import drivelake

    root = tmp_path_factory.mktemp("server")
    lake = drivelake.open(root / "lake")
    report = lake.ingest([write_csv(root / "a.csv"), write_csv(root / "b.csv", seed=1, t0=1.8e9)])
    a, b = sorted(r.drive_id for r in report.results)
    sharing = Sharing(lake)
    for name in ("acme", "globex"):
        sharing.add_partner(name, f"ops@{name}.example")
    common = dict(uses=["research"], expires=date(2099, 1, 1), columns=LICENSED)
    acme = sharing.create_share("brakes@v1", partner="acme", selection=f"drive_id='{a}'", **common)
    globex = sharing.create_share(
        "other@v1", partner="globex", selection=f"drive_id='{b}'", **common
    )
    expired = sharing.create_share(
        "old@v1",
        partner="acme",
        selection=f"drive_id='{a}'",
        **{**common, "expires": date.today() - timedelta(days=1)},
    )
    keys = {
        "admin": sharing.create_key(admin=True),
        "acme": sharing.create_key(partner="acme"),
        "globex": sharing.create_key(partner="globex"),
        "revoked": sharing.create_key(partner="acme"),
    }
    sharing.revoke_key(keys["revoked"].key_id)
    config = ServerConfig(rate_per_s=10_000, burst=10_000, max_body_bytes=64 << 10)
    with live_server(create_app(lake, config)) as base:
        yield {
            "base": base,
            "lake": lake,
            "sharing": sharing,
            "drives": (a, b),
            "shares": {"acme": acme, "globex": globex, "expired": expired},
            "keys": {k: v.token for k, v in keys.items()},
        }


def get(world, path: str, who: str | None = None, **kw) -> httpx.Response:
    headers = {"Authorization": f"Bearer {world['keys'][who]}"} if who else {}
    return httpx.get(world["base"] + path, headers=headers, timeout=10, **kw)


def test_keys_are_required_and_revocable(world):
    r = get(world, "/api/drives")
    assert r.status_code == 401 and "API key" in r.json()["error"]
    assert get(world, "/api/drives", "revoked").status_code == 401
    r = httpx.get(world["base"] + "/api/drives", headers={"X-API-Key": world["keys"]["admin"]})
    assert r.status_code == 200 and len(r.json()) == 2
    assert get(world, "/api/drives", "acme").status_code == 403


def test_partner_sees_only_its_share(world):
    acme, globex = world["shares"]["acme"], world["shares"]["globex"]
    r = get(world, "/api/shares", "acme")
    assert [s["share_id"] for s in r.json()] == [acme.share_id, world["shares"]["expired"].share_id]
    r = get(world, f"/api/shares/{globex.share_id}/drives", "acme")
    assert r.status_code == 404 and "error" in r.json()
    other_drive = world["drives"][1]
    r = get(world, f"/api/shares/{acme.share_id}/drives/{other_drive}/signals", "acme")
    assert r.status_code == 404


def test_expired_licence_is_forbidden(world):
    r = get(world, f"/api/shares/{world['shares']['expired'].share_id}/drives", "acme")
    assert r.status_code == 403 and "expired" in r.json()["error"]


def test_columns_outside_the_licence_never_appear(world):
    share = world["shares"]["acme"]
    drive = world["drives"][0]
    drives = get(world, f"/api/shares/{share.share_id}/drives", "acme").json()
    assert len(drives) == 1
    allowed = {"drive_id", "vehicle", "stream", "t_s", *LICENSED}
    assert set(drives[0]) <= allowed and "vehicle_id" not in drives[0]
    signals = get(world, f"/api/shares/{share.share_id}/drives/{drive}/signals", "acme").json()
    assert signals and all(set(row) <= allowed for row in signals)
    assert not any("ax" in row or "az" in row for row in signals)
    admin = get(world, f"/api/drives/{drive}/signals", "admin").json()
    assert any("az" in row for row in admin)


def test_location_zones_applied_for_partners(world):
    share, drive = world["shares"]["acme"], world["drives"][0]
    raw = world["lake"].stream(drive, "gnss").to_pylist()
    ends = [(raw[0]["lat"], raw[0]["lon"]), (raw[-1]["lat"], raw[-1]["lon"])]
    rows = get(world, f"/api/shares/{share.share_id}/drives/{drive}/signals", "acme").json()
    shown = [(r["lat"], r["lon"]) for r in rows if r.get("lat") is not None]
    for lat, lon in shown:  # nothing within 50 m of where the drive started or ended
        for elat, elon in ends:
            dy = (lat - elat) * 111_320
            dx = (lon - elon) * 111_320 * math.cos(math.radians(elat))
            assert math.hypot(dx, dy) > 50
    bounds = get(world, f"/api/shares/{share.share_id}/drives/{drive}", "acme").json()
    assert "min_lat" not in bounds


@pytest.mark.parametrize(
    "path",
    [
        "/api/drives/..%2F..%2F_share%2Fsecret",
        "/api/frames/..%2F_share%2Fsecret/thumbnail",
        "/api/shares/..%2F..%2Fetc%2Fpasswd/drives",
        "/api/drives/%2e%2e/signals",
        "/../_share/secret",
        "/static/..%2F..%2F_share%2Fsecret",
    ],
)
def test_path_traversal_is_refused(world, path):
    r = httpx.get(world["base"] + path, headers={"X-API-Key": world["keys"]["admin"]}, timeout=10)
    assert 400 <= r.status_code < 500
    secret = (world["sharing"].audit.path.parent / "secret").read_text().strip()
    assert secret not in r.text


def test_errors_are_json_and_bodies_limited(world):
    r = httpx.post(
        world["base"] + "/api/partners",
        headers={"X-API-Key": world["keys"]["admin"]},
        content=b"x" * (128 << 10),
        timeout=10,
    )
    assert r.status_code == 413 and "limit" in r.json()["error"]
    r = httpx.post(
        world["base"] + "/api/partners",
        headers={"X-API-Key": world["keys"]["admin"]},
        json={"name": "Bad Name!"},
        timeout=10,
    )
    assert r.status_code == 422 and r.json()["error"].startswith("invalid request")
    r = get(world, "/api/drives/ffffffff", "admin")
    assert r.status_code == 404 and "Traceback" not in r.text


def test_rate_limit_per_key(world):
    from fastapi.testclient import TestClient

    app = create_app(world["lake"], ServerConfig(rate_per_s=1, burst=3))
    with TestClient(app) as client:
        codes = [
            client.get("/api/shares", headers={"X-API-Key": world["keys"]["acme"]}).status_code
            for _ in range(6)
        ]
    assert codes[:3] == [200] * 3 and codes[-1] == 429


def test_every_request_is_audited(world):
    before = world["sharing"].audit.verify().entries
    get(world, "/api/drives")
    get(world, f"/api/shares/{world['shares']['globex'].share_id}/drives", "acme")
    get(world, f"/api/shares/{world['shares']['expired'].share_id}/drives", "acme")
    entries = list(world["sharing"].audit.entries())[before:]
    assert [e["status"] for e in entries] == [401, 404, 403]
    assert entries[1]["partner"] == "acme" and entries[0]["actor"] is None
    audit = get(world, "/api/audit", "admin").json()
    assert audit[0]["path"] == f"/api/shares/{world['shares']['expired'].share_id}/drives"
    assert get(world, "/api/audit/verify", "admin").json()["ok"] is True


def test_only_api_requests_are_audited(world):
    """The page and its assets would bury the real entries; every /api request is recorded."""
    before = world["sharing"].audit.verify().entries
    for path in ("/", "/index.html", "/app.css", "/js/app.js", "/favicon.ico", "/static/x.js"):
        httpx.get(world["base"] + path, timeout=10)
    get(world, "/api/shares", "acme")
    get(world, "/api/nothing-here")
    entries = list(world["sharing"].audit.entries())[before:]
    assert [(e["path"], e["status"]) for e in entries] == [
        ("/api/shares", 200),
        ("/api/nothing-here", 404),
    ]


def test_errors_name_the_thing_not_the_lake_path(world, caplog):
    """Not-found errors say what is missing; the lake's place on disk stays in the server log."""
    import logging

    lake_dir = str(Path(world["lake"].uri).resolve())
    acme = world["shares"]["acme"].share_id
    missing = {
        "/api/drives/0123456789abcdef": "0123456789abcdef",
        "/api/drives/0123456789abcdef/plot": "0123456789abcdef",
        "/api/frames/nosuchframe/thumbnail": "nosuchframe",
        "/api/datasets/nosuchset": "nosuchset",
        f"/api/shares/{acme}/drives/nosuchdrive": "nosuchdrive",
    }
    with caplog.at_level(logging.INFO, logger="drivelake.server"):
        for path, thing in missing.items():
            r = get(world, path, "admin")
            assert r.status_code == 404 and thing in r.json()["error"], (path, r.text)
            assert lake_dir not in r.text and str(Path(lake_dir).parent) not in r.text, r.text
    assert lake_dir in caplog.text


def test_openapi_has_no_server_errors(world):
    schemathesis = pytest.importorskip("schemathesis")
    schema = schemathesis.openapi.from_url(world["base"] + "/openapi.json")
    headers = {"X-API-Key": world["keys"]["admin"]}
    started = time.monotonic()
    for operation in schema.get_all_operations():
        _no_server_errors(operation.ok(), world["base"], headers)()
    assert time.monotonic() - started < 60


def _no_server_errors(operation, base_url: str, headers: dict[str, str]):
    """A bounded hypothesis test of one operation: a few generated requests, none a 5xx."""
    from hypothesis import HealthCheck, Phase, given, settings
    from schemathesis.checks import not_a_server_error

    @settings(
        max_examples=6,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
        derandomize=True,
    )
    @given(case=operation.as_strategy())
    def check(case) -> None:
        case.call_and_validate(base_url=base_url, headers=headers, checks=[not_a_server_error])

    return check


def _finished_bundle(world, share_id: str, who: str, status: dict) -> dict:
    """Poll a share's bundle job until it is no longer running (two minutes at most)."""
    deadline = time.monotonic() + 120
    while status["status"] == "running":
        assert time.monotonic() < deadline, "the bundle was not written in time"
        time.sleep(0.2)
        status = get(world, f"/api/shares/{share_id}/bundle", who).json()
    return status


def test_partner_downloads_its_signed_bundle(world, tmp_path):
    import io
    import tarfile

    from drivelake.share.bundle import verify_bundle

    acme, globex = world["shares"]["acme"].share_id, world["shares"]["globex"].share_id
    headers = {"X-API-Key": world["keys"]["acme"]}
    assert get(world, f"/api/shares/{globex}/bundle", "globex").status_code == 404
    r = httpx.post(f"{world['base']}/api/shares/{globex}/bundle", headers=headers, timeout=10)
    assert r.status_code == 404 and "error" in r.json()
    assert get(world, f"/api/shares/{globex}/bundle", "globex").status_code == 404
    r = httpx.post(f"{world['base']}/api/shares/{acme}/bundle", headers=headers, timeout=10)
    assert r.status_code == 202 and r.json()["status"] in ("running", "ready"), r.text
    job = r.json()["job_id"]
    status = _finished_bundle(world, acme, "acme", r.json())
    assert status["status"] == "ready" and status["job_id"] == job, status
    assert get(world, f"/api/shares/{acme}/bundle/download", "globex").status_code == 404
    r = get(world, f"/api/shares/{acme}/bundle/download", "acme")
    assert r.status_code == 200 and r.headers["content-type"] == "application/x-tar"
    with tarfile.open(fileobj=io.BytesIO(r.content)) as tar:
        tar.extractall(tmp_path, filter="data")
    bundle = tmp_path / f"{acme}-bundle"
    secret = world["sharing"].secret
    assert verify_bundle(bundle, secret) == []
    assert set(status["manifest"]["files"]) == {
        p.relative_to(bundle).as_posix() for p in bundle.rglob("*.parquet")
    }
    data = bytearray((bundle / "drives.parquet").read_bytes())
    data[len(data) // 2] ^= 0x01
    (bundle / "drives.parquet").write_bytes(bytes(data))
    assert verify_bundle(bundle, secret) == ["drives.parquet: content changed"]
    entries = list(world["sharing"].audit.entries())
    acme_key = world["keys"]["acme"].split("_")[1]
    export = next(e for e in entries if e["action"] == "share.export" and e["share"] == acme)
    download = next(e for e in entries if e["action"] == "share.download")
    assert export["actor"] == download["actor"] == acme_key
    assert download["manifest_sha256"] == export["manifest_sha256"] == status["manifest_sha256"]


def test_drive_plots_are_cached_until_the_lake_changes(tmp_path, monkeypatch):
    """One read per (audience, drive, table versions, width step); an ingest makes new keys;
    beyond its bound the least recently used plot goes."""
    import json

    import drivelake
    from drivelake.server import plot_cache
    from drivelake.share.views import LakeView, PartnerView

    made = []
    plot_data = plot_cache.plot_data
    monkeypatch.setattr(plot_cache, "plot_data", lambda *a: made.append(a[1:]) or plot_data(*a))
    lake = drivelake.open(tmp_path / "lake")
    a, b = sorted(lake.ingest([write_csv(tmp_path / f"{s}.csv", seed=s) for s in (0, 1)]).drive_ids)
    sharing = Sharing(lake)
    sharing.add_partner("acme")
    share = sharing.create_share(
        "p@v1",
        partner="acme",
        uses=["x"],
        expires=date(2099, 1, 1),
        columns=["speed_mps"],
        selection="true",
    )
    admin, partner = LakeView(lake), PartnerView(lake, share, sharing.secret)
    cache = plot_cache.PlotCache(lake)
    body = cache.get(admin, a, 1000)
    assert cache.get(admin, a, 1000) is body and cache.get(admin, a, 800) is body  # 768 px
    assert json.loads(body) == plot_data(admin, a, 768)
    assert (
        json.loads(cache.get(partner, a, 1000))["streams"].keys()
        < json.loads(body)["streams"].keys()
    )
    assert made == [(a, 768), (a, 768)]
    lake.ingest([write_csv(tmp_path / "c.csv", seed=2, t0=1.9e9)])
    assert cache.get(admin, a, 1000) == body and len(made) == 3  # new versions, read again
    small = plot_cache.PlotCache(lake, max_bytes=len(body) + 1)
    small.get(admin, a, 1000), small.get(admin, b, 1000), small.get(admin, a, 1000)
    assert made[-3:] == [(a, 768), (b, 768), (a, 768)]  # a was dropped for b


#: A process that starts a share's bundle job and hangs inside it, to be killed mid-bundle.
_HANGING_BUNDLE = """
import sys, threading
import drivelake
from drivelake.share import Sharing, bundle_jobs

def hang(*args, **kwargs):
    print("writing", flush=True)
    threading.Event().wait()

bundle_jobs.export_bundle = hang
sharing = Sharing(drivelake.open(sys.argv[1]))
sharing.bundles.start(sys.argv[2], sharing.authenticate(sys.argv[3]))
threading.Event().wait()
"""


def test_bundle_jobs_survive_a_restart(world):
    """A bundle job cut off by its server's death reads as interrupted (not running forever);
    started again it finishes, and a new server still offers that ready bundle."""
    import subprocess
    import sys

    globex = world["shares"]["globex"].share_id
    lake = world["lake"]
    args = [sys.executable, "-c", _HANGING_BUNDLE, lake.uri, globex, world["keys"]["globex"]]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "writing"
    finally:
        proc.kill()  # SIGKILL mid-bundle: no chance to tidy up
        proc.wait(10)
    cut = get(world, f"/api/shares/{globex}/bundle", "globex").json()
    assert cut["status"] == "interrupted" and "start it again" in cut["error"], cut
    assert cut["finished_at"] is None
    headers = {"X-API-Key": world["keys"]["globex"]}
    r = httpx.post(f"{world['base']}/api/shares/{globex}/bundle", headers=headers, timeout=10)
    assert r.status_code == 202 and r.json()["job_id"] != cut["job_id"], r.text
    ready = _finished_bundle(world, globex, "globex", r.json())
    assert ready["status"] == "ready" and ready["done"] == ready["total"] == 1, ready
    with live_server(create_app(lake)) as base:  # a new server: a new owner of the jobs
        again = httpx.get(f"{base}/api/shares/{globex}/bundle", headers=headers, timeout=10)
        assert again.json() == ready
        download = httpx.get(f"{base}/api/shares/{globex}/bundle/download", headers=headers)
        assert (
            download.status_code == 200 and download.headers["content-type"] == "application/x-tar"
        )
    bundles = Path(lake.uri) / "_share" / "bundles" / globex
    assert [p.name for p in bundles.iterdir()] == [ready["job_id"]]  # the cut-off one is gone


def test_partner_plots_an_earth_frame_drive_in_the_vehicle_frame(tmp_path):
    """trip21 is recorded in an Earth frame; the share's plot turns it like the admin's."""
    import csv

    import numpy as np

    import drivelake
    from conftest import shared

    trip = shared("phone-imu", "trip21")
    lake = drivelake.open(tmp_path / "lake")
    (drive,) = lake.ingest([trip]).drive_ids
    lake.detect([drive])
    sharing = Sharing(lake)
    sharing.add_partner("acme")
    share = sharing.create_share(
        "trip@v1", partner="acme", uses=["research"], expires=date(2099, 1, 1), selection="true"
    )
    keys = {
        who: sharing.create_key(**kw).token
        for who, kw in [("admin", {"admin": True}), ("acme", {"partner": "acme"})]
    }
    with live_server(create_app(lake)) as base:
        plots = {
            who: httpx.get(
                f"{base}/api{path}/drives/{drive}/plot?width=4000",
                headers={"X-API-Key": keys[who]},
                timeout=60,
            ).json()
            for who, path in [("admin", ""), ("acme", f"/shares/{share.share_id}")]
        }
    assert plots["acme"]["frame"]["name"] == "vehicle" and plots["acme"]["frame"]["calibrated"]
    assert plots["acme"] == plots["admin"]
    accel = {k: np.array(v, dtype=float) for k, v in plots["acme"]["streams"]["accel"].items()}
    assert 9.0 < np.nanmedian(accel["az"]) < 10.5, "z is up"
    with (trip / "groundTruth.csv").open() as fh:
        labels = [(r[0], float(r[1]), float(r[2])) for r in list(csv.reader(fh))[1:]]

    def forward(kind: str) -> float:  # mean forward acceleration over the labelled manoeuvres
        spans = [(a, b) for k, a, b in labels if k == kind]
        inside = np.any([(accel["t_s"] >= a) & (accel["t_s"] <= b) for a, b in spans], axis=0)
        return float(np.nanmean(accel["ax"][inside]))

    assert forward("freada_agressiva") < -0.3 and forward("aceleracao_agressiva") > 0.3
