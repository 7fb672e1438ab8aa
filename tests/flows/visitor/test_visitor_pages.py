"""The visitor pages and API: residents, the public request page, the gate, the log."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask import Flask

from app.api.openapi import undocumented_routes
from app.visitors import passes
from app.visitors.models import VisitorPass, VisitRequest
from tests.conftest import csrf_from
from tests.flows.visitor.conftest import World, window

TOMORROW = {"date": "2026-11-23", "start": "14:00", "end": "16:00"}


def invite_form(auth: Any, world: World, **extra: Any) -> dict[str, Any]:
    return {"csrf_token": auth.csrf("/my/visitors/"), "unit_id": world.unit.id,
            "visitor_name": "张三", "visitor_phone": "13800138000", "party_size": "2",
            "purpose": "visit", **TOMORROW, **extra}


def test_a_resident_invites_and_shares_a_pass(client: Any, auth: Any, world: World) -> None:
    auth.login("host")
    page = client.get("/my/visitors/").get_data(as_text=True)
    assert world.unit.label in page and 'id="invite-form"' in page
    response = client.post("/my/visitors/invite", data=invite_form(auth, world))
    assert response.status_code == 302
    shown = client.get(response.headers["Location"]).get_data(as_text=True)
    issued = VisitorPass.query.one()
    assert "<svg" in shown and passes.display_code(issued.code) in shown
    assert issued.valid_from.hour == 6  # 14:00 in Shanghai
    shared = client.get(f"/v/{passes.sign(issued.id, issued.code)}")
    assert shared.status_code == 200 and passes.display_code(issued.code) in shared.get_data(
        as_text=True)
    assert client.get("/v/EF1.k0.forged").status_code == 404
    token = csrf_from(client, f"/my/visitors/passes/{issued.id}")
    client.post(f"/my/visitors/passes/{issued.id}/revoke", data={"csrf_token": token})
    assert issued.revoked_at is not None


def test_invalid_invitation_shows_the_fields(client: Any, auth: Any, world: World) -> None:
    auth.login("host")
    response = client.post("/my/visitors/invite", data=invite_form(
        auth, world, visitor_phone="123", start="aa"))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'data-field="visitor_phone"' in page and 'data-field="start"' in page


def test_a_resident_without_a_unit_is_told(client: Any, auth: Any, world: World,
                                           create_user: Any) -> None:
    create_user("owner", projects=[world.project], username="lonely")
    auth.login("lonely")
    assert client.get("/my/visitors/").status_code == 200
    assert client.get("/api/v1/visitors/units").get_json() == {"items": []}


def test_the_public_request_page_works_without_an_account(client: Any, auth: Any,
                                                          world: World) -> None:
    assert client.get("/visit/VIS").status_code == 200
    data = {"building": "1号楼", "unit": world.unit.number, "visitor_name": "李四",
            "visitor_phone": "13900139000", "party_size": "1", "purpose": "visit", **TOMORROW}
    assert client.post("/visit/VIS", data=data).status_code == 400  # no CSRF token
    data["csrf_token"] = csrf_from(client, "/visit/VIS")
    response = client.post("/visit/VIS", data=data)
    assert response.status_code == 303
    status_url = response.headers["Location"]
    assert 'data-testid="request-status"' in client.get(status_url).get_data(as_text=True)
    assert client.post("/visit/VIS", data={**data, "unit": "999"}).status_code == 422
    # the host answers in the portal; the visitor's page then shows the pass
    auth.login("host")
    request = VisitRequest.query.one()
    assert f'data-request="{request.number}"' in client.get("/my/visitors/").get_data(
        as_text=True)
    token = auth.csrf("/my/visitors/")
    client.post(f"/my/visitors/requests/{request.id}/decide",
                data={"csrf_token": token, "decision": "approve"})
    assert request.status == "approved"
    auth.logout()
    page = client.get(status_url).get_data(as_text=True)
    assert "<svg" in page and passes.display_code(request.passes[0].code) in page


def test_public_requests_are_rate_limited(client: Any, world: World) -> None:
    data = {"building": "1号楼", "unit": world.unit.number, "visitor_name": "李四",
            "visitor_phone": "13900139000", **TOMORROW,
            "csrf_token": csrf_from(client, "/visit/VIS")}
    codes = [client.post("/visit/VIS", data=data).status_code for _ in range(4)]
    assert codes == [303, 303, 303, 429]


def test_the_public_api(client: Any, world: World) -> None:
    begin, finish = window(hours_from_now=2)
    body = {"project": "VIS", "building": "1号楼", "unit": world.unit.number,
            "visitor_name": "王五", "visitor_phone": "+86 137 0000 1111",
            "valid_from": begin.isoformat(), "valid_until": finish.isoformat()}
    created = client.post("/api/v1/visitors/public/requests", json=body)
    assert created.status_code == 201, created.get_json()
    token = created.get_json()["status_token"]
    status = client.get(f"/api/v1/visitors/public/requests/{token}").get_json()
    assert status["status"] == "pending" and status["pass"] is None
    bad = client.post("/api/v1/visitors/public/requests", json={**body, "valid_from": "x"})
    assert bad.status_code == 422


def test_the_gate_page(client: Any, auth: Any, world: World, invite: Any,
                       frozen_clock: Any) -> None:
    issued = invite()
    frozen_clock.advance(timedelta(hours=1))
    auth.login("gate1")
    assert 'id="scan-button"' in client.get("/gate").get_data(as_text=True)
    form = {"csrf_token": auth.csrf("/gate"), "code": passes.display_code(issued.code),
            "direction": "entry"}
    page = client.post("/gate/check", data=form).get_data(as_text=True)
    assert 'data-reason="ok"' in page and "张三" in page and "138****8000" in page
    again = client.post("/gate/check", data=form).get_data(as_text=True)
    assert 'data-reason="used"' in again
    assert client.post("/gate/check", data={**form, "code": ""}).status_code == 422


def test_the_gate_api(client: Any, auth: Any, world: World, invite: Any,
                      frozen_clock: Any) -> None:
    issued = invite()
    frozen_clock.advance(timedelta(hours=1))
    auth.login("gate1")
    token = auth.csrf("/gate")
    body = {"code": passes.sign(issued.id, issued.code), "project_id": world.project.id}
    result = client.post("/api/v1/visitors/gate/check", json=body,
                         headers={"X-CSRFToken": token}).get_json()
    assert result["ok"] and result["pass"]["visitor_phone"] == "138****8000"
    replay = client.post("/api/v1/visitors/gate/check", json=body,
                         headers={"X-CSRFToken": token}).get_json()
    assert (replay["ok"], replay["reason"]) == (False, "used")
    inside = client.get(f"/api/v1/visitors/gate/inside?project_id={world.project.id}")
    assert [p["visitor_name"] for p in inside.get_json()["items"]] == ["张三"]


def test_resident_api_invite_revoke_and_answer(client: Any, auth: Any, world: World) -> None:
    auth.login("host")
    headers = {"X-CSRFToken": auth.csrf("/my/visitors/")}
    begin, finish = window()
    created = client.post("/api/v1/visitors/invitations", headers=headers, json={
        "unit_id": world.unit.id, "visitor_name": "张三", "visitor_phone": "13800138000",
        "valid_from": begin.isoformat(), "valid_until": finish.isoformat(),
        "multi_entry": True})
    assert created.status_code == 201, created.get_json()
    data = created.get_json()
    assert data["qr_svg"].startswith("<svg") and data["max_entries"] is None
    assert data["visitor_phone"] == "+8613800138000"  # the host sees their visitor's number
    png = client.get(f"/api/v1/visitors/passes/{data['id']}/qr.png")
    assert png.mimetype == "image/png" and png.data[:4] == b"\x89PNG"
    revoked = client.post(f"/api/v1/visitors/passes/{data['id']}/revoke", headers=headers)
    assert revoked.get_json()["status"] == "revoked"
    assert len(client.get("/api/v1/visitors/passes").get_json()["items"]) == 1
    missing = client.post("/api/v1/visitors/invitations", headers=headers,
                          json={"unit_id": world.unit.id})
    assert missing.status_code == 422 and "visitor_name" in missing.get_json()["error"]["fields"]


def test_batch_pages_and_api(client: Any, auth: Any, world: World) -> None:
    auth.login("bizten")
    headers = {"X-CSRFToken": auth.csrf("/my/visitors/")}
    begin, finish = window()
    created = client.post("/api/v1/visitors/batches", headers=headers, json={
        "unit_id": world.tenant_unit.id, "company": "星辰科技", "count": 4,
        "valid_from": begin.isoformat(), "valid_until": finish.isoformat()})
    assert created.status_code == 201, created.get_json()
    batch_id = created.get_json()["id"]
    auth.logout()
    auth.login("sup1")
    log = client.get("/visitors/").get_data(as_text=True)
    assert created.get_json()["number"] in log
    client.post(f"/visitors/batches/{batch_id}/decide",
                data={"csrf_token": auth.csrf("/visitors/"), "decision": "approve"})
    auth.logout()
    auth.login("bizten")
    detail = client.get(f"/api/v1/visitors/batches/{batch_id}").get_json()
    assert detail["status"] == "approved" and len(detail["passes"]) == 4
    sheet = client.get(f"/my/visitors/batches/{batch_id}/print").get_data(as_text=True)
    assert sheet.count("<svg") == 4
    xlsx = client.get(f"/my/visitors/batches/{batch_id}/export.xlsx")
    assert xlsx.status_code == 200 and xlsx.data[:2] == b"PK"
    assert client.get(f"/api/v1/visitors/batches/{batch_id}/export.xlsx").status_code == 200


def test_log_statistics_and_export(client: Any, auth: Any, world: World, invite: Any,
                                   frozen_clock: Any) -> None:
    issued = invite()
    frozen_clock.advance(timedelta(hours=1))
    auth.login("gate1")
    client.post("/gate/check", data={"csrf_token": auth.csrf("/gate"), "code": issued.code})
    auth.logout()
    auth.login("pm1")
    page = client.get("/visitors/").get_data(as_text=True)
    assert "138****8000" in page and "13800138000" not in page
    stats = client.get(f"/api/v1/visitors/stats?project_id={world.project.id}").get_json()
    assert stats["visits"] == 1
    log = client.get(f"/api/v1/visitors/log?project_id={world.project.id}").get_json()
    assert log["items"][0]["pass"]["visitor_phone"] == "138****8000"
    export = client.get(f"/visitors/export.xlsx?project_id={world.project.id}")
    assert export.status_code == 200 and export.data[:2] == b"PK"
    assert client.get("/visitors/?from=bad").status_code == 422


@pytest.mark.parametrize(("username", "path", "status"), [
    ("host", "/gate", 403),
    ("host", "/visitors/", 403),
    ("gate1", "/my/visitors/", 403),
    ("gate1", "/visitors/", 403),
    ("gate1", "/gate", 200),
    ("sup1", "/visitors/", 200),
    ("pm1", "/api/v1/visitors/stats", 200),
    ("host", "/api/v1/visitors/stats", 403),
])
def test_permissions(client: Any, auth: Any, world: World, username: str, path: str,
                     status: int) -> None:
    auth.login(username)
    assert client.get(path).status_code == status


def test_every_visitor_api_route_is_documented(app: Flask) -> None:
    assert [r for r in undocumented_routes(app) if "visitors" in r] == []
