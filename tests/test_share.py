"""Sharing: hashed keys (also created over HTTP), licences, revocation, signed bundles, audit."""

from __future__ import annotations

import json
import stat
from datetime import date, timedelta

import pytest
from typer.testing import CliRunner

from csvgen import write_csv
from drivelake.cli import app
from drivelake.errors import AccessError, InputError, NotFoundError
from drivelake.share import Sharing
from drivelake.share.bundle import export_bundle, verify_bundle
from drivelake.share.views import PartnerView
from live_server import live_server


@pytest.fixture
def sharing(lake, tmp_path):
    lake.ingest([write_csv(tmp_path / "a.csv"), write_csv(tmp_path / "b.csv", seed=1, t0=1.8e9)])
    sharing = Sharing(lake)
    sharing.add_partner("acme", "ops@acme.example")
    return sharing


def _share(sharing, **kw):
    args = dict(partner="acme", uses=["research"], expires=date(2099, 1, 1), selection="true")
    return sharing.create_share("night-brakes@v1", **{**args, **kw})


def test_secret_is_private_and_key_shown_once(sharing, lake):
    secret = sharing.audit.path.parent / "secret"
    mode = stat.S_IMODE(secret.stat().st_mode)
    assert mode == 0o600
    key = sharing.create_key(partner="acme")
    stored = json.dumps([str(r) for r in lake.sql("SELECT * FROM api_keys").to_pylist()])
    assert key.token.split("_", 2)[2] not in stored and key.key_id in stored
    assert sharing.authenticate(key.token).partner == "acme"
    sharing.revoke_key(key.key_id)
    with pytest.raises(AccessError, match="revoked"):
        sharing.authenticate(key.token)
    with pytest.raises(AccessError):
        sharing.authenticate(key.token[:-1] + ("A" if key.token[-1] != "A" else "B"))


def test_share_freezes_selection_and_checks_licence(sharing, lake, tmp_path):
    share = _share(sharing)
    assert len(share.drive_ids) == 2
    lake.ingest([write_csv(tmp_path / "c.csv", seed=2, t0=1.9e9)])
    assert len(sharing.share(share.share_id).drive_ids) == 2  # exactly the target, as created
    expired = _share(sharing, expires=date.today() - timedelta(days=1))
    partner = sharing.create_key(partner="acme")
    with pytest.raises(AccessError, match="expired"):
        sharing.open_share(expired.share_id, sharing.authenticate(partner.token))
    with pytest.raises(NotFoundError, match="datasets"):
        sharing.create_share("night@v1", partner="acme", uses=["x"], expires=date(2099, 1, 1))
    with pytest.raises(InputError):
        _share(sharing, anonymise=["eyes"])


def test_partner_view_limits_columns(sharing):
    share = _share(sharing, columns=["duration_s", "ax"], anonymise=["zones"])
    view = PartnerView(sharing.lake, share, sharing.secret)
    assert set(view.drives().column_names) == {"drive_id", "duration_s", "vehicle"}
    signals = view.signals(share.drive_ids[0])
    assert set(signals.column_names) <= {"stream", "t_s", "ax"}


def test_bundle_is_signed_and_detects_changes(sharing, tmp_path):
    share = _share(sharing, columns=["duration_s", "speed_mps"])
    out = export_bundle(sharing, share.share_id, tmp_path / "bundle")
    assert verify_bundle(out, sharing.secret) == []
    (out / "drives.parquet").write_bytes(b"changed")
    assert verify_bundle(out, sharing.secret) == ["drives.parquet: content changed"]
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["share"]["columns"] = None
    (out / "manifest.json").write_text(json.dumps(manifest))
    assert "signature" in verify_bundle(out, sharing.secret)[0]
    assert any(e["action"] == "share.export" for e in sharing.audit.entries())


def test_audit_verify_fails_after_tampering(sharing, lake):
    for _ in range(3):
        sharing.create_key(partner="acme")
    runner = CliRunner()
    result = runner.invoke(app, ["--lake", lake.uri, "audit", "verify"])
    assert result.exit_code == 0, result.output
    lines = sharing.audit.path.read_text().splitlines()
    lines[2] = lines[2].replace('"acme"', '"evil"')
    sharing.audit.path.write_text("\n".join(lines) + "\n")
    result = runner.invoke(app, ["--lake", lake.uri, "audit", "verify"])
    assert result.exit_code != 0
    assert sharing.audit.verify().line == 3


def test_admin_creates_keys_over_http(sharing):
    pytest.importorskip("fastapi")
    import httpx

    from drivelake.server import create_app

    admin = sharing.create_key(admin=True)
    with live_server(create_app(sharing.lake)) as base:
        api = httpx.Client(base_url=base, headers={"X-API-Key": admin.token}, timeout=30)
        r = api.post("/api/keys", json={"partner": "acme", "role": "partner"})
        assert r.status_code == 201, r.text
        created = r.json()
        assert set(created) == {"key_id", "key", "partner", "role"}
        assert (created["partner"], created["role"]) == ("acme", "partner")
        assert r.headers["cache-control"] == "no-store"
        partner = {"X-API-Key": created["key"]}
        assert httpx.get(f"{base}/api/shares", headers=partner).status_code == 200
        assert (
            httpx.post(f"{base}/api/keys", headers=partner, json={"role": "admin"}).status_code
            == 403
        )
        listed = api.get("/api/keys")
        assert (
            created["key_id"] in listed.text and created["key"].split("_", 2)[2] not in listed.text
        )
        assert api.post("/api/keys", json={"role": "partner"}).status_code == 400
        assert (
            api.post("/api/keys", json={"role": "partner", "partner": "nobody"}).status_code == 404
        )
        assert api.post("/api/keys", json={"role": "root"}).status_code == 422
        second = api.post("/api/keys", json={"role": "admin"}).json()
        assert second["partner"] is None and sharing.authenticate(second["key"]).is_admin
    audited = [e for e in sharing.audit.entries() if e["action"] == "key.create"]
    assert {"actor": admin.key_id, "key": created["key_id"]}.items() <= audited[-2].items()
    assert all(created["key"] not in line for line in sharing.audit.path.read_text().splitlines())
