"""NMEA reader: positions agree with gpsd on real receiver logs; messy logs are survived."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import reduce
from pathlib import Path

import numpy as np
import pytest

from conftest import SHARED_DATA, shared
from drivelake.errors import InputError
from drivelake.ingest.base import ReadOptions
from drivelake.ingest.formats import best_reader
from drivelake.ingest.nmea import NMEA_READER, read_nmea, sniff_nmea

DAY_NS = 86_400 * 10**9
NMEA_LOGS = sorted(p.name for p in (SHARED_DATA / "gps").glob("nmea-*.log")) or ["nmea-*.log"]


# --------------------------------------------------------------------------- gpsd comparison


def _tod_ns(hhmmss: str) -> int:
    """Time of day in ns, exactly (Decimal, unlike the reader's float arithmetic)."""
    hours, minutes, seconds = int(hhmmss[:2]), int(hhmmss[2:4]), Decimal(hhmmss[4:])
    return int((hours * 3600 + minutes * 60 + seconds) * 10**9)


def _sentence_tod(sentence: str) -> int | None:
    """The time of day of a timed position sentence (RMC, GGA, GLL), else None."""
    fields = sentence.split("*")[0].split(",")
    kind = fields[0][3:]
    index = {"RMC": 1, "GGA": 1, "GLL": 5}.get(kind)
    if index is None or len(fields) <= index or not fields[index]:
        return None
    return _tod_ns(fields[index])


def gpsd_verdicts(check: Path) -> dict[int, tuple[float, float] | None]:
    """gpsd's final word on each epoch: its fix position, or None where it had no fix.

    The check file lists every input sentence followed by the reports gpsd made after it;
    the last TPV after a timed position sentence is gpsd's verdict for that time of day.
    """
    verdicts: dict[int, tuple[float, float] | None] = {}
    tod = None
    for line in check.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith("$"):
            tod = _sentence_tod(line)
        elif line.startswith("{") and tod is not None:
            report = json.loads(line)
            if report.get("class") == "TPV" and "mode" in report:
                fixed = report["mode"] >= 2 and "lat" in report
                verdicts[tod] = (report["lat"], report["lon"]) if fixed else None
    return verdicts


@pytest.mark.parametrize("name", NMEA_LOGS)
def test_positions_match_gpsd(name):
    log = shared("gps", name)
    verdicts = gpsd_verdicts(log.with_name(log.name.replace(".log", ".gpsd-check.txt")))
    fixes = {tod: pos for tod, pos in verdicts.items() if pos is not None}
    assert verdicts, "the gpsd check file has no TPV reports"
    if not fixes:
        with pytest.raises(InputError, match="no valid position fix") as err:
            read_nmea(log, ReadOptions())
        assert str(log) in str(err.value)
        return
    rec = read_nmea(log, ReadOptions())
    gnss = rec.streams[0]
    ours = {
        int(t) % DAY_NS: (lat, lon)
        for t, lat, lon in zip(gnss.t_ns, gnss.channels["lat"], gnss.channels["lon"], strict=True)
    }
    assert len(ours) == len(gnss), "two samples at the same time of day"
    for tod, (lat, lon) in fixes.items():
        assert tod in ours, f"gpsd has a fix at {tod / 1e9:.3f} s of the day, we have none"
        assert ours[tod] == pytest.approx((lat, lon), abs=1e-6)
    no_fix = {tod for tod, pos in verdicts.items() if pos is None}
    assert not set(ours) & no_fix, "positions where gpsd had no fix"
    # gpsd reports at the end of a cycle: only a log's last, unfinished cycle goes unjudged
    unjudged = set(ours) - set(verdicts)
    assert all(tod > max(verdicts) for tod in unjudged), sorted(unjudged)
    assert rec.source_format == "nmea" and rec.source_frame == "none"
    assert rec.utc_offset_ns == 0
    assert np.all(np.diff(gnss.t_ns) > 0)


@pytest.mark.parametrize(
    ("name", "day"),
    [("nmea-ac12.log", date(2007, 12, 23)), ("nmea-rx210.log", date(2016, 4, 3))],
)
def test_date_comes_from_rmc(name, day):
    rec = read_nmea(shared("gps", name), ReadOptions())
    first = datetime.fromtimestamp(rec.streams[0].t_ns[0] / 1e9, tz=UTC)
    assert first.date() == day


def test_rx210_channels_in_si_units():
    rec = read_nmea(shared("gps", "nmea-rx210.log"), ReadOptions())
    ch = rec.streams[0].channels
    assert rec.metadata["talkers"] == "GL,GN,GP"
    assert "course_deg" not in ch  # the receiver never reports it: no column of NaN
    # first fix: $GNRMC,184102.00,A,...,0.419 (knots) and $GNGGA ...,1,05,3.62,159.6,M
    assert ch["speed_mps"][0] == pytest.approx(0.419 * 1852 / 3600)
    assert (ch["alt_m"][0], ch["hdop"][0], ch["sats"][0]) == pytest.approx((159.6, 3.62, 5))


# --------------------------------------------------------------------------- generated logs


def nmea(body: str) -> str:
    """A sentence with its checksum."""
    return f"${body}*{reduce(lambda a, c: a ^ ord(c), body, 0):02X}"


def epoch(hhmmss: str, ddmmyy: str | None, lat_min: float, *, talker: str = "GP") -> list[str]:
    """RMC + GGA of one fix near 48°N 11°E; ``ddmmyy=None`` leaves RMC out (a GGA-only log)."""
    lat = f"48{lat_min:07.4f}"
    gga = nmea(f"{talker}GGA,{hhmmss},{lat},N,01130.0000,E,1,08,0.9,520.0,M,47.0,M,,")
    if ddmmyy is None:
        return [gga]
    rmc = nmea(f"{talker}RMC,{hhmmss},A,{lat},N,01130.0000,E,10.0,90.0,{ddmmyy},,,A")
    return [rmc, gga]


def write(path: Path, lines: list[str] | bytes) -> Path:
    data = lines if isinstance(lines, bytes) else ("\r\n".join(lines) + "\r\n").encode()
    path.write_bytes(data)
    return path


def drive_lines(n: int = 10, start_s: int = 12 * 3600) -> list[str]:
    lines = ["# logged by a test"]
    for i in range(n):
        t = start_s + i
        lines += epoch(f"{t // 3600:02d}{t // 60 % 60:02d}{t % 60:02d}.00", "150324", i * 0.01)
    return lines


def test_epoch_sentences_merge_into_one_sample(tmp_path):
    lines = [
        nmea("GNRMC,101500.00,A,4807.0380,N,01131.0000,E,022.4,084.4,230394,003.1,W,A"),
        nmea("GNVTG,084.4,T,081.3,M,022.4,N,041.5,K,A"),
        nmea("GNGGA,101500.00,4807.03812,N,01131.00000,E,2,12,0.8,545.4,M,46.9,M,,"),
        nmea("GNGSA,A,3,04,05,09,12,,,,,,,,,1.5,0.8,1.2,1"),
        nmea("GNGSA,A,3,65,67,,,,,,,,,,,1.5,0.8,1.2,2"),
        nmea("GAVTG,,T,,M,0.0,N,0.0,K,N"),
    ]
    rec = read_nmea(write(tmp_path / "one.nmea", lines), ReadOptions())
    gnss = rec.streams[0]
    assert len(gnss) == 1 and rec.repairs == []
    ch = {k: float(v[0]) for k, v in gnss.channels.items()}
    assert ch["lat"] == pytest.approx(48 + 7.03812 / 60)  # GGA's extra digit wins
    assert ch["lon"] == pytest.approx(11 + 31 / 60)
    assert ch["speed_mps"] == pytest.approx(22.4 * 0.514444, rel=1e-5)
    assert (ch["course_deg"], ch["alt_m"], ch["hdop"], ch["sats"]) == (84.4, 545.4, 0.8, 12)
    assert gnss.t_ns[0] == np.datetime64("1994-03-23T10:15:00", "ns").astype(np.int64)


def test_gsa_and_vtg_fill_in_without_gga(tmp_path):
    lines = [
        nmea("GPRMC,101500,A,4807.038,S,01131.000,W,,,230394,,"),
        nmea("GPVTG,054.7,034.4,005.5,010.2"),  # NMEA 1.x: no unit letters
        nmea("GPGSA,A,3,04,05,,09,12,,,,,,,,2.5,1.3,2.1"),
    ]
    ch = read_nmea(write(tmp_path / "old.nmea", lines), ReadOptions()).streams[0].channels
    assert (ch["lat"][0], ch["lon"][0]) == pytest.approx((-48.1173, -11.51666667))
    assert (ch["course_deg"][0], ch["hdop"][0], ch["sats"][0]) == (54.7, 1.3, 4)
    assert ch["speed_mps"][0] == pytest.approx(5.5 * 1852 / 3600)
    assert "alt_m" not in ch


def test_bad_checksums_are_counted_and_skipped(tmp_path):
    lines = drive_lines(10)
    for i in (6, 7, 13):  # lines 6-7 are the third epoch's RMC and GGA
        lines[i - 1] = lines[i - 1][:-2] + ("00" if not lines[i - 1].endswith("00") else "11")
    rec = read_nmea(write(tmp_path / "bad.nmea", lines), ReadOptions())
    assert len(rec.streams[0]) == 9
    assert rec.repairs == ["3 sentences with bad checksums skipped (first at line 6)"]


def test_binary_junk_and_other_protocols_are_ignored(tmp_path):
    rng = np.random.default_rng(7)
    clean = drive_lines(10)
    noisy = [
        b"\xb5\x62\x01\x07\x5c\x00" + rng.integers(0, 256, 92, dtype=np.uint8).tobytes(),
        nmea("PGRMZ,2282,f,3").encode(),
        nmea("PSRF103,00,01,00,01").encode(),
        b"@@Ea\x01\x02 motorola binary $$ \x00",
    ]
    out = bytearray()
    for i, line in enumerate(clean):
        out += noisy[i % len(noisy)] if i % 3 == 0 else b""
        out += line.encode() + b"\r\n"
    out += rng.integers(0, 256, 4000, dtype=np.uint8).tobytes().replace(b"$", b"#")
    rec = read_nmea(write(tmp_path / "junk.log", bytes(out)), ReadOptions())
    assert len(rec.streams[0]) == 10
    assert rec.repairs == []


def test_truncated_last_line(tmp_path):
    lines = drive_lines(5)
    lines[-1] = lines[-1][:40]
    path = tmp_path / "cut.nmea"
    path.write_text("\n".join(lines))  # no newline at the end either
    rec = read_nmea(path, ReadOptions())
    assert len(rec.streams[0]) == 5  # the last epoch still has its RMC
    assert rec.repairs == ["1 incomplete sentence (no checksum) skipped (first at line 11)"]
    assert "alt_m" in rec.streams[0].channels


def test_day_rollover_advances_the_date(tmp_path):
    lines = []
    for hhmmss, ddmmyy in [("235958", None), ("235959", "311223"), ("000000", None),
                           ("000001", None), ("000002", "010124")]:  # fmt: skip
        # RMC only where the date is given: the others are GGA-only epochs
        lines += epoch(hhmmss, ddmmyy, 1.0)
    t = read_nmea(write(tmp_path / "midnight.nmea", lines), ReadOptions()).streams[0].t_ns
    start = np.datetime64("2023-12-31T23:59:58", "ns").astype(np.int64)
    assert (t - start).tolist() == [i * 10**9 for i in range(5)]


def test_log_without_a_date_keeps_times_of_day(tmp_path):
    lines = [line for hh in ("2359", "0000") for line in epoch(f"{hh}30", None, 2.0)]
    rec = read_nmea(write(tmp_path / "gga.nmea", lines), ReadOptions())
    assert rec.utc_offset_ns is None
    assert "no date" in rec.metadata["time_base"]
    assert rec.streams[0].t_ns.tolist() == [86_370 * 10**9, (86_400 + 30) * 10**9]


def test_no_fix_is_an_error_naming_the_file(tmp_path):
    lines = [
        nmea("GNRMC,184040.00,V,,,,,,,030416,,,N"),
        nmea("GNGGA,184041.00,,,,,0,04,28.92,,,,,,"),
        nmea("GPRMC,184042.00,A,4807.038,N,01131.000,E,0.1,,030416,,,N"),  # mode N: no fix
    ]
    path = write(tmp_path / "nofix.nmea", lines)
    with pytest.raises(InputError, match="no valid position fix") as err:
        read_nmea(path, ReadOptions())
    assert err.value.path == str(path)
    with pytest.raises(InputError, match="no NMEA"):
        read_nmea(write(tmp_path / "empty.nmea", ["# nothing", "$GPRMC,oops"]), ReadOptions())


def test_malformed_fields_are_counted(tmp_path):
    lines = drive_lines(3)
    lines.insert(2, nmea("GPGGA,12xx00.00,4801.0,N,01130.0,E,1,08,0.9,520.0,M,,,,"))
    lines.insert(3, nmea("GPRMC,120000.50,A,4861.0000,N,01130.0000,E,1.0,,150324,,"))
    rec = read_nmea(write(tmp_path / "garbled.nmea", lines), ReadOptions())
    assert len(rec.streams[0]) == 3
    assert rec.repairs == ["2 malformed sentences skipped (first at line 3)"]


def test_sniff(tmp_path):
    log = write(tmp_path / "drive.txt", drive_lines(2))
    assert sniff_nmea(log) >= 0.9
    assert best_reader(log, folder=False) is NMEA_READER
    csv = tmp_path / "x.csv"
    csv.write_text("time,lat,lon\n0,48.1,11.5\n")
    assert sniff_nmea(csv) == 0.0
    assert sniff_nmea(write(tmp_path / "bare.log", [re.sub(r"\*..$", "", drive_lines(1)[1])])) == 0


# --------------------------------------------------------------------------- into the lake


def test_ingest_into_lake(lake):
    log = shared("gps", "nmea-rx210.log")
    report = lake.ingest([log])
    assert report.ok and report.count("ingested") == 1, report.results
    drive = lake.drives().to_pylist()[0]
    assert drive["source_format"] == "nmea"
    assert drive["distance_m"] > 0
    assert drive["start_utc"].isoformat().startswith("2016-04-03T18:41:02")
    gnss = lake.stream(drive["drive_id"], "gnss")
    assert gnss.num_rows == len(read_nmea(log, ReadOptions()).streams[0])
    lat = gnss.column("lat").to_numpy()
    assert np.all((lat > 50.0) & (lat < 50.01))
    assert lake.ingest([log]).count("already present") == 1


@pytest.mark.parametrize("name", ["nmea-iTrek.log", "nmea-gps-360.log", "nmea-rx210.log"])
def test_every_fix_reaches_the_lake(name, lake):
    """Fixes without altitude or satellites (an RMC without its GGA) are kept, not dropped."""
    path = shared("gps", name)
    fixes = len(read_nmea(path, ReadOptions()).streams[0])
    report = lake.ingest([path], max_gap_s=1e9)
    assert report.ok, report.results
    stored = sum(lake.stream(d, "gnss").num_rows for d in report.drive_ids)
    assert stored == fixes
