"""The complaint pages and the JSON API: portal, staff, statistics, calendars, permissions."""

from __future__ import annotations

from io import BytesIO

import pytest
from openpyxl import load_workbook

from app.complaints.models import Complaint
from app.extensions import db


@pytest.fixture
def web(world, client, auth):
    world.at("2026-11-23 09:00")
    return world, client, auth


def _token(client, user):
    from tests.conftest import PASSWORD
    response = client.post("/api/v1/auth/token",
                           json={"username": user.username, "password": PASSWORD, "name": "t"})
    return {"Authorization": f"Bearer {response.get_json()['token']}"}


def test_resident_lodges_follows_and_accepts(web):
    world, client, auth = web
    auth.login(world.owner.username)
    assert client.get("/my/complaints/").status_code == 200
    page = client.get("/my/complaints/new").get_data(as_text=True)
    assert 'name="category"' in page
    token = auth.csrf("/my/complaints/new")
    bad = client.post("/my/complaints/new", data={"csrf_token": token, "title": "x"})
    assert bad.status_code == 422
    response = client.post("/my/complaints/new", data={
        "csrf_token": token, "category": "environment", "title": "垃圾未清运",
        "description": "3号楼门口垃圾两天没有清运"})
    assert response.status_code == 302
    c = db.session.query(Complaint).one()
    assert c.channel == "portal" and c.complainant_id == world.owner.id
    world.handle(world.triage(c))
    page = client.get(f"/my/complaints/{c.id}").get_data(as_text=True)
    assert c.number in page and 'name="feedback"' in page
    task = world.task(c, "Feedback")
    response = client.post(f"/my/complaints/{c.id}/tasks/{task.id}",
                           data={"csrf_token": auth.csrf(f"/my/complaints/{c.id}"),
                                 "feedback": "accept"})
    assert response.status_code == 302
    db.session.refresh(c)
    assert c.status == "closed"


def test_residents_see_only_their_own(web, create_user):
    world, client, auth = web
    c = world.lodge()
    other = create_user("owner", projects=[world.project])
    auth.login(other.username)
    assert client.get(f"/my/complaints/{c.id}").status_code == 404
    assert client.get("/complaints/").status_code == 403
    assert client.get(f"/api/v1/complaints/{c.id}", headers=_token(client, other)).status_code \
        == 404


def test_staff_register_by_phone_and_see_the_detail(web):
    world, client, auth = web
    auth.login(world.cs.username)
    assert client.get("/complaints/new").status_code == 200
    response = client.post("/complaints/new", data={
        "csrf_token": auth.csrf("/complaints/new"), "project_id": world.project.id,
        "channel": "phone", "complainant_name": "李先生", "complainant_phone": "13800138000",
        "severity": "high", "category": "safety", "title": "消防通道被占",
        "description": "地库消防通道停满了车"})
    assert response.status_code == 302, response.get_data(as_text=True)
    c = db.session.query(Complaint).one()
    assert (c.channel, c.severity, c.registered_by_id) == ("phone", "high", world.cs.id)
    listing = client.get("/complaints/?status=open").get_data(as_text=True)
    assert c.number in listing
    detail = client.get(f"/complaints/{c.id}").get_data(as_text=True)
    assert "消防通道被占" in detail and "Triage" in detail


def test_statistics_page_and_excel_export(web):
    world, client, auth = web
    for _ in range(2):
        c = world.lodge()
        c.unit_id = world.project.buildings[0].units[0].id
        c.building_id = world.project.buildings[0].id
        world.handle(world.triage(c))
    world.triage(world.lodge(category="service"), category="service")
    auth.login(world.manager.username)
    page = client.get("/complaints/stats").get_data(as_text=True)
    assert 'data-testid="total">3<' in page
    response = client.get("/complaints/stats.xlsx")
    assert response.status_code == 200
    book = load_workbook(BytesIO(response.data))
    summary = {row[0].value: row[1].value for row in book["Summary 汇总"].iter_rows()}
    assert summary["Complaints 投诉数"] == 3
    assert summary["Closed within the limit 时限内办结率"] == 1
    repeated = list(book["Repeated"].iter_rows(min_row=2, values_only=True))
    assert repeated == [("1号楼-101", "facilities", 2)]
    data = client.get("/api/v1/complaints/stats", headers=_token(client, world.manager)).get_json()
    assert data["by_category"] == {"facilities": 2, "service": 1}
    assert data["by_department"]["engineering"] == 2


def test_calendar_admin_pages_and_api(web):
    world, client, auth = web
    auth.login(world.cs.username)
    assert client.get(f"/complaints/calendars/{world.project.id}").status_code == 403
    auth.logout()
    auth.login(world.manager.username)
    url = f"/complaints/calendars/{world.project.id}"
    assert client.get(url).status_code == 200
    token = auth.csrf(url)
    bad = client.post(url, data={"csrf_token": token, "0": "18:00-09:00"})
    assert bad.status_code == 422
    ok = client.post(url, data={"csrf_token": token, "0": "08:30-12:00, 13:00-17:30",
                                "1": "09:00-18:00"})
    assert ok.status_code == 302
    client.post(f"{url}/china-2026", data={"csrf_token": token})
    headers = _token(client, world.manager)
    data = client.get(f"/api/v1/complaints/calendars/{world.project.id}", headers=headers)
    body = data.get_json()
    assert body["week"]["0"] == [["08:30", "12:00"], ["13:00", "17:30"]]
    assert len(body["days"]) == 39
    added = client.post(f"/api/v1/complaints/calendars/{world.project.id}/days",
                        json={"day": "2026-12-31", "kind": "holiday", "name": "跨年"},
                        headers=headers)
    assert added.status_code == 201
    day = next(d for d in added.get_json()["days"] if d["day"] == "2026-12-31")
    removed = client.delete(f"/api/v1/complaints/calendars/{world.project.id}/days/{day['id']}",
                            headers=headers)
    assert len(removed.get_json()["days"]) == 39


def test_api_lodge_follow_and_dispute(web):
    world, client, _auth = web
    headers = _token(client, world.owner)
    bad = client.post("/api/v1/complaints", json={"category": "nope", "title": "t",
                                                  "description": "d"}, headers=headers)
    assert bad.status_code == 422 and "category" in bad.get_json()["error"]["fields"]
    created = client.post("/api/v1/complaints", json={
        "category": "facilities", "title": "路灯不亮", "description": "2号楼前路灯坏了三天"},
        headers=headers)
    assert created.status_code == 201
    body = created.get_json()
    c = db.session.get(Complaint, body["id"])
    world.handle(world.triage(c))
    body = client.get(f"/api/v1/complaints/{c.id}", headers=headers).get_json()
    assert body["status"] == "feedback"
    assert "findings" not in body  # internal notes stay with the staff
    task = body["open_tasks"][0]
    assert task["element_id"] == "Feedback"
    missing = client.post(f"/api/v1/complaints/{c.id}/tasks/{task['id']}",
                          json={"feedback": "dispute"}, headers=headers)
    assert missing.status_code == 422
    done = client.post(f"/api/v1/complaints/{c.id}/tasks/{task['id']}",
                       json={"feedback": "dispute", "dispute_reason": "还是不亮"},
                       headers=headers)
    assert done.status_code == 200 and done.get_json()["disputes"] == 1
    listing = client.get("/api/v1/complaints", headers=headers).get_json()
    assert [i["number"] for i in listing["items"]] == [c.number]
    staff = client.get("/api/v1/complaints?status=handling",
                       headers=_token(client, world.supervisor)).get_json()
    assert [i["number"] for i in staff["items"]] == [c.number]
