"""The web app end to end: a real ``drivelake serve`` over a small lake, in headless Chromium.

The lake: ``drivelake demo --drives 3`` plus one synthetic drive whose folder holds its telemetry
CSV and a generated MP4 of the same length (sampled by the video stage on ingest), with events
detected on it, shared with the partner ``acme``; when the models extra is installed its frames
are embedded by a tiny CLIP (random weights, ``tests/model_builders.py``) for "more like this".
API-level checks (clusters, range requests, signed media links) run without a browser; the
browser tests need Debian's Chromium at /usr/bin/chromium and the ``playwright`` package (CI
installs both) and write a screenshot of every page to ``test-artifacts/``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import httpx
import numpy as np
import pytest

pytest.importorskip("fastapi")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
BIN = Path(sys.executable).parent / "drivelake"
VIDEO_VEHICLE = "cam-01"
FPS = 10


@dataclass
class World:
    lake_dir: Path
    video_drive: str
    demo_drives: list[str]
    share_id: str
    admin_key: str
    partner_key: str
    embedded: bool


def ingest_video_drive(lake, folder: Path) -> str:
    """A 2-minute synthetic drive (a harsh brake and a turn) with its 320x192 H.264 dashcam
    video, ingested as vehicle ``VIDEO_VEHICLE`` and detected; its drive id."""
    from drivelake.events import detect
    from drivelake.synth import synth_drive
    from drivelake.video.synth import write_synthetic_video

    drive = synth_drive(seed=7, minutes=2.0, rate_hz=50, harsh=["harsh_brake", "harsh_turn"])
    folder.mkdir(parents=True)
    drive.write_csv(folder / "trip.csv")
    n = round(drive.duration_s * FPS)
    speed = np.interp(np.arange(n) / FPS, drive.t_s, drive.speed_mps)
    write_synthetic_video(
        folder / "trip.mp4",
        seconds=n / FPS,
        fps=FPS,
        width=320,
        height=192,
        gop=FPS,
        speed_px=speed / 2,
    )
    report = lake.ingest([folder], vehicle_id=VIDEO_VEHICLE)
    assert report.ok, report.results
    detect(lake, report.drive_ids)
    return report.drive_ids[0]


def build(root: Path, demo_drives: int = 3) -> World:
    import drivelake
    from drivelake.share import Sharing
    from drivelake.video.stage import process_drive

    lake_dir = root / "lake"
    subprocess.run(
        [BIN, "--lake", lake_dir, "demo", "--drives", str(demo_drives), "--out", root / "fleet"],
        check=True,
        capture_output=True,
    )
    lake = drivelake.open(lake_dir)
    video_drive = ingest_video_drive(lake, root / "video-drive")
    process_drive(lake, video_drive)  # denser frames around the events just found
    embedded = embed_frames(lake, root / "clip")
    sharing = Sharing(lake)
    sharing.add_partner("acme", "ops@acme.example")
    share = sharing.create_share(
        "brakes@v1",
        partner="acme",
        selection=f"drive_id = '{video_drive}'",
        uses=["research"],
        expires=date(2099, 1, 1),
        anonymise=[],
    )
    demo = [d for d in lake.drives(columns=["drive_id"])["drive_id"].to_pylist()]
    return World(
        lake_dir=lake_dir,
        video_drive=video_drive,
        demo_drives=[d for d in demo if d != video_drive],
        share_id=share.share_id,
        admin_key=sharing.create_key(admin=True).token,
        partner_key=sharing.create_key(partner="acme").token,
        embedded=embedded,
    )


def embed_frames(lake, folder: Path) -> bool:
    """Frame embeddings from a tiny CLIP, through the real enrich stage (needs the models extra)."""
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError:
        return False
    from drivelake.models.enrich import enrich
    from model_builders import tiny_clip

    return enrich(lake, str(tiny_clip(folder))).outputs > 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(lake_dir: Path, log: Path, env: dict[str, str] | None = None):
    """``drivelake serve`` on a free loopback port (``env``: more environment variables);
    returns the process and its base URL."""
    port = free_port()
    proc = subprocess.Popen(
        [BIN, "--lake", lake_dir, "serve", "--host", "127.0.0.1", "--port", str(port)],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        env={**os.environ, "DRIVELAKE_TILE_URL": "", **(env or {})},
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"drivelake serve exited: {log.read_text()[-2000:]}")
        try:
            httpx.get(base + "/", timeout=1)
            return proc, base
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("drivelake serve did not start within 30 s")


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return build(tmp_path_factory.mktemp("webapp"))


@pytest.fixture(scope="module")
def server(world, tmp_path_factory):
    proc, base = serve(world.lake_dir, tmp_path_factory.mktemp("log") / "serve.log")
    yield base
    proc.terminate()
    proc.wait(10)


def open_lake(world):
    import drivelake

    return drivelake.open(world.lake_dir)


def api(server, world, path, key=None, **kw):
    headers = {"Authorization": f"Bearer {key or world.admin_key}", **kw.pop("headers", {})}
    return httpx.get(server + path, headers=headers, timeout=10, **kw)


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium; .ci/run does)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    ARTIFACTS.mkdir(exist_ok=True)
    profile = tempfile.mkdtemp(prefix="drivelake-chromium-")
    with sync_api.sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": 1400, "height": 900},
        )
        yield context
        context.close()
    shutil.rmtree(profile, ignore_errors=True)


def signed_in(browser, server, key):
    """A fresh page signed in with ``key``; page errors fail the test."""
    page = browser.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(server + "/")
    page.fill("#key", key)
    page.click("form.login button[type=submit]")
    page.wait_for_selector("#nav a")
    page.errors = errors
    return page


# --------------------------------------------------------------------------- API (no browser)


def test_fleet_clusters_account_for_every_event(server, world):
    summary = api(server, world, "/api/app/fleet", params={"zoom": 3}).json()
    assert summary["drives"] == 4 and summary["events"] == sum(summary["by_type"].values())
    assert sum(c["n"] for c in summary["clusters"]) == summary["events"]
    assert VIDEO_VEHICLE in summary["vehicles"]
    mine = api(server, world, "/api/app/fleet", params={"vehicle": VIDEO_VEHICLE, "zoom": 16})
    assert mine.json()["drives"] == 1 and mine.json()["events"] >= 1
    tracks = api(server, world, "/api/app/tracks").json()
    assert len(tracks["tracks"]) == 4 and all(len(t["points"]) > 10 for t in tracks["tracks"])
    assert api(server, world, "/api/app/fleet", key=world.partner_key).status_code == 403


def test_video_is_served_with_range_requests_by_signed_link(server, world):
    (video,) = api(server, world, f"/api/app/drives/{world.video_drive}/videos").json()
    assert video["playable"] and "path" not in video
    assert video["expires"] > time.time() + 3600  # the list's own link, good for hours
    url = api(server, world, f"/api/app/videos/{video['video_id']}/url").json()["url"]
    for link in (video["url"], url):
        part = httpx.get(server + link, headers={"Range": "bytes=100-199"}, timeout=10)
        assert part.status_code == 206 and len(part.content) == 100
        assert part.headers["content-type"] == "video/mp4"
    forged = url[:-4] + ("0000" if not url.endswith("0000") else "1111")
    assert httpx.get(server + forged, timeout=10).status_code == 403


def test_drive_plot_is_columnar_downsampled_and_in_the_vehicle_frame(server, world):
    plot = api(server, world, f"/api/drives/{world.video_drive}/plot", params={"width": 400})
    streams, frame = plot.json()["streams"], plot.json()["frame"]
    assert frame["name"] == "vehicle" and frame["calibrated"]
    accel = streams["accel"]
    assert set(accel) == {"t_s", "ax", "ay", "az"}
    assert len(accel["t_s"]) == len(accel["ax"]) <= 3 * 400 + 2  # min and max per 2 px, 3 channels
    assert accel["t_s"] == sorted(accel["t_s"])
    assert {"lat", "lon", "speed_mps"} <= set(streams["gnss"])
    # the harsh brake's one-sample peak survives downsampling, on the forward axis, negative
    brake = next(
        e
        for e in api(server, world, f"/api/drives/{world.video_drive}/events").json()
        if e["type"] == "harsh_brake"
    )
    inside = [
        ax
        for t, ax in zip(accel["t_s"], accel["ax"], strict=True)
        if brake["start_s"] - 1 <= t <= brake["end_s"] + 1
    ]
    assert min(inside) <= -0.9 * brake["peak"]
    shared = f"/api/shares/{world.share_id}/drives/{world.video_drive}/plot"
    assert api(server, world, shared, key=world.partner_key).json()["streams"]["accel"]["ax"]


def wait_for_export(base, world, path, format, timeout_s=120):
    """The dataset's export job of ``format`` once it is no longer running."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = next(j for j in api(base, world, path).json() if j["format"] == format)
        if job["state"] != "running":
            return job
        time.sleep(0.2)
    raise AssertionError(f"the {format} export still runs after {timeout_s} s")


def test_export_jobs_survive_a_server_restart(world, tmp_path):
    """Export jobs are records in the lake: after the server is killed and started again, a
    finished export is still listed, one cut off shows as interrupted (not running forever),
    and starting it again finishes it."""
    from drivelake.curate import snapshot
    from drivelake.curate.steps import create

    dataset = create(open_lake(world), "restart", where=f"drive_id = '{world.video_drive}'")
    snapshot.create(dataset, "v1")
    jobs = "/api/datasets/restart/exports"
    headers = {"Authorization": f"Bearer {world.admin_key}"}

    def start(base, format):
        started = httpx.post(
            base + jobs, json={"tag": "v1", "format": format}, headers=headers, timeout=10
        )
        assert started.status_code == 202, started.text
        return started.json()

    proc, base = serve(world.lake_dir, tmp_path / "first.log")
    try:
        start(base, "parquet")
        assert wait_for_export(base, world, jobs, "parquet")["state"] == "done"
        assert start(base, "clips")["state"] == "running"
    finally:
        proc.kill()  # SIGKILL mid-export: no chance to tidy up
        proc.wait(10)
    record = Path(world.lake_dir) / "exports" / "restart" / "v1-clips.job.json"
    assert '"running"' in record.read_text()  # the clips export was cut off, not finished

    proc, base = serve(world.lake_dir, tmp_path / "second.log")
    try:
        listed = {j["format"]: j for j in api(base, world, jobs).json()}
        done = listed["parquet"]
        assert done["state"] == "done" and done["snapshot"] == "restart@v1"
        assert done["started_at"] <= done["finished_at"] and Path(done["path"]).is_dir()
        cut = listed["clips"]
        assert cut["state"] == "interrupted" and "start it again" in cut["error"]
        assert '"interrupted"' in record.read_text()
        start(base, "clips")
        resumed = wait_for_export(base, world, jobs, "clips")
        assert resumed["state"] == "done", resumed
        assert any(Path(resumed["path"]).iterdir())
    finally:
        proc.terminate()
        proc.wait(10)


# --------------------------------------------------------------------------- browser


def test_fleet_event_opens_the_drive_at_that_moment(browser, server, world):
    asked = []

    def note(request):
        if "/api/app/fleet" in request.url:
            asked.append(request.url)

    browser.on("request", note)
    page = signed_in(browser, server, world.admin_key)
    page.wait_for_selector("#fleet-map[data-state=ready] .cluster")
    browser.remove_listener("request", note)
    assert len(asked) == 1 and "width=" in asked[0]  # fitted and filled in one request
    page.screenshot(path=ARTIFACTS / "fleet.png")
    page.select_option("select[name=vehicle]", VIDEO_VEHICLE)
    page.wait_for_selector(".counts:has-text('1 drives')")
    page.wait_for_selector("#fleet-map[data-state=ready] .cluster[data-events]")
    marker = page.locator(".cluster").first
    event_id = marker.get_attribute("data-events").split()[0]
    single = marker.get_attribute("data-n") == "1"
    marker.focus()  # by keyboard: markers take the focus, Enter opens them
    page.keyboard.press("Enter")
    if not single:  # the cluster's list takes the focus
        page.wait_for_selector(".event-list button:focus")
        page.keyboard.press("Enter")
    page.wait_for_selector(".page-drive[data-state=ready]")
    assert f"#/drive/{world.video_drive}?t=" in page.url and event_id in page.url
    t = float(page.url.split("t=")[1].split("&")[0])
    page.wait_for_function("document.querySelector('#player').readyState >= 2")
    assert abs(page.eval_on_selector("#player", "v => v.currentTime") - t) <= 1.5 / FPS
    assert float(page.get_attribute("#plots", "data-cursor-t")) == pytest.approx(t, abs=0.01)
    left = page.eval_on_selector(".playhead", "h => parseFloat(h.style.left)")
    assert left > 0
    page.screenshot(path=ARTIFACTS / "drive.png")

    # playing moves the cursor; clicking a plot seeks the video; keys step in time
    page.click(".transport button")
    page.wait_for_timeout(700)
    page.click(".transport button")
    assert float(page.get_attribute("#plots", "data-cursor-t")) > t + 0.2
    assert page.eval_on_selector(".playhead", "h => parseFloat(h.style.left)") > left
    box = page.locator(".plot .u-over").first.bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.25, box["y"] + box["height"] / 2)
    page.wait_for_timeout(300)
    clicked = float(page.get_attribute("#plots", "data-cursor-t"))
    assert (
        clicked < t and abs(page.eval_on_selector("#player", "v => v.currentTime") - clicked) < 0.2
    )
    page.locator("body").press("ArrowRight")
    assert float(page.get_attribute("#plots", "data-cursor-t")) == pytest.approx(clicked + 1, 0.05)
    assert not page.errors, page.errors


def test_tags_and_notes_are_saved_as_data(browser, server, world):
    import drivelake

    page = signed_in(browser, server, world.admin_key)
    page.goto(f"{server}/#/drive/{world.video_drive}?t=12")
    page.wait_for_selector(".page-drive[data-state=ready]")
    page.fill(".tag-form input[name=text]", "glare at the junction")
    page.click(".tag-form button[type=submit]")
    page.wait_for_selector(".tag-list li:has-text('glare at the junction')")
    tags = drivelake.open(world.lake_dir).tags(world.video_drive).to_pylist()
    assert [(g["text"], g["t_s"]) for g in tags] == [("glare at the junction", 12.0)]


def test_a_video_that_cannot_load_leaves_the_timeline_player(browser, server, world):
    page = signed_in(browser, server, world.admin_key)
    page.route("**/api/app/media/**", lambda route: route.fulfill(status=404, body="gone"))
    page.goto(f"{server}/#/drive/{world.video_drive}?t=20")
    page.wait_for_selector(".page-drive[data-state=ready]")
    assert "could not be loaded" in page.inner_text(".media")
    assert page.locator("#player").count() == 0
    page.click(".transport button")  # the timeline player runs the plots instead
    page.wait_for_timeout(600)
    page.click(".transport button")
    assert float(page.get_attribute("#plots", "data-cursor-t")) > 20.2
    assert not page.errors, page.errors


def test_search_results_go_into_a_dataset(browser, server, world):
    from drivelake.curate import datasets

    page = signed_in(browser, server, world.admin_key)
    page.goto(f"{server}/#/search")
    page.wait_for_selector(".results .span-card")
    event_type = api(server, world, f"/api/drives/{world.video_drive}/events").json()[0]["type"]
    page.select_option("select[name=type]", event_type)
    page.fill("input[name=min_kmh]", "1")
    page.click(".search-form button[type=submit]")
    page.wait_for_selector(f".span-card[data-drive='{world.video_drive}']")
    page.wait_for_function("[...document.querySelectorAll('.thumb img')].some(i => i.naturalWidth)")
    page.screenshot(path=ARTIFACTS / "search.png")
    card = page.locator(".span-card").first
    start, end = (float(card.get_attribute(f"data-{k}")) for k in ("start", "end"))
    card.locator("input[type=checkbox]").check()
    page.select_option("select[name=dataset]", "")  # a new dataset
    page.fill("input[name=new_dataset]", "brakes")
    page.click(".selection-bar button[type=submit]")
    page.wait_for_selector(".selection-bar :text('added to brakes')")
    members = datasets(open_lake(world))["brakes"].members().to_pylist()
    assert members and all(m["drive_id"] == world.video_drive for m in members)
    assert all(start <= m["t_s"] <= end and m["event_type"] == event_type for m in members)

    page.goto(f"{server}/#/datasets")
    page.wait_for_selector(".page-datasets table.grid :text('brakes')")
    page.click(".page-datasets a:text('brakes')")
    page.wait_for_selector(".page-datasets[data-state=ready]")
    page.wait_for_function(
        "[...document.querySelectorAll('.member img')].some(i => i.naturalWidth)"
    )
    assert page.locator(".member").count() == len(members)
    page.fill("input[name=tag]", "v1")
    page.click(".page-datasets button:text('Snapshot latest')")
    page.wait_for_selector(".page-datasets table.grid a:text('v1')")

    # more members from the unfiltered results into the existing dataset, then a second snapshot
    page.goto(f"{server}/#/search")
    page.wait_for_selector(".results .span-card")
    page.locator(".span-card input[type=checkbox]").first.check()
    page.select_option("select[name=dataset]", "brakes")
    page.click(".selection-bar button[type=submit]")
    page.wait_for_selector(".selection-bar :text('added to brakes')")
    grown = datasets(open_lake(world))["brakes"].members().num_rows
    assert grown > len(members)
    page.goto(f"{server}/#/datasets/brakes")
    page.wait_for_selector(".page-datasets[data-state=ready]")
    page.fill("input[name=tag]", "v2")
    page.click(".page-datasets button:text('Snapshot latest')")
    page.wait_for_selector(".page-datasets table.grid a:text('v2')")
    page.click(".page-datasets button:text('Compare')")
    page.wait_for_selector(".diff table.grid")
    added = page.locator(".diff tbody tr").first.locator("td").nth(1).inner_text()
    assert int(added) == grown - len(members)
    page.locator("select[aria-label='Export format of v1']").select_option("parquet")
    page.locator("form:has(select[aria-label='Export format of v1']) button").click()
    page.wait_for_selector(".jobs li[data-state=done]", timeout=30_000)
    exported = Path(page.inner_text(".jobs li[data-state=done] code"))
    assert exported.is_dir() and any(exported.iterdir())
    page.screenshot(path=ARTIFACTS / "datasets.png", full_page=True)

    page.goto(f"{server}/#/search")
    page.wait_for_selector(".results .span-card")
    card = page.locator(".span-card").first
    start = float(card.get_attribute("data-start"))
    card.locator("header a").click()
    page.wait_for_selector(".page-drive[data-state=ready]")
    assert float(page.get_attribute("#plots", "data-cursor-t")) == pytest.approx(start, abs=0.01)
    page.goto(f"{server}/#/sharing")
    page.wait_for_selector(".page-sharing table.grid")
    assert world.share_id in page.inner_text(".page-sharing")
    page.screenshot(path=ARTIFACTS / "sharing-admin.png", full_page=True)
    assert not page.errors, page.errors


def test_more_like_this_ranks_frames_by_embedding(browser, server, world):
    if not world.embedded:
        pytest.skip("no frame embeddings: the models extra (torch, transformers) is not installed")
    page = signed_in(browser, server, world.admin_key)
    page.goto(f"{server}/#/search")
    page.wait_for_selector(".results .span-card .thumb")
    example = page.locator(".thumb").nth(1)
    frame_id = example.get_attribute("data-frame")
    example.locator("button:text('more like this')").click()
    page.wait_for_selector(".span-card .score")
    top = page.locator(".span-card").first  # the example itself is its own nearest neighbour
    assert top.locator(f".thumb[data-frame='{frame_id}']").count() == 1
    page.fill("input[name=where]", "t_s < 30")  # the filters restrict what is ranked
    page.click(".search-form button[type=submit]")
    page.wait_for_selector(".span-card .score")
    page.wait_for_function(
        "(cards => cards.length && cards.every(c => c.dataset.end < 30))"
        "([...document.querySelectorAll('.span-card')])"
    )
    page.wait_for_function("[...document.querySelectorAll('.thumb img')].some(i => i.naturalWidth)")
    page.screenshot(path=ARTIFACTS / "search-like.png")
    assert not page.errors, page.errors


def test_partner_key_sees_only_its_share(browser, server, world):
    page = signed_in(browser, server, world.partner_key)
    assert page.locator("#nav a").all_inner_texts() == ["Sharing"]
    page.wait_for_selector(".share-drives table.grid")
    assert page.locator(".page-sharing section.panel").count() == 1
    assert world.share_id in page.inner_text(".page-sharing")
    rows = page.locator(".share-drives tbody tr")
    assert rows.count() == 1 and world.video_drive[:8] in rows.inner_text()
    page.screenshot(path=ARTIFACTS / "sharing-partner.png")
    rows.locator("a").click()
    page.wait_for_selector(".page-drive[data-state=ready]")
    assert page.locator(".plot").count() >= 3 and page.locator("#player").count() == 0
    page.screenshot(path=ARTIFACTS / "drive-partner.png")
    page.goto(f"{server}/#/fleet")
    page.wait_for_selector("main .state.error")
    for other in world.demo_drives:
        page.goto(f"{server}/#/drive/{other}?share={world.share_id}")
        page.wait_for_selector("main .state.error")
    assert not page.errors, page.errors


def test_admin_creates_a_partner_key_in_the_ui_and_revokes_it(browser, server, world):
    browser.grant_permissions(["clipboard-read", "clipboard-write"], origin=server)
    page = signed_in(browser, server, world.admin_key)
    page.goto(f"{server}/#/sharing")
    page.wait_for_selector(
        ".page-sharing select[name=partner] option[value=acme]", state="attached"
    )
    page.select_option("select[name=role]", "partner")
    page.select_option("select[name=partner]", "acme")
    page.click(".page-sharing button:text('Create key')")
    page.wait_for_selector(".new-key .shown-once")
    assert "you won't see this key again" in page.inner_text(".new-key")
    key = page.input_value(".new-key input.key-value")
    key_id = key.split("_")[1]
    page.click(".new-key button.copy")
    page.wait_for_selector(".new-key :text('Copied.')")
    assert page.evaluate("navigator.clipboard.readText()") == key
    row = f".page-sharing tr:has(code:text-is('{key_id}'))"
    assert "acme" in page.inner_text(row) and "active" in page.inner_text(row)
    page.screenshot(path=ARTIFACTS / "sharing-new-key.png", full_page=True)

    # the new key works, and only for acme's share
    partner = signed_in(browser, server, key)
    assert partner.locator("#nav a").all_inner_texts() == ["Sharing"]
    partner.wait_for_selector(".share-drives table.grid")
    assert world.share_id in partner.inner_text(".page-sharing")
    assert partner.locator(".page-sharing section.panel").count() == 1
    partner.screenshot(path=ARTIFACTS / "sharing-partner-new-key.png")

    # shown once: hidden on request, not in the list, not on a reload
    page.click(".new-key button:text('I have copied it')")
    assert page.locator(".new-key input").count() == 0
    page.reload()
    page.wait_for_selector(row)
    assert key.split("_", 2)[2] not in page.content()

    # revoked from the page: the partner's next request is refused
    page.once("dialog", lambda dialog: dialog.accept())
    page.click(f"button[aria-label='Revoke key {key_id}']")
    page.wait_for_selector(f"{row} :text('revoked')")
    partner.reload()
    partner.wait_for_selector("form.login .state.error")
    assert "revoked" in partner.inner_text("form.login .state.error")
    assert not page.errors and not partner.errors, page.errors + partner.errors
