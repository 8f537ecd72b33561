"""Events: calibration, detection on synthetic and real data, bad input, idempotent runs."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from conftest import shared
from drivelake.events import detect, events, load_config
from drivelake.events.detectors import detect_motion, peak_floors
from drivelake.events.evaluate import Label, evaluate, read_truth
from drivelake.signals.calibration import combine_evidence
from drivelake.signals.motion import vehicle_motion
from drivelake.signals.phone_frame import level_phone_frame
from drivelake.synth import synth_drive


def test_moving_average_is_the_centred_mean_of_the_samples_that_exist():
    """Doubled sums against the definition: every window length, odd and even, shorter and
    longer than the data; float32 stays float32; a NaN reaches only the windows holding it."""
    from drivelake.signals.filters import moving_average

    rng = np.random.default_rng(5)
    for n, window in itertools.product((1, 2, 7, 10, 64), (1, 2, 3, 5, 8, 10, 13, 100)):
        x = rng.normal(size=(2, n))
        half = window // 2
        want = np.stack(
            [x[:, max(i - half, 0) : i - half + window].mean(axis=1) for i in range(n)], axis=1
        )
        np.testing.assert_allclose(moving_average(x, window), want, rtol=1e-12, atol=1e-12)
        got32 = moving_average(x.astype(np.float32), window)
        assert got32.dtype == np.float32
        np.testing.assert_allclose(got32, want, atol=1e-5)
    x = rng.normal(size=200)
    x[100] = np.nan
    assert np.flatnonzero(np.isnan(moving_average(x, 10))).tolist() == list(range(96, 106))


def _angle_deg(r1: np.ndarray, r2: np.ndarray) -> float:
    return float(np.degrees(np.arccos(np.clip((np.trace(r1 @ r2.T) - 1) / 2, -1, 1))))


def _scored_drive(d, m, thresholds, off: float) -> tuple[list[dict], list[Label]]:
    """Detections and truth of one synthetic drive, shifted by ``off`` seconds (GPS speed in)."""
    t = np.arange(len(m.yaw_rate)) / m.rate_hz
    m.speed = np.interp(t, d.gps_index / d.rate_hz, d.gps_speed_mps)
    preds = [
        {
            "type": c.type,
            "direction": c.direction,
            "start_s": c.i0 / 10 + off,
            "end_s": c.i1 / 10 + off,
        }
        for c in detect_motion(m, thresholds)
    ]
    labels = [
        Label(
            None if e.type.startswith("normal_") else e.type,
            e.direction,
            e.start_s + off,
            e.end_s + off,
        )
        for e in d.truth
    ]
    return preds, labels


def test_calibration_recovers_synthetic_mount_and_detects_every_type():
    cfg = load_config()
    preds, labels = [], []
    for seed, cls in enumerate(("car", "van", "truck")):
        d = synth_drive(seed=seed, minutes=12, vehicle_class=cls)
        m = vehicle_motion(d.acc, d.gyro, d.rate_hz, **peak_floors(cfg.thresholds(cls)))
        assert _angle_deg(m.calibration.spans[0].rotation, d.vehicle.mount_matrix) < 3.0
        p, lb = _scored_drive(d, m, cfg.thresholds(cls), off=seed * 10_000)
        preds, labels = preds + p, labels + lb
    scores = evaluate(preds, labels)
    assert all(s["f1"] >= 0.95 for s in scores.values()), scores


def test_trip21_detects_labelled_aggressive_events(lake):
    folder = shared("phone-imu", "trip21")
    lake.ingest([folder])
    detect(lake)
    scores = evaluate(events(lake).to_pylist(), read_truth(folder / "groundTruth.csv"))
    assert scores["harsh_brake"]["recall"] == 1.0
    assert scores["harsh_acceleration"]["recall"] == 1.0  # the phone's tilt filter undone
    assert scores["all"]["recall"] == 1.0
    assert scores["harsh_lane_change"]["fp"] <= 1  # out-and-back is one lane change, not two
    assert scores["all"]["f1"] >= 0.8  # measured 0.84; the target 0.9 is not yet met
    # every remaining false positive lies outside the labelled manoeuvres (none in a normal one)
    assert scores["all"]["unlabelled"] == scores["all"]["fp"]
    assert scores["all"]["f1_labelled"] == 1.0
    # a pothole's rear-axle echo is not a second pothole: no two overlap
    holes = lake.sql("SELECT start_s, end_s FROM events WHERE type = 'pothole' ORDER BY 1")
    spans = list(zip(*(holes.column(c).to_pylist() for c in ("start_s", "end_s")), strict=True))
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans)), spans
    # trip21 labels no aggressive turn; its labelled normal manoeuvres include turns, and no
    # harsh turn may be flagged in any labelled span (one real 0.3-0.4 g turn in the unlabelled
    # first seconds, before the labels start, may be)
    turns = lake.sql("SELECT start_s, end_s FROM events WHERE type = 'harsh_turn'").to_pylist()
    labels = read_truth(folder / "groundTruth.csv")
    assert not [
        t for t in turns for lb in labels if t["start_s"] < lb.end_s and lb.start_s < t["end_s"]
    ], turns
    assert all(t["end_s"] < min(lb.start_s for lb in labels) for t in turns), turns


def test_evaluation_scores_sparse_truth_strictly_and_within_labelled_spans():
    labels = [
        Label("harsh_brake", None, 10.0, 12.0),
        Label(None, None, 20.0, 24.0),  # a normal manoeuvre: a negative
        Label("harsh_lane_change", "left", 30.0, 33.0),
    ]
    brake = {"type": "harsh_brake", "direction": None}
    preds = [
        brake | {"start_s": 10.5, "end_s": 11.5},  # found
        brake | {"start_s": 21.0, "end_s": 22.0},  # inside the normal manoeuvre: a real FP
        brake | {"start_s": 50.0, "end_s": 51.0},  # no label anywhere near: unlabelled
        {"type": "harsh_lane_change", "direction": "right", "start_s": 30.5, "end_s": 32.0},
    ]
    scores = evaluate(preds, labels)
    assert (scores["harsh_brake"]["tp"], scores["harsh_brake"]["fp"]) == (1, 2)
    assert scores["harsh_brake"]["unlabelled"] == 1
    assert scores["harsh_brake"]["precision"] == pytest.approx(1 / 3)
    assert scores["harsh_brake"]["precision_labelled"] == pytest.approx(1 / 2)
    # the wrong direction on a labelled span is a miss and a false positive, not "unlabelled"
    lane = scores["harsh_lane_change"]
    assert (lane["tp"], lane["fp"], lane["fn"], lane["unlabelled"]) == (0, 1, 1, 0)
    assert scores["all"]["unlabelled"] == 1 and scores["all"]["fp"] == 3


def test_comma_longitudinal_accel_agrees_with_can_speed(lake):
    seg = shared("comma2k19")
    lake.ingest([next(p for p in seg.rglob("processed_log")).parent])
    drive = lake.drives().column("drive_id")[0].as_py()
    from drivelake.events.store import analyse

    streams = {s: lake.stream(drive, s) for s in ("accel", "gyro", "gnss", "can")}
    _, motion, grid = analyse(lake.drive(drive), streams, load_config().thresholds("car"))
    can = streams["can"]
    t, v = can.column("t_ns").to_numpy(), can.column("speed_mps").to_numpy(zero_copy_only=False)
    ok = np.isfinite(v)
    dvdt = np.gradient(np.interp(grid, t[ok], v[ok]), grid / 1e9)
    k = int(motion.rate_hz)  # compare 1 s averages: CAN speed is quantised
    n = len(dvdt) // k * k
    a = motion.accel[:n, 0].reshape(-1, k).mean(1)
    b = np.convolve(dvdt, np.ones(5) / 5, "same")[:n].reshape(-1, k).mean(1)
    r = np.corrcoef(a, b)[0, 1]
    print(f"comma2k19 calibrated a_long vs dv/dt(CAN): r = {r:.3f}")
    assert r >= 0.8, r
    # the lateral axis and its sign: centripetal a_lat = v * yaw rate (left positive), although
    # this highway stretch bends gently (|v r| under 0.2 m/s² in 1 s means)
    a_lat = motion.accel[:n, 1].reshape(-1, k).mean(1)
    v_r = (np.interp(grid, t[ok], v[ok]) * motion.yaw_rate)[:n].reshape(-1, k).mean(1)
    r_lat = np.corrcoef(a_lat, v_r)[0, 1]
    slope = np.polyfit(v_r, a_lat, 1)[0]
    print(f"comma2k19 calibrated a_lat vs v*yaw(CAN, gyro): r = {r_lat:.3f}, slope {slope:.2f}")
    assert r_lat >= 0.6 and 0.7 < slope < 1.4, (r_lat, slope)
    # road roughness of a real highway drive: finite, every 100 m, in the range of ride
    # vibration (ISO 2631-1: ~0.1-1 m/s² from smooth to rough roads), covering the distance
    from drivelake.events.roughness import roughness_segments

    index = roughness_segments(motion, load_config().thresholds("car")).rms_mps2
    km = np.nansum(motion.speed) / motion.rate_hz / 1000
    print(
        f"comma2k19 roughness: {len(index)} segments over {km:.2f} km, "
        f"median {np.median(index):.3f}, max {index.max():.3f} m/s²"
    )
    assert len(index) >= 0.9 * km * 10 - 1
    assert np.isfinite(index).all() and 0.02 < np.median(index) < 1.5 and index.max() < 5


def _stressed_drive(seed: int, scenario: str, filter_tau_s: float = 2.0):
    """A synthetic drive's true motion re-recorded under stress: (drive, accel, gyro, tracked).

    Every scenario has an IMU three times noisier than the generator's. ``mount_change``: a
    device frame whose mount is knocked into another orientation halfway through.
    ``earth_drift``: an Earth frame (east/north/up) whose heading drifts 30°/min plus ±25° of
    wander (a magnetometer in a car). ``earth_tilt_filter``: the same, from a phone whose
    orientation filter takes a ``filter_tau_s`` low-pass of specific force for "up", i.e. takes
    sustained acceleration for tilt (the reported vectors, accelerometer and gyro alike, are
    rotated with its frame, their norms kept).
    """
    from scipy.signal import lfilter

    d = synth_drive(seed=seed, minutes=12)
    rng = np.random.default_rng(seed)
    # specific force as the vehicle felt it (forward, left, up), and its yaw rate
    f = (d.acc - np.asarray(d.vehicle.accel_bias)) @ d.vehicle.mount_matrix.T
    f += rng.normal(0, 0.5, f.shape)
    r = d.yaw_rate + rng.normal(0, 0.02, len(f))
    n, dt = len(f), 1 / d.rate_hz
    if scenario == "mount_change":
        half = n // 2
        m1, m2 = _mount(0.7, 0.2), _mount(-2.0, -0.3)  # ~29° apart in tilt, 155° in yaw
        acc = np.concatenate([f[:half] @ m1, f[half:] @ m2]) + rng.normal(0, 0.05, 3)
        gyro = np.concatenate([np.outer(r[:half], m1[2]), np.outer(r[half:], m2[2])])
        return d, acc, gyro + rng.normal(0, 0.002, 3), False
    t = np.arange(n) * dt
    psi = 1.0 + np.cumsum(d.yaw_rate) * dt + np.radians(0.5 * t + 25 * np.sin(2 * np.pi * t / 240))
    c, s = np.cos(psi), np.sin(psi)
    acc = np.stack([c * f[:, 0] - s * f[:, 1], s * f[:, 0] + c * f[:, 1], f[:, 2]], axis=1)
    gyro = np.stack([rng.normal(0, 0.02, n), rng.normal(0, 0.02, n), r], axis=1)
    if scenario == "earth_tilt_filter":
        k = np.exp(-dt / filter_tau_s)
        up = lfilter([1 - k], [1, -k], acc, axis=0, zi=np.outer([k], acc[0]))[0]
        up /= np.linalg.norm(up, axis=1, keepdims=True)
        # the filter's "up" is rotated onto z (Rodrigues), and with it every sensor it reports
        v = np.cross(up, [0.0, 0.0, 1.0])
        acc, gyro = (
            x + np.cross(v, x) + np.cross(v, np.cross(v, x)) / (1 + up[:, 2:3]) for x in (acc, gyro)
        )
    return d, acc, gyro, True


def _mount(yaw: float, pitch: float) -> np.ndarray:
    cy, sy, cp, sp = np.cos(yaw), np.sin(yaw), np.cos(pitch), np.sin(pitch)
    return np.array([[cy, -sy, 0], [sy, cy, 0], [0, 0, 1]]) @ np.array(
        [[cp, 0, sp], [0, 1, 0], [-sp, 0, cp]]
    )


@pytest.mark.parametrize("scenario", ["mount_change", "earth_drift", "earth_tilt_filter"])
def test_detectors_survive_noise_mount_changes_and_a_drifting_filtered_earth_frame(scenario):
    cfg = load_config().thresholds("car")
    preds, labels, taus = [], [], []
    for seed in (1, 3):
        d, acc, gyro, tracked = _stressed_drive(seed, scenario)
        m = vehicle_motion(acc, gyro, d.rate_hz, heading_tracked=tracked, **peak_floors(cfg))
        taus.append(m.calibration.filter_tau_s)
        if scenario == "mount_change":  # cut where the mount changed, not at a window edge
            cuts = [s.start_s for s in m.calibration.spans[1:]]
            assert len(cuts) == 1 and abs(cuts[0] - len(acc) / 2 / d.rate_hz) < 2.0, cuts
        p, lb = _scored_drive(d, m, cfg, off=seed * 10_000)
        preds, labels = preds + p, labels + lb
    scores = evaluate(preds, labels)
    assert scores["all"]["recall"] == 1.0, scores
    assert scores["all"]["f1"] >= 0.95, scores
    if scenario == "earth_tilt_filter":  # the filter's time constant is recovered (true 2 s)
        assert all(t is not None and 1.5 < t < 3.0 for t in taus), taus
    else:  # and no filter is invented where there is none
        assert taus == [None, None], taus


def test_a_phone_frame_is_levelled_by_the_gyro_axis_while_turning():
    """A phone's tilted Earth frame shows the gyro's axis off vertical while the car turns; the
    levelled frame turns about its vertical again, with the filter's time constant found."""
    _, acc, gyro, _ = _stressed_drive(3, "earth_tilt_filter")
    nb = len(acc) // 10  # the analysis rate, 10 Hz, as vehicle_motion levels it
    a, w = (x[: nb * 10].reshape(nb, 10, 3).mean(axis=1).T.astype(np.float32) for x in (acc, gyro))
    a_level, w_level, tau = level_phone_frame(a, w, 10.0, gravity_n=300, smooth_n=5)

    def axis_tilt_deg(rates):
        return np.degrees(np.arctan2(np.hypot(rates[0], rates[1]), np.abs(rates[2])))

    turning = np.abs(w[2]) > 0.2
    before, after = (np.percentile(axis_tilt_deg(x)[turning], 90) for x in (w, w_level))
    assert turning.sum() > 50 and before > 10.0 and after < before / 3, (before, after)
    assert tau is not None and 1.5 < tau < 3.0, tau
    # the frame's extra "vertical" specific force in turns (its lean) is gone
    excess = (a[2, turning] - a_level[2, turning]).mean()
    assert excess > 0.05 and abs(a_level[2, turning].mean() - a_level[2].mean()) < 0.1, excess


def test_forward_axis_keeps_its_sign_across_windows_without_evidence():
    """An Earth frame's forward angle, window by window: three windows with no evidence (noise
    pointing anywhere) between firm stretches must not flip the rest of the drive by 180°. One
    unwrapped track signed by one vote did, in 2 of these 20 noise draws."""
    n = 24
    true = np.radians(40 + 4.0 * np.arange(n))  # the frame's heading offset drifts 4° a window
    left = 0.3 * np.exp(1j * (true + np.pi / 2))  # turns accelerate to the left of forward
    axis = 0.8 * np.exp(2j * true)  # straight-line accelerations lie along the forward axis
    rng = np.random.default_rng(0)
    for _ in range(20):
        phase = rng.uniform(0, 2 * np.pi, 3)
        left[10:13] = 0.01 * np.exp(1j * phase)
        axis[10:13] = 0.02 * np.exp(1j * (2 * phase + 1))
        delta, quality = combine_evidence(left, axis)
        err = np.degrees(np.abs(np.angle(np.exp(1j * (delta - true)))))
        assert err[np.r_[0:10, 13:n]].max() < 3.0, err.round(1)
        assert quality[:10].min() > 10 * quality[10:13].max()


def _imu_table(rate_hz: float, seconds: float, saturate: bool = False) -> dict[str, pa.Table]:
    n = int(rate_hz * seconds)
    t = (np.arange(n) * 1e9 / rate_hz).astype(np.int64)
    rng = np.random.default_rng(0)
    acc = rng.normal(0, 0.3, (n, 3)) + np.array([0.0, 0.0, 9.81])
    if saturate:
        acc = np.clip(acc * 5, -16, 16)
    gyro = rng.normal(0, 0.01, (n, 3))
    return {
        "accel": pa.table({"t_ns": t, "ax": acc[:, 0], "ay": acc[:, 1], "az": acc[:, 2]}),
        "gyro": pa.table({"t_ns": t, "gx": gyro[:, 0], "gy": gyro[:, 1], "gz": gyro[:, 2]}),
        "gnss": None,
        "can": None,
    }


@pytest.mark.parametrize(
    ("rate", "seconds", "saturate", "reason"),
    [(100, 5, False, "too short"), (5, 120, False, "too sparse"), (100, 120, True, "saturated")],
)
def test_bad_input_is_not_analysable_and_yields_no_events(rate, seconds, saturate, reason):
    from drivelake.events.store import analyse

    drive = {"source_frame": "device"}
    cover, motion, _ = analyse(
        drive, _imu_table(rate, seconds, saturate), load_config().thresholds("car")
    )
    assert motion is None
    assert not any(ok for ok, _ in cover.values())
    assert reason in cover["harsh_brake"][1]
    assert "no speed source" in cover["speeding"][1]


def test_a_sensor_gap_stays_a_gap_unless_the_config_allows_bridging_it():
    import pyarrow.compute as pc

    from drivelake.events.store import analyse

    streams = _imu_table(100, 120)
    keep = [
        t.filter(pc.or_(pc.less(t["t_ns"], 40e9), pc.greater(t["t_ns"], 45e9)))
        for t in (streams["accel"], streams["gyro"])
    ]
    streams["accel"], streams["gyro"] = keep
    cfg = load_config().thresholds("car")
    for max_gap_s, bridged in ((cfg["max_gap_s"], False), (10.0, True)):
        _, motion, grid = analyse(
            {"source_frame": "device"}, streams, cfg | {"max_gap_s": max_gap_s}
        )
        inside = (grid > 41e9) & (grid < 44e9)
        assert inside.sum() >= 25
        assert np.isfinite(motion.accel[inside]).all() == bridged, max_gap_s
        assert np.isfinite(motion.accel[grid < 39e9]).all()  # and the rest is untouched


def test_detect_is_idempotent_and_a_new_config_is_a_new_run(lake, tmp_path):
    from drivelake.synth import generate_fleet

    generate_fleet(tmp_path / "fleet", drives=1, seed=3, minutes=(3, 3))
    lake.ingest([tmp_path / "fleet"])
    first = detect(lake)
    rows = events(lake).num_rows
    versions = lake.versions().num_rows
    again = detect(lake)
    assert again["processed"] == 0 and again["skipped"] == 1
    assert events(lake).num_rows == rows and lake.versions().num_rows == versions
    cfg = tmp_path / "events.toml"
    cfg.write_text("[car]\nbrake_g = 0.5\n[van]\nbrake_g = 0.5\n[truck]\nbrake_g = 0.5\n")
    other = detect(lake, config=cfg)
    assert other["run_id"] != first["run_id"] and other["processed"] == 1
    old = events(lake, run_id=first["run_id"])
    assert old.num_rows == rows
    # one drive's events, as the API and the drive page read them: the latest run's only
    from drivelake.share.views import LakeView

    drive = lake.drives()["drive_id"][0].as_py()
    latest = events(lake, drive)
    assert set(latest["run_id"].to_pylist()) == {other["run_id"]}
    assert latest.num_rows == events(lake).num_rows  # the whole lake's join agrees
    assert latest["start_s"].to_pylist() == sorted(latest["start_s"].to_pylist())
    assert LakeView(lake).events(drive)["event_id"].to_pylist() == latest["event_id"].to_pylist()
    assert events(lake, drive, run_id=first["run_id"]).num_rows == rows
    # and SQL: ``events`` is each drive's latest run, ``events_all`` every run
    count = "SELECT count(*) AS n, count(DISTINCT run_id) AS runs FROM {}"
    assert lake.sql(count.format("events")).to_pylist() == [{"n": latest.num_rows, "runs": 1}]
    every = lake.sql(count.format("events_all")).to_pylist()
    assert every == [{"n": latest.num_rows + rows, "runs": 2}]
    runs = "SELECT count(DISTINCT run_id) AS n FROM {}"
    assert [
        lake.sql(runs.format(t)).to_pylist() for t in ("event_coverage", "event_coverage_all")
    ] == [
        [{"n": 1}],
        [{"n": 2}],
    ]


def test_an_interrupted_run_shows_nothing_and_its_retry_shows_each_event_once(
    lake, tmp_path, monkeypatch
):
    """The run rows are the commit: a run that dies before them leaves its rows invisible, and
    the next run deletes them before redoing the drives. Drives are written in batches: one
    table version per batch, not per drive."""
    from drivelake.events import store
    from drivelake.lake import Lake
    from drivelake.synth import generate_fleet

    generate_fleet(tmp_path / "fleet", drives=3, seed=4, minutes=(2, 2))
    lake.ingest([tmp_path / "fleet"])
    append = Lake.append

    def dies_before_the_run_rows(self, name, data, **kw):
        if name == "event_runs" and data.num_rows:
            raise RuntimeError("killed")
        return append(self, name, data, **kw)

    monkeypatch.setattr(Lake, "append", dies_before_the_run_rows)
    with pytest.raises(RuntimeError, match="killed"):
        detect(lake)
    monkeypatch.setattr(Lake, "append", append)
    assert lake.dataset("events").count_rows() > 0  # written, but no run says it is done
    assert events(lake).num_rows == 0 and lake.sql("SELECT * FROM events_all").num_rows == 0

    before = {name: lake.dataset(name).version for name in ("events", "event_coverage")}
    done = detect(lake, jobs=2)  # worker processes hand their rows back to one writer
    assert done["processed"] == 3 and done["events"] > 0
    shown = events(lake)
    assert shown.num_rows == done["events"]
    assert len(set(shown["event_id"].to_pylist())) == shown.num_rows
    coverage = lake.sql("SELECT drive_id, type, count(*) AS n FROM event_coverage GROUP BY ALL")
    assert set(coverage["n"].to_pylist()) == {1}
    # one version per table for the three drives (plus the deletion of the unfinished rows)
    assert lake.dataset("event_coverage").version - before["event_coverage"] == 2
    assert lake.dataset("event_runs").count_rows() == 3
    assert len(lake.sql("SELECT DISTINCT drive_id FROM calibrations")) == 3
    assert store.WRITE_BATCH >= 3


def test_roughness_index_measures_the_road_vibration_per_100_m():
    """Each 100 m segment's index matches the generator's true vibration (RMS of its vertical
    road vibration plus sensor noise over the counted samples), and a rough stretch stands out."""
    from drivelake.events.roughness import roughness_segments
    from drivelake.synth import ROUGH_ROAD_FACTOR

    cfg = load_config().thresholds("car")
    harsh = ["harsh_brake", "harsh_turn", "harsh_acceleration", "harsh_lane_change"]
    d = synth_drive(seed=5, minutes=8, harsh=harsh, rough_spans_s=[(150, 250)])
    acc, gyro = d.acc.astype(np.float32), d.gyro.astype(np.float32)  # as a lake stores them
    m = vehicle_motion(acc, gyro, d.rate_hz, **peak_floors(cfg))
    m.speed = np.interp(m.t_s, d.gps_index / d.rate_hz, d.gps_speed_mps)
    seg = roughness_segments(m, cfg)
    assert seg.distance_m.sum() > 0.95 * d.distance_m - 100
    assert (np.abs(seg.distance_m[:-1] - cfg["roughness_segment_m"]) < 5).all()
    factor = round(d.rate_hz / m.rate_hz)
    rough, smooth = [], []
    for i0, i1, index in zip(seg.i0, seg.i1, seg.rms_mps2, strict=True):
        counted = np.repeat(m.speed[i0:i1] >= cfg["roughness_min_speed_kmh"] / 3.6, factor)
        std = d.vibration_std[i0 * factor : i1 * factor][counted]
        true = np.sqrt(np.mean(std**2) + 0.03**2)  # the generator's sensor noise
        assert abs(index / true - 1) < 0.08, (i0, i1, index, true)
        t0, t1 = i0 / m.rate_hz, i1 / m.rate_hz
        if t0 >= 150 and t1 <= 250:
            rough.append(index)
        elif t1 <= 150 or t0 >= 250:
            smooth.append(index)
    assert len(rough) >= 8 and len(smooth) >= 30
    # the index also grows with speed (slow stretches read lower): a margin below the factor
    assert min(rough) > 0.6 * ROUGH_ROAD_FACTOR * max(smooth)


def test_speed_zone_shapes_and_the_lowest_limit_wins():
    from drivelake.events.zones import SpeedZone, speed_limits

    square = SpeedZone.parse(
        {"name": "depot", "limit_kmh": 20, "polygon": [[0, 0], [0, 1], [1, 1], [1, 0]]}, "t"
    )
    circle = SpeedZone.parse(
        {"name": "school", "limit_kmh": 30, "center": [1, 1], "radius_m": 1e4}, "t"
    )
    trucks = SpeedZone.parse(
        {
            "name": "town",
            "limit_kmh": 10,
            "center": [0.5, 0.5],
            "radius_m": 1e3,
            "classes": ["truck"],
        },
        "t",
    )
    lat = np.array([0.5, 0.5, 1.05, 0.95, 2.0, np.nan])
    lon = np.array([0.5, 1.5, 1.0, 0.97, 2.0, 0.5])
    assert square.contains(lat, lon).tolist() == [True, False, False, True, False, False]
    assert circle.contains(lat, lon).tolist() == [False, False, True, True, False, False]
    car = speed_limits((square, circle, trucks), "car", lat, lon, 50.0)
    assert car.limit_kmh.tolist() == [20, 50, 30, 20, 50, 50]  # depot beats school where both
    assert [car.name(i) for i in range(6)] == ["depot", None, "school", "depot", None, None]
    truck = speed_limits((square, circle, trucks), "truck", lat, lon, 50.0)
    assert truck.limit_kmh[0] == 10 and truck.name(0) == "town"
    with pytest.raises(Exception, match="polygon"):
        SpeedZone.parse({"name": "x", "limit_kmh": 30, "center": [1, 1]}, "t")


def test_speeding_per_geofence_names_the_zone(lake, tmp_path):
    """A 30 km/h zone on part of a synthetic drive: speeding inside it is flagged at speeds the
    class limit allows and names the zone; elsewhere the class limit (50 km/h) still holds."""
    from drivelake.events.zones import SpeedZone

    harsh = ["harsh_brake", "speeding", "harsh_turn", "harsh_acceleration"]
    d = synth_drive(seed=4, minutes=10, harsh=harsh)
    d.write_csv(tmp_path / "drive.csv")
    lake.ingest([tmp_path / "drive.csv"])
    t_s = d.gps_index / d.rate_hz
    k = int(np.searchsorted(t_s, 450.0))  # the zone: 500 m around where the car is at 450 s
    shape = {"center": [float(d.lat[k]), float(d.lon[k])], "radius_m": 500.0}
    zone = SpeedZone.parse({"name": "school", "limit_kmh": 30, **shape}, "test")
    inside = zone.contains(d.lat, d.lon)
    truth = next(e for e in d.truth if e.type == "speeding")
    assert not inside[(t_s >= truth.start_s) & (t_s <= truth.end_s)].any()
    cfg = tmp_path / "zones.toml"
    cfg.write_text(
        '[[speed_zones]]\nname = "school"\nlimit_kmh = 30\n'
        f"center = {shape['center']}\nradius_m = {shape['radius_m']}\n"
    )
    detect(lake)
    default = events(lake, type="speeding").to_pylist()
    detect(lake, config=cfg)
    zoned = events(lake, type="speeding").to_pylist()
    in_zone = [e for e in zoned if e["zone"] == "school"]
    outside = [e for e in zoned if e["zone"] is None]
    # outside the zone: the class limit, the same event as without zones (the injected one)
    assert [(e["start_s"], e["end_s"]) for e in outside] == [
        (e["start_s"], e["end_s"]) for e in default
    ]
    assert len(outside) == 1 and outside[0]["start_s"] < truth.end_s < outside[0]["end_s"] + 2
    # inside: cruising at 36-45 km/h breaks the zone's 30 (+5 tolerance), seen by true speed
    assert in_zone and all(35 / 3.6 < e["peak"] <= 55 / 3.6 for e in in_zone)
    fast = inside & (d.speed_mps[d.gps_index] > 35 / 3.6 + 0.5)
    covered = np.zeros(len(t_s), bool)
    for e in in_zone:
        span = (t_s >= e["start_s"]) & (t_s <= e["end_s"])
        assert inside[span].mean() > 0.9
        covered |= (t_s >= e["start_s"] - 1) & (t_s <= e["end_s"] + 1)
    assert covered[fast].mean() > 0.9


def test_confidence_is_the_share_of_the_acceleration_the_frame_free_norm_confirms():
    """Three 2 s accelerations of 0.3 g in the estimated frame; the specific-force norm rises by
    all, 70 % and 30 % of what that demands (``sqrt(g² + h²) - g``, which the detector takes as
    ``h² / 2g``). The first is certain, the second is kept with confidence 0.7, the third is a
    frame artefact and dropped."""
    from drivelake.events.detectors import longitudinal
    from drivelake.signals.gravity import STANDARD_GRAVITY as G
    from drivelake.signals.motion import Motion

    rate, n = 10.0, 900
    accel, excess = np.zeros((n, 3)), np.zeros(n)
    h = 0.3 * G
    for start, share in ((100, 1.0), (400, 0.7), (700, 0.3)):
        accel[start : start + 20, 0] = h
        excess[start : start + 20] = share * h**2 / (2 * G)
    zeros = np.zeros(n)
    m = Motion(rate, accel, zeros, excess, zeros, zeros, zeros, None, calibration=None)
    found = longitudinal(m, load_config().thresholds("car"))
    assert [(c.type, c.i0 // 100) for c in found] == [
        ("harsh_acceleration", 1),
        ("harsh_acceleration", 4),
    ]
    assert [round(c.confidence, 2) for c in found] == [1.0, 0.7]


def test_a_potholes_rear_axle_echo_is_the_same_pothole():
    """Front and rear wheels cross one hole a wheelbase apart: one pothole. A second hole two
    seconds on is its own; a run of jolts pairs at most two of them."""
    rate, seconds = 100.0, 60.0
    n = int(rate * seconds)
    rng = np.random.default_rng(7)
    acc = rng.normal(0, 0.05, (n, 3)) + np.array([0.0, 0.0, 9.81])
    gyro = rng.normal(0, 0.002, (n, 3))
    t = np.arange(int(0.5 * rate)) / rate
    jolt = np.exp(-t / 0.08) * np.sin(2 * np.pi * 10 * t)
    jolt *= 0.8 * 9.81 / np.abs(jolt).max()
    # 20 s + its echo 0.3 s on (a car at ~32 km/h); a lone one at 30 s; 40 s and 42 s; and a
    # run of four 0.4 s apart at 50 s
    hits = [20.0, 20.3, 30.0, 40.0, 42.0, 50.0, 50.4, 50.8, 51.2]
    for at in hits:
        i = int(at * rate)
        acc[i : i + len(jolt), 2] += jolt
    cfg = load_config().thresholds("car")
    m = vehicle_motion(acc, gyro, rate, **peak_floors(cfg))
    found = sorted(c.i0 / m.rate_hz for c in detect_motion(m, cfg, {"pothole"}))
    assert len(found) == 6, found
    assert [round(f) for f in found] == [20, 30, 40, 42, 50, 51], found


def _pulse(seconds: float, area: float, rate: int) -> np.ndarray:
    """A sin² pulse of ``seconds`` whose samples sum (over 1/rate) to ``area``."""
    t = np.arange(round(seconds * rate)) / rate
    return 2 * area / seconds * np.sin(np.pi * t / seconds) ** 2


@pytest.mark.parametrize(
    ("tracked", "gyro_bias"),
    [(False, 0.0), (False, 0.06), (True, 0.0)],
    ids=["device_frame", "device_frame_gyro_bias", "earth_frame"],
)
def test_turns_in_a_row_and_stops_are_measured_at_their_true_peak(tracked, gyro_bias):
    """Around a block: brake from 12 to 7 m/s, turn right 90° at 0.33 g, accelerate back, four
    times 12 s apart, then a stop from 12 m/s. A moving-mean gravity also holds the vehicle's
    own mean acceleration over its 30 s window (the velocity change across it): ~0.06 g against
    each turn here, enough to hide a harsh turn. Gravity from the resting seconds only keeps
    every peak within 0.02 g of the truth, and every turn is found with its direction. A gyro
    whose bias (0.06 rad/s) exceeds the resting yaw rate does not make every second a turn."""
    from drivelake.signals.gravity import STANDARD_GRAVITY as G

    rate, v_turn, v_cruise = 100, 7.0, 12.0
    lon, yaw = [np.zeros(20 * rate)], [np.zeros(20 * rate)]

    def add(a_lon: np.ndarray | None = None, r: np.ndarray | None = None) -> None:
        n = len(a_lon if a_lon is not None else r)
        lon.append(np.zeros(n) if a_lon is None else a_lon)
        yaw.append(np.zeros(n) if r is None else r)

    add(_pulse(6.0, v_cruise, rate))
    add(np.zeros(10 * rate))
    for _ in range(4):
        add(_pulse(3.0, v_turn - v_cruise, rate))
        add(r=-_pulse(2 * (np.pi / 2) * v_turn / (0.33 * G), np.pi / 2, rate))
        add(_pulse(4.0, v_cruise - v_turn, rate))
        add(np.zeros(5 * rate))
    add(_pulse(4.0, -v_cruise, rate))
    add(np.zeros(30 * rate))
    a_lon, r = np.concatenate(lon), np.concatenate(yaw)
    v = np.cumsum(a_lon) / rate
    truth = np.stack([a_lon, v * r, np.full_like(v, G)], axis=1)
    rng = np.random.default_rng(0)
    if tracked:  # an Earth frame: east/north/up, the vehicle heading turning in it
        psi = 0.4 + np.cumsum(r) / rate
        c, s = np.cos(psi), np.sin(psi)
        f = truth.copy()
        f[:, 0], f[:, 1] = c * truth[:, 0] - s * truth[:, 1], s * truth[:, 0] + c * truth[:, 1]
        gyro = np.outer(r, [0.0, 0.0, 1.0])
    else:
        mount = _mount(0.6, 0.15)
        f, gyro = truth @ mount, np.outer(r + gyro_bias, mount[2])
    acc = f + rng.normal(0, 0.2, f.shape)
    gyro = gyro + rng.normal(0, 0.005, gyro.shape)
    cfg = load_config().thresholds("car")
    m = vehicle_motion(acc, gyro, rate, heading_tracked=tracked, **peak_floors(cfg))
    measured_lat, true_lat = m.accel[:, 1], (v * r)[: len(m.accel) * 10 : 10]
    turning = np.abs(true_lat) > 0.1 * G
    starts = np.flatnonzero(turning[1:] & ~turning[:-1]) + 1
    ends = np.flatnonzero(turning[:-1] & ~turning[1:]) + 1
    assert len(starts) == len(ends) == 4
    for i0, i1 in zip(starts, ends, strict=True):
        assert abs(measured_lat[i0:i1].min() - true_lat[i0:i1].min()) < 0.02 * G
    stop = slice(len(m.accel) - 34 * 10, len(m.accel) - 30 * 10)
    assert abs(m.accel[stop, 0].min() - a_lon[::10][stop].min()) < 0.03 * G  # 0.5 s smoothing
    turns = [c for c in detect_motion(m, cfg) if c.type == "harsh_turn"]
    assert [c.direction for c in turns] == ["right"] * 4


def _first_minutes_copy(trip, folder, seconds: float):
    """A phone folder with the first ``seconds`` of ``trip`` and the labels that end in them."""
    folder.mkdir()
    (folder / "viagem.json").write_text((trip / "viagem.json").read_text())
    for name in ("acelerometro_terra.csv", "aceleracaoLinear_terra.csv", "giroscopio_terra.csv"):
        header, *rows = (trip / name).read_text().splitlines()
        t0 = int(rows[0].split(",")[1])
        kept = [r for r in rows if int(r.split(",")[1]) - t0 <= seconds * 1e9]
        (folder / name).write_text("\n".join([header, *kept]) + "\n")
    header, *labels = (trip / "groundTruth.csv").read_text().splitlines()
    kept = [lb for lb in labels if lb and float(lb.split(",")[2]) <= seconds]
    (folder / "groundTruth.csv").write_text("\n".join([header, *kept]) + "\n")
    return len(kept)


def test_every_drive_is_scored_against_its_own_ingested_labels_and_pooled(lake, tmp_path):
    from typer.testing import CliRunner

    from drivelake.cli import app
    from drivelake.errors import InputError
    from drivelake.events.evaluate import evaluate_lake

    trip = shared("phone-imu", "trip21")
    n_labels = _first_minutes_copy(trip, tmp_path / "first", 400.0)
    lake.ingest([trip, tmp_path / "first"])
    detect(lake)
    result = evaluate_lake(lake)
    assert len(result["drives"]) == 2
    per_drive = list(result["drives"].values())
    for count in ("tp", "fp", "fn", "unlabelled"):
        assert result["pooled"]["all"][count] == sum(s["all"][count] for s in per_drive)
    pooled = result["pooled"]["harsh_brake"]
    assert pooled["tp"] == sum(s["harsh_brake"]["tp"] for s in per_drive) > 6
    assert pooled["recall"] == pooled["tp"] / (pooled["tp"] + pooled["fn"])
    # the copy's labels are its own: fewer than the whole trip's, every one scored
    short = min(per_drive, key=lambda s: s["all"]["tp"] + s["all"]["fn"])
    aggressive = n_labels - sum("nao_agressivo" in lb for lb in _labels(tmp_path / "first"))
    assert short["all"]["tp"] + short["all"]["fn"] == aggressive

    out = CliRunner().invoke(app, ["--lake", lake.uri, "eval", "events", "--all", "-f", "json"])
    assert out.exit_code == 0, out.output
    rows = json.loads(out.output)
    assert {r["drive"] for r in rows} == {*result["drives"], "pooled"}
    assert [r["tp"] for r in rows if r["drive"] == "pooled" and r["type"] == "all"] == [
        result["pooled"]["all"]["tp"]
    ]
    # what every event and label became, for review: the outcomes add up to the scores
    matches = tmp_path / "matches.csv"
    args = ["--lake", lake.uri, "eval", "events", "--all", "--matches", str(matches)]
    assert CliRunner().invoke(app, args).exit_code == 0
    outcome = pacsv.read_csv(matches).column("outcome").to_pylist()
    total = result["pooled"]["all"]
    assert outcome.count("tp") == total["tp"] and outcome.count("fn") == total["fn"]
    assert outcome.count("fp") + outcome.count("fp_unlabelled") == total["fp"]
    assert outcome.count("fp_unlabelled") == total["unlabelled"]
    table = pacsv.read_csv(matches).to_pylist()
    stored = set(lake.sql("SELECT event_id FROM events").column(0).to_pylist())
    assert all(r["event_id"] in stored for r in table if r["source"] == "prediction")
    assert all(r["event_id"] is None for r in table if r["source"] == "label")
    # labels edited after ingest are not silently scored: the error names the file, and in a
    # batch that drive is left out while the others are still scored
    (tmp_path / "first" / "groundTruth.csv").write_text("evento, inicio, fim\n")
    short_id = next(d for d, sc in result["drives"].items() if sc is short)
    with pytest.raises(InputError, match="changed since drive"):
        evaluate_lake(lake, {short_id: None})
    batch = evaluate_lake(lake)
    assert list(batch["skipped"]) == [short_id]
    assert str(tmp_path / "first" / "groundTruth.csv") in batch["skipped"][short_id]
    assert list(batch["drives"]) == [d for d in result["drives"] if d != short_id]


def _labels(folder) -> list[str]:
    return (folder / "groundTruth.csv").read_text().splitlines()[1:]
