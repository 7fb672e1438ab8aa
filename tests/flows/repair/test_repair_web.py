"""The repair pages and API: who sees and does what, through the test client."""

from __future__ import annotations

import io

import pytest

from app.api.openapi import undocumented_routes
from app.extensions import db
from app.repairs.models import Ticket
from tests.conftest import Auth
from tests.flows.repair.conftest import open_steps, reload, tasks_of

PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00"
       b"\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N"
       b"\x00\x00\x00\x00IEND\xaeB`\x82")


def login(client, username: str) -> Auth:
    auth = Auth(client)
    if "csrf_token" in client.get("/").get_data(as_text=True):
        auth.logout()
    response = auth.login(username)
    assert response.status_code in (302, 303), response.get_data(as_text=True)[:300]
    return auth


def test_owner_reports_on_the_page_and_sees_the_number(client, world):
    auth = login(client, "wang")
    page = client.get("/repairs/new")
    assert page.status_code == 200 and "category" in page.get_data(as_text=True)
    upload = client.post(f"/api/v1/uploads?project_id={world.project.id}",
                         data={"file": (io.BytesIO(PNG), "leak.png")},
                         headers={"X-CSRFToken": auth.csrf()})
    assert upload.status_code == 201, upload.get_json()
    ref = upload.get_json()["ref"]
    response = client.post("/repairs/new", data={
        "csrf_token": auth.csrf("/repairs/new"), "category": "plumbing", "area": "unit",
        "description": "厨房水龙头漏水", "urgency": "normal", "photos": [ref]})
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    ticket = db.session.query(Ticket).one()
    assert ticket.photos == [ref]
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert ticket.number in page and 'data-testid="timeline"' in page
    assert "/repairs/" in client.get("/repairs/").get_data(as_text=True)


def test_intake_errors_are_shown_with_422(client, world):
    auth = login(client, "wang")
    response = client.post("/repairs/new", data={
        "csrf_token": auth.csrf("/repairs/new"), "category": "plumbing", "area": "public",
        "description": "x", "urgency": "normal"})
    assert response.status_code == 422
    assert db.session.query(Ticket).count() == 0


def test_another_owner_cannot_see_the_ticket(client, world, submit):
    ticket = submit()
    login(client, "li")
    assert client.get(f"/repairs/{ticket.id}").status_code == 404
    assert client.get(f"/api/v1/repairs/{ticket.id}").status_code == 404


def test_technician_grabs_checks_in_and_finishes_on_the_job_page(client, world, submit):
    ticket = submit()
    auth = login(client, "zhang")
    jobs = client.get("/repairs/jobs").get_data(as_text=True)
    assert f"grab-{ticket.number}" in jobs
    response = client.post(f"/repairs/{ticket.id}/accept", data={"csrf_token": auth.csrf()})
    assert response.status_code == 303
    assert reload(ticket).status == "accepted"
    page = client.get(f"/repairs/{ticket.id}").get_data(as_text=True)
    assert 'data-testid="step-Check_in"' in page
    client.post(f"/repairs/{ticket.id}/check-in",
                data={"csrf_token": auth.csrf(), "diagnosis": "阀芯坏"})
    client.post(f"/repairs/{ticket.id}/finish",
                data={"csrf_token": auth.csrf(), "work_done": "换阀芯"})
    assert reload(ticket).status == "completed"
    # the other team member was too late
    login(client, "zhao")
    assert client.post(f"/repairs/{ticket.id}/accept",
                       data={"csrf_token": Auth(client).csrf()}).status_code == 303
    assert reload(ticket).technician_id == world.tech.id


def test_supervisor_dispatches_on_the_ticket_page(client, world, submit):
    ticket = submit(area="public", location="3号楼大堂", description="大堂灯坏了",
                    category="electrical")
    auth = login(client, "liu")
    page = client.get(f"/repairs/{ticket.id}").get_data(as_text=True)
    assert 'data-testid="dispatch-box"' in page
    client.post(f"/repairs/{ticket.id}/dispatch",
                data={"csrf_token": auth.csrf(), "technician_id": world.tech2.id})
    ticket = reload(ticket)
    assert (ticket.status, ticket.technician_id) == ("assigned", world.tech2.id)
    listing = client.get("/repairs/tickets").get_data(as_text=True)
    assert ticket.number in listing and 'data-testid="figures"' in listing


def test_customer_service_registers_a_phoned_in_repair(client, world):
    auth = login(client, "chen")
    assert client.get("/repairs/register").status_code == 200
    response = client.post("/repairs/register", data={
        "csrf_token": auth.csrf("/repairs/register"), "requester_id": world.owner.id,
        "category": "civil", "area": "unit", "description": "阳台渗水", "urgency": "normal"})
    assert response.status_code == 303
    ticket = db.session.query(Ticket).one()
    assert (ticket.channel, ticket.registered_by_id) == ("phone", world.cs.id)


def test_owner_urges_rates_and_cancels_through_the_api(client, world, submit, token_headers):
    owner = token_headers("wang")
    response = client.post("/api/v1/repairs", headers=owner, json={
        "category": "plumbing", "area": "unit", "description": "下水道堵塞"})
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["number"].startswith("BX-") and body["status"] == "pending"
    assert client.post(f"/api/v1/repairs/{body['id']}/urge", headers=owner).status_code == 200
    again = client.post(f"/api/v1/repairs/{body['id']}/urge", headers=owner)
    assert again.status_code == 429
    cancelled = client.post(f"/api/v1/repairs/{body['id']}/cancel", headers=owner,
                            json={"reason": "不需要了"})
    assert cancelled.get_json()["status"] == "cancelled"
    detail = client.get(f"/api/v1/repairs/{body['id']}", headers=owner).get_json()
    assert detail["timeline"] and detail["ticket"]["cancel_reason"] == "不需要了"


def test_technician_and_supervisor_through_the_api(client, world, submit, token_headers):
    ticket = submit()
    tech = token_headers("zhang")
    pool = client.get("/api/v1/repairs/jobs", headers=tech).get_json()["pool"]
    assert [t["number"] for t in pool] == [ticket.number]
    assert client.post(f"/api/v1/repairs/{ticket.id}/accept", headers=tech).status_code == 200
    assert client.post(f"/api/v1/repairs/{ticket.id}/check-in", headers=tech,
                       json={"diagnosis": "漏水", "fee_yuan": 50}).status_code == 200
    owner = token_headers("wang")
    assert client.post(f"/api/v1/repairs/{ticket.id}/fee", headers=owner,
                       json={"approve": True}).get_json()["status"] == "in_progress"
    supervisor = token_headers("liu")
    moved = client.post(f"/api/v1/repairs/{ticket.id}/reassign", headers=supervisor,
                        json={"technician_id": world.tech2.id})
    assert moved.get_json()["technician_id"] == world.tech2.id
    bad = client.post(f"/api/v1/repairs/{ticket.id}/work", headers=tech,
                      json={"work_done": "x"})
    assert bad.status_code == 403  # not theirs any more
    done = client.post(f"/api/v1/repairs/{ticket.id}/work", headers=token_headers("zhao"),
                       json={"work_done": "修好了"})
    assert done.get_json()["status"] == "completed"
    rated = client.post(f"/api/v1/repairs/{ticket.id}/rating", headers=owner,
                        json={"rating": 2, "comment": "太慢"})
    assert rated.get_json()["status"] == "rectifying"
    stats = client.get("/api/v1/repairs/stats", headers=supervisor).get_json()
    assert stats["bad_ratings"] == 1 and stats["rated"] == 1
    assert open_steps(ticket) == ["Rectify"] and tasks_of(ticket)[0].role == "supervisor"


@pytest.mark.parametrize("path", ["/repairs/", "/repairs/jobs", "/repairs/tickets",
                                  "/repairs/register"])
def test_pages_need_their_permission(client, world, path):
    assert client.get(path).status_code in (302, 401)


def test_every_repair_api_route_is_documented(app):
    assert not [r for r in undocumented_routes(app) if "repairs" in r]
