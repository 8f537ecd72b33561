"""Video: probing, decoding, sampling, time sync, clips and ingest, on real and generated video.

Real video: ../shared/data/video/solidWhiteRight.mp4 (skipped when absent). Everything else is
generated with drivelake.video.synth at small sizes, so the whole module runs in seconds.
"""

from __future__ import annotations

import io
import json
from functools import reduce

import numpy as np
import pyarrow as pa
import pytest
from PIL import Image

from conftest import shared
from csvgen import telemetry_rows, write_csv
from drivelake.errors import InputError
from drivelake.video.clips import cut
from drivelake.video.decode import DecodeLog, frame_at, iter_frames, to_rgb
from drivelake.video.probe import probe
from drivelake.video.sampling import SamplingPolicy, plan, sample
from drivelake.video.sync import Placement, filename_time, motion_check, place
from drivelake.video.synth import write_synthetic_video
from drivelake.video.telemetry import DriveTelemetry, Series

SOLID = ("video", "solidWhiteRight.mp4")


def _no_telemetry() -> DriveTelemetry:
    empty = Series(np.empty(0), {})
    return DriveTelemetry(empty, empty, empty)


# --------------------------------------------------------------------------- real video


def test_real_video_probe_and_timestamps():
    info = probe(shared(*SOLID))
    assert (info.codec, info.width, info.height, info.fps) == ("h264", 960, 540, 25.0)
    assert info.frame_count == 221
    assert info.duration_s == pytest.approx(8.84)
    assert info.creation_time is not None and info.creation_time.year == 2016
    np.testing.assert_allclose(info.frame_times_s, np.arange(221) / 25, atol=1e-9)
    frames = list(iter_frames(info))
    assert len(frames) == 221
    assert [f.index for f in frames] == list(range(221))
    np.testing.assert_allclose([f.time_s for f in frames], np.arange(221) / 25, atol=1e-9)
    keys = [f.index for f in iter_frames(info, keyframes_only=True)]
    assert keys == [int(k) for k in info.keyframe_index]


def test_real_video_thumbnails_and_clip(tmp_path):
    info = probe(shared(*SOLID))
    placement = Placement(0.0, None, "drive_start")
    rows = sample(
        info,
        video_id="v",
        drive_id="d",
        placement=placement,
        offset_s=0.0,
        telemetry=_no_telemetry(),
        policy=SamplingPolicy(fps=1.0),
    ).to_pylist()
    assert [r["video_s"] for r in rows] == pytest.approx(list(range(9)))
    for r in rows:
        image = Image.open(io.BytesIO(r["thumbnail"]))
        assert image.format == "JPEG" and image.size == (320, 180) == (r["width"], r["height"])
    clip = cut(info, 2.0, 5.0, tmp_path / "clip.mp4")
    out = probe(clip.path)
    assert clip.method == "re-encode"
    assert abs(out.duration_s - 3.0) <= 1 / 25 and out.frame_count == 75
    keyframe = float(info.frame_times_s[info.keyframe_index[1]])
    copied = cut(info, keyframe, keyframe + 2.4, tmp_path / "copy.mp4")
    assert copied.method == "stream copy"
    assert abs(probe(copied.path).duration_s - 2.4) <= 1 / 25
    full = frame_at(info, pts=rows[3]["pts"], index=rows[3]["frame_index"])
    assert to_rgb(full, info.rotation).shape == (540, 960, 3)


# --------------------------------------------------------------------------- generated video


@pytest.mark.parametrize(("suffix", "codec"), [(".h264", "libx264"), (".hevc", "libx265")])
def test_raw_elementary_streams(tmp_path, suffix, codec):
    path = write_synthetic_video(
        tmp_path / f"video{suffix}", seconds=2, fps=20, codec=codec, gop=10
    )
    info = probe(path, fps=20)
    assert info.raw and info.frame_count == 40 and info.duration_s == pytest.approx(2.0)
    frames = list(iter_frames(info))
    assert [f.index for f in frames] == list(range(40))
    assert frames[-1].time_s == pytest.approx(39 / 20)
    assert [f.index for f in iter_frames(info, keyframes_only=True)] == [0, 10, 20, 30]


def test_variable_frame_rate_is_exact(tmp_path):
    times = [0.0, 0.04, 0.1, 0.2, 0.5, 0.55, 1.0, 1.3]
    info = probe(write_synthetic_video(tmp_path / "vfr.mp4", frame_times_s=times))
    assert info.vfr
    np.testing.assert_allclose(info.frame_times_s, times, atol=1e-3)
    np.testing.assert_allclose([f.time_s for f in iter_frames(info)], times, atol=1e-3)
    assert plan(info, SamplingPolicy(fps=2.0, event_fps=0)) == {0: "fps", 4: "fps", 6: "fps"}


def test_rotation_metadata_is_honoured(tmp_path):
    info = probe(write_synthetic_video(tmp_path / "rot.mp4", rotation=90, width=160, height=96))
    assert info.rotation == 90 and info.display_size == (96, 160)
    frame = next(iter_frames(info))
    assert to_rgb(frame, info.rotation).shape == (160, 96, 3)
    assert to_rgb(frame, info.rotation, width=320).shape[:2] == (534, 320)


def test_truncated_file_keeps_decodable_frames_and_warns(tmp_path):
    path = write_synthetic_video(tmp_path / "whole.mp4", seconds=4)
    data = path.read_bytes()
    cut_file = tmp_path / "truncated.mp4"
    cut_file.write_bytes(data[: len(data) // 2])
    info = probe(cut_file)
    log = DecodeLog(info.path)
    frames = list(iter_frames(info, log=log))
    assert 20 < len(frames) < 100
    assert log.warning and "stopped after" in log.warning and "of 100 frames" in log.warning


def test_non_video_is_rejected(tmp_path):
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n" * 50)
    with pytest.raises(InputError, match=r"notes\.mp4: not a"):
        probe(text)


def test_dense_sampling_around_events(tmp_path):
    info = probe(write_synthetic_video(tmp_path / "v.mp4", seconds=6, fps=20))
    chosen = plan(info, SamplingPolicy(fps=1.0, event_fps=5.0, event_pad_s=0.5), [(3.0, 3.4)])
    events = sorted(i for i, why in chosen.items() if why == "event")
    assert [info.frame_times_s[i] for i in events] == pytest.approx([2.6, 2.8, 3.2, 3.4, 3.6, 3.8])
    assert sum(why == "fps" for why in chosen.values()) == 6


def test_filename_timestamps():
    assert filename_time("20240315_142530_NF.mp4").isoformat() == "2024-03-15T14:25:30+00:00"
    assert filename_time("2024_0315_142530_001.MP4").isoformat() == "2024-03-15T14:25:30+00:00"
    assert filename_time("2018-08-02--08-34-47.mkv").isoformat() == "2018-08-02T08:34:47+00:00"
    assert filename_time("clip.mp4") is None


def test_comma_frame_times_place_raw_hevc(tmp_path):
    segment = tmp_path / "segment"
    (segment / "global_pose").mkdir(parents=True)
    frame_times = 1000.0 + np.arange(40) / 20
    np.save(segment / "global_pose" / "frame_times.npy", frame_times)
    (segment / "global_pose" / "frame_times.npy").rename(segment / "global_pose" / "frame_times")
    video = write_synthetic_video(segment / "video.hevc", seconds=2, fps=20, codec="libx265")
    placement = place(probe(video, fps=20), {"start_ns": 999_500_000_000, "utc_offset_ns": None})
    assert placement.time_source == "frame_times"
    assert placement.start_s == pytest.approx(0.5)
    np.testing.assert_allclose(placement.frame_times_s, 0.5 + np.arange(40) / 20)


def test_motion_check_flags_video_out_of_step_with_speed(tmp_path):
    fps, seconds = 10, 24
    t = np.arange(fps * seconds) / fps
    speed = 4 + 12 * np.exp(-(((t - 12) / 2.5) ** 2))  # m/s; the picture scrolls with it
    info = probe(
        write_synthetic_video(
            tmp_path / "m.mp4", seconds=seconds, fps=fps, speed_px=speed / 2, gop=fps
        )
    )
    telemetry = DriveTelemetry(
        Series(t, {"speed_mps": speed}), Series(np.empty(0), {}), Series(np.empty(0), {})
    )
    aligned = motion_check(info, Placement(0.0, None, "drive_start"), 0.0, telemetry)
    assert aligned.status == "ok" and aligned.corr > 0.8
    wrong = motion_check(info, Placement(0.0, None, "drive_start"), 5.0, telemetry)
    assert wrong.status == "mismatch"
    assert wrong.lag_s == pytest.approx(-5.0, abs=0.5)


def test_embedded_nmea_subtitle_track(tmp_path):
    from drivelake.errors import DrivelakeError
    from drivelake.ingest.formats import reader_named
    from drivelake.video.gps_tracks import embedded_gps

    try:
        reader_named("nmea")
    except DrivelakeError:
        pytest.skip("the NMEA reader is not registered")

    def sentence(body: str) -> str:
        checksum = reduce(lambda a, c: a ^ ord(c), body, 0)
        return f"${body}*{checksum:02X}"

    cues = [
        (
            k,
            k + 1,
            sentence(f"GPRMC,1200{k:02d},A,4807.{38 + k:03d},N,01131.000,E,010.0,090.0,150324,,"),
        )
        for k in range(4)
    ]
    path = write_synthetic_video(tmp_path / "cam.mkv", seconds=4, subtitles=cues)
    gps = embedded_gps(path)
    assert gps.utc_known
    assert [s.name for s in gps.streams] == ["gnss"] and len(gps.streams[0]) == 4


# --------------------------------------------------------------------------- lake and CLI


def _events_table(drive_id: str) -> pa.Table:
    row = {"event_id": "ev-brake-1", "drive_id": drive_id, "type": "harsh_brake"}
    row |= {"start_s": 3.0, "end_s": 3.5, "severity": "high"}
    try:
        from drivelake.events.store import EVENTS
    except ImportError:
        return pa.Table.from_pylist([row])
    return pa.Table.from_pylist([{name: row.get(name) for name in EVENTS.names}], schema=EVENTS)


def test_ingest_csv_with_video_end_to_end(tmp_path, lake):
    from typer.testing import CliRunner

    from drivelake.cli import app

    folder = tmp_path / "drive"
    write_csv(folder / "trip.csv", rows=telemetry_rows(n=400))  # 8 s at 50 Hz, GPS at 1 Hz
    write_synthetic_video(folder / "trip.mp4", seconds=6, gop=25)
    report = lake.ingest([folder])
    assert report.ok, report.results
    drive_id = report.drive_ids[0]
    videos = lake.sql("SELECT * FROM videos").to_pylist()
    assert len(videos) == 1 and videos[0]["drive_id"] == drive_id
    assert videos[0]["frame_count"] == 150 and videos[0]["time_source"] == "drive_start"
    frames = lake.sql("SELECT * FROM frames ORDER BY t_s").to_pylist()
    assert [f["t_s"] for f in frames] == pytest.approx([0, 1, 2, 3, 4, 5])
    assert all(f["speed_mps"] > 5 and f["lat"] > 48 and f["ax"] is not None for f in frames)

    again = lake.ingest([folder])
    assert again.count("already present") == 1
    assert lake.sql("SELECT count(*) AS n FROM frames").to_pylist()[0]["n"] == 6

    runner = CliRunner()
    base = ["--lake", lake.uri]
    listed = runner.invoke(app, [*base, "frames", "--drive", drive_id[:8], "--format", "json"])
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.stdout)
    assert len(rows) == 6 and rows[0]["thumbnail_bytes"] > 500
    out = tmp_path / "frame.jpg"
    got = runner.invoke(app, [*base, "frame", rows[2]["frame_id"], "-o", str(out)])
    assert got.exit_code == 0, got.output
    assert Image.open(out).size == (160, 96)

    lake.append("events", _events_table(drive_id), message="test events")
    clip = tmp_path / "brake.mp4"
    made = runner.invoke(app, [*base, "clip", "ev-brake-1", "-o", str(clip), "--pad", "1"])
    assert made.exit_code == 0, made.output
    assert abs(probe(clip).duration_s - 2.5) <= 1 / 25
    clips = runner.invoke(
        app,
        [
            *base,
            "clips",
            "--type",
            "harsh_brake",
            "-o",
            str(tmp_path / "c"),
            "--pad",
            "1",
            "--overlay",
        ],
    )
    assert clips.exit_code == 0, clips.output
    manifest = json.loads((tmp_path / "c" / "manifest.json").read_text())
    assert manifest[0]["event_id"] == "ev-brake-1" and manifest[0]["method"] == "re-encode"
    assert manifest[0]["clip_start_s"] == pytest.approx(2.0)

    from drivelake.video.stage import process_drive

    process_drive(lake, drive_id)  # events now exist: denser frames around the event
    reasons = lake.sql("SELECT reason, count(*) AS n FROM frames GROUP BY 1").to_pylist()
    assert {r["reason"]: r["n"] for r in reasons}["event"] >= 10

    shifted = runner.invoke(
        app, [*base, "video", "sync", videos[0]["video_id"][:6], "--offset", "1"]
    )
    assert shifted.exit_code == 0, shifted.output
    t_s = lake.sql("SELECT t_s FROM frames WHERE reason = 'fps' ORDER BY t_s").column("t_s")
    assert t_s.to_pylist()[:2] == pytest.approx([1.0, 2.0])


def test_video_without_telemetry_is_a_drive(tmp_path, lake):
    folder = tmp_path / "dashcam"
    write_synthetic_video(folder / "20240315_142530_NF.mp4", seconds=3)
    write_synthetic_video(folder / "20240315_142533_NF.mp4", seconds=2)
    (folder / "broken.mp4").write_bytes(b"\x00" * 2000)
    report = lake.ingest([folder])
    assert report.count("ingested") == 2 and report.count("failed") == 1
    failed = next(r for r in report.results if r.status == "failed")
    assert "broken.mp4" in failed.message and "not a" in failed.message
    drives = lake.sql("SELECT * FROM drives ORDER BY start_utc").to_pylist()
    assert [d["source_format"] for d in drives] == ["video", "video"]
    assert drives[0]["start_utc"].isoformat() == "2024-03-15T14:25:30+00:00"
    assert drives[0]["duration_s"] == pytest.approx(3.0)
    videos = lake.sql("SELECT time_source FROM videos").column("time_source").to_pylist()
    assert videos == ["filename", "filename"]
    assert lake.sql("SELECT count(*) AS n FROM frames").to_pylist()[0]["n"] == 5
