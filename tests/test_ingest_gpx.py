"""GPX reader: real files agree with an independent count; malformed XML fails clearly."""

from __future__ import annotations

import re
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest

from conftest import SHARED_DATA, shared
from drivelake.errors import InputError
from drivelake.ingest.base import ReadOptions
from drivelake.ingest.formats import best_reader
from drivelake.ingest.gpx import GPX_READER, read_gpx, sniff_gpx

GPX_FILES = sorted(p.name for p in (SHARED_DATA / "gps").glob("gpx-*.gpx")) or ["gpx-*.gpx"]


def timed_points_by_regex(text: str) -> tuple[str, list[tuple[float, float]]] | None:
    """(tag, [(lat, lon)]) of the timed points the reader should use, found with regexes.

    Tracks first, then routes, then waypoints; a time before 1980 is a placeholder.
    """
    for tag in ("trkpt", "rtept", "wpt"):
        pattern = rf"<{tag}\b([^>]*?)(?:/>|>(.*?)</{tag}>)"
        timed = []
        for attrs, body in re.findall(pattern, text, flags=re.S):
            year = re.search(r"<time>\s*(\d{4})-", body)
            if year and int(year[1]) >= 1980:
                lat = float(re.search(r'lat="([^"]+)"', attrs)[1])
                lon = float(re.search(r'lon="([^"]+)"', attrs)[1])
                timed.append((lat, lon))
        if timed:
            return tag, timed
    return None


@pytest.mark.parametrize("name", GPX_FILES)
def test_real_gpx_files(name):
    path = shared("gps", name)
    text = path.read_text(encoding="utf-8")
    expected = timed_points_by_regex(text)
    if expected is None:
        with pytest.raises(InputError, match="no timed points") as err:
            read_gpx(path, ReadOptions())
        assert str(path) in str(err.value)
        return
    tag, positions = expected
    rec = read_gpx(path, ReadOptions())
    gnss = rec.streams[0]
    assert rec.metadata["read"] == tag
    assert len(gnss) == len(positions)
    lat, lon = np.array(positions).T
    assert np.array_equal(np.sort(gnss.channels["lat"]), np.sort(lat))
    assert np.array_equal(np.sort(gnss.channels["lon"]), np.sort(lon))
    assert np.all(np.abs(gnss.channels["lat"]) <= 90) and np.all(
        np.abs(gnss.channels["lon"]) <= 180
    )
    assert np.all(np.diff(gnss.t_ns) > 0)
    assert gnss.t_ns[0] >= np.datetime64("1980-01-06", "ns").astype(np.int64)
    assert rec.utc_offset_ns == 0 and rec.source_format == "gpx"
    assert sniff_gpx(path) > 0.9


def test_all_fields_file_dilution_and_satellites():
    rec = read_gpx(shared("gps", "gpx-gpx1.1_with_all_fields.gpx"), ReadOptions())
    ch = {k: float(v[0]) for k, v in rec.streams[0].channels.items()}
    # <trkpt lat="10.1" lon="-20.2"><ele>11.1</ele><time>2013-01-01T12:00:04</time>…
    assert ch == {"lat": 10.1, "lon": -20.2, "alt_m": 11.1, "hdop": 101.0, "sats": 100.0}
    assert rec.streams[0].t_ns[0] == np.datetime64("2013-01-01T12:00:04", "ns").astype(np.int64)
    assert rec.metadata["gpx_version"] == "1.1"


def test_placeholder_times_are_not_times():
    with pytest.raises(InputError, match=r"no timed points \(184 track points"):
        read_gpx(shared("gps", "gpx-Mojstrovka.gpx"), ReadOptions())


# --------------------------------------------------------------------------- generated files

GPX11 = """<?xml version="1.0" encoding="UTF-8"?>
<gpx version="1.1" creator="test" xmlns="http://www.topografix.com/GPX/1/1"
  xmlns:gpxtpx="http://www.garmin.com/xmlschemas/TrackPointExtension/v2">
{body}
</gpx>
"""


def trkpt(lat: float, time: str | None, extra: str = "") -> str:
    stamp = f"<time>{time}</time>" if time else ""
    return f'<trkpt lat="{lat}" lon="11.5"><ele>500</ele>{stamp}{extra}</trkpt>'


def garmin(speed: float, course: float) -> str:
    return (
        "<extensions><gpxtpx:TrackPointExtension>"
        f"<gpxtpx:speed>{speed}</gpxtpx:speed><gpxtpx:course>{course}</gpxtpx:course>"
        "</gpxtpx:TrackPointExtension></extensions>"
    )


def write(tmp_path: Path, body: str, template: str = GPX11, name: str = "t.gpx") -> Path:
    path = tmp_path / name
    path.write_text(template.format(body=body), encoding="utf-8")
    return path


def test_tracks_and_segments_become_one_stream_in_time_order(tmp_path):
    later = "<trk><trkseg>{}{}</trkseg><trkseg>{}</trkseg></trk>".format(
        trkpt(48.3, "2024-05-01T10:00:10Z", garmin(13.9, 270)),
        trkpt(48.4, "2024-05-01T10:00:11Z", garmin(14.1, 271)),
        trkpt(48.5, "2024-05-01T12:00:12+02:00", garmin(14.3, 272)),  # = 10:00:12Z
    )
    earlier = "<trk><trkseg>{}{}</trkseg></trk>".format(
        trkpt(48.1, "2024-05-01T10:00:00.5Z", garmin(10.0, 90)),
        trkpt(48.2, None, garmin(10.0, 90)),
    )
    path = write(tmp_path, later + "\n" + earlier)
    rec = read_gpx(path, ReadOptions())
    gnss = rec.streams[0]
    base = np.datetime64("2024-05-01T10:00:00", "ns").astype(np.int64)
    assert ((gnss.t_ns - base) / 1e9).tolist() == [0.5, 10, 11, 12]
    assert gnss.channels["lat"].tolist() == [48.1, 48.3, 48.4, 48.5]
    assert gnss.channels["speed_mps"].tolist() == [10.0, 13.9, 14.1, 14.3]
    assert gnss.channels["course_deg"].tolist() == [90, 270, 271, 272]
    assert rec.repairs == ["1 track point without a usable time skipped (first at line 5)"]


def test_gpx10_speed_and_course_elements(tmp_path):
    template = '<gpx version="1.0" xmlns="http://www.topografix.com/GPX/1/0">{body}</gpx>'
    body = "".join(
        f'<trk><trkseg><trkpt lat="-33.9" lon="{151.2 + i / 1000}"><time>2009-10-17T18:37:{i:02d}Z'
        f"</time><course>{i * 10}</course><speed>{i * 1.5}</speed><sat>7</sat><hdop>1.2</hdop>"
        "</trkpt></trkseg></trk>"
        for i in range(3)
    )
    ch = read_gpx(write(tmp_path, body, template), ReadOptions()).streams[0].channels
    assert ch["speed_mps"].tolist() == [0, 1.5, 3.0]
    assert ch["course_deg"].tolist() == [0, 10, 20]
    assert set(ch) == {"lat", "lon", "speed_mps", "course_deg", "sats", "hdop"}


def test_timed_route_or_waypoints_when_no_track(tmp_path):
    route = "<rte>{}</rte>".format(
        "".join(
            f'<rtept lat="45.{i}" lon="13.7"><time>2020-01-01T00:0{i}:00Z</time></rtept>'
            for i in range(4)
        )
    )
    untimed_track = f"<trk><trkseg>{trkpt(1.0, None)}</trkseg></trk>"
    rec = read_gpx(write(tmp_path, route + untimed_track), ReadOptions())
    assert rec.metadata["read"] == "rtept" and len(rec.streams[0]) == 4
    wpts = '<wpt lat="1.5" lon="2.5"><time>2020-01-01T00:00:00Z</time></wpt><wpt lat="1" lon="2"/>'
    rec = read_gpx(write(tmp_path, wpts), ReadOptions())
    assert rec.metadata["read"] == "wpt" and len(rec.streams[0]) == 1


def test_no_times_at_all_names_the_file(tmp_path):
    path = write(tmp_path, f"<trk><trkseg>{trkpt(1.0, None)}{trkpt(1.1, None)}</trkseg></trk>")
    with pytest.raises(InputError, match="no timed points") as err:
        read_gpx(path, ReadOptions())
    assert err.value.path == str(path) and "2 track points" in str(err.value)


def test_truncated_xml_names_file_and_line(tmp_path):
    full = GPX11.format(body="<trk><trkseg>" + "\n".join(
        trkpt(48 + i / 100, f"2024-05-01T10:00:{i:02d}Z") for i in range(20)
    ) + "</trkseg></trk>")  # fmt: skip
    path = tmp_path / "cut.gpx"
    path.write_text(full[: len(full) // 2])
    with pytest.raises(InputError, match=r"malformed XML") as err:
        read_gpx(path, ReadOptions())
    assert err.value.path == str(path)
    assert re.fullmatch(r"line \d+", err.value.where)


def test_not_gpx_xml(tmp_path):
    kml = tmp_path / "doc.gpx"
    kml.write_text('<?xml version="1.0"?><kml xmlns="http://www.opengis.net/kml/2.2"></kml>')
    with pytest.raises(InputError, match=r"not a GPX file \(the root element is <kml>\)"):
        read_gpx(kml, ReadOptions())
    with pytest.raises(InputError, match="malformed XML"):
        read_gpx(write(tmp_path, "", template="lat,lon\n1,2\n", name="x.gpx"), ReadOptions())


def test_doctype_is_rejected(tmp_path):
    laughs = (
        '<?xml version="1.0"?>\n<!DOCTYPE gpx [<!ENTITY a "aaaaaaaaaa">'
        + "".join(f'<!ENTITY {c} "{("&" + p + ";") * 10}">' for p, c in pairwise("abcdefgh"))
        + ']>\n<gpx version="1.1"><trk><trkseg><trkpt lat="1" lon="2"><time>2020-01-01T00:00:00Z'
        "</time><name>&h;</name></trkpt></trkseg></trk></gpx>"
    )
    path = tmp_path / "laughs.gpx"
    path.write_text(laughs)
    with pytest.raises(InputError, match="DOCTYPE"):
        read_gpx(path, ReadOptions())


def test_bad_values_name_the_line(tmp_path):
    path = write(tmp_path, '<trk><trkseg>\n<trkpt lat="north" lon="1"/></trkseg></trk>')
    with pytest.raises(InputError, match="numeric lat/lon") as err:
        read_gpx(path, ReadOptions())
    assert err.value.where == "line 5"
    path = write(tmp_path, f"<trk><trkseg>\n{trkpt(1.0, 'yesterday')}</trkseg></trk>")
    with pytest.raises(InputError, match="unreadable time 'yesterdayZ'") as err:
        read_gpx(path, ReadOptions())
    assert err.value.where == "line 5"


def test_sniff(tmp_path):
    path = write(tmp_path, "", name="track.xml")
    assert sniff_gpx(path) > 0.9
    assert best_reader(path, folder=False) is GPX_READER
    csv = tmp_path / "x.csv"
    csv.write_text("time,lat,lon\n0,48.1,11.5\n")
    assert sniff_gpx(csv) == 0.0


def test_ingest_into_lake(lake):
    path = shared("gps", "gpx-cerknicko-jezero.gpx")
    report = lake.ingest([path])
    assert report.ok and report.count("ingested") >= 1, report.results
    drives = lake.drives().to_pylist()
    assert {d["source_format"] for d in drives} == {"gpx"}
    assert sum(d["distance_m"] for d in drives) > 1000
    rows = sum(lake.stream(d["drive_id"], "gnss").num_rows for d in drives)
    assert rows == len(read_gpx(path, ReadOptions()).streams[0])
    assert all(d["start_utc"].year == 2010 for d in drives)
