"""Instances and human tasks through the API: start, inbox views, claim, complete, history."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.clock import clock
from app.engine import runtime
from app.engine.models import HumanTask, InstanceEvent, ProcessInstance
from app.extensions import db
from tests.conftest import START


@pytest.fixture
def estate(deployed, create_project, create_user):
    a, b = create_project("A"), create_project("B")
    users = {
        "cs": create_user("customer_service", projects=[a], username="cs"),
        "cs2": create_user("customer_service", projects=[a], username="cs2"),
        "tech": create_user("technician", projects=[a], username="tech"),
        "sup": create_user("supervisor", projects=[a], username="sup"),
        "csb": create_user("customer_service", projects=[b], username="csb"),
    }
    return a, b, users


def _start(client, headers, project, key="R-0001", data=None):
    response = client.post("/api/v1/instances", headers=headers, json={
        "flow": "ticket", "project_id": project.id, "business_key": key, "data": data or {}})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _tasks(client, headers, view="roles", **args):
    response = client.get("/api/v1/tasks", headers=headers, query_string={"view": view, **args})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_start_complete_through_the_api(client, estate, token_headers):
    a, _b, _users = estate
    cs, tech, sup = token_headers("cs"), token_headers("tech"), token_headers("sup")
    instance = _start(client, cs, a)
    assert instance["status"] == "running" and instance["current_steps"] == "Accept the ticket"
    assert instance["version"] == 1

    listing = _tasks(client, cs)
    [task] = listing["items"]
    assert task["title"] == "Accept the ticket" and task["role"] == "customer_service"
    assert task["due_at"].startswith((START + timedelta(hours=4)).isoformat()[:16])
    detail = client.get(f"/api/v1/tasks/{task['id']}", headers=cs).get_json()
    assert detail["schema"]["required"] == ["category", "urgent"]

    # Invalid data: 422 naming each field, and nothing changed.
    bad = client.post(f"/api/v1/tasks/{task['id']}/complete", headers=cs,
                      json={"data": {"category": "magic", "note": "x" * 300}})
    assert bad.status_code == 422
    fields = bad.get_json()["error"]["fields"]
    assert set(fields) == {"category", "urgent", "note"}
    assert fields["urgent"] == "required"
    row = db.session.get(HumanTask, task["id"])
    db.session.refresh(row)
    assert row.status == "open" and row.assignee_id is None
    assert db.session.scalar(select(func.count()).select_from(InstanceEvent).where(
        InstanceEvent.kind == "completed")) == 0

    # The technician cannot complete a customer-service task.
    assert client.post(f"/api/v1/tasks/{task['id']}/complete", headers=tech,
                       json={"data": {"category": "plumbing", "urgent": True}}).status_code == 403

    done = client.post(f"/api/v1/tasks/{task['id']}/complete", headers=cs,
                       json={"data": {"category": "plumbing", "urgent": True}})
    assert done.status_code == 200 and done.get_json()["status"] == "completed"
    again = client.post(f"/api/v1/tasks/{task['id']}/complete", headers=cs,
                        json={"data": {"category": "plumbing", "urgent": True}})
    assert again.status_code == 409 and "already completed" in again.get_json()["error"]["message"]

    [repair] = _tasks(client, tech)["items"]
    assert repair["title"] == "Repair"
    # dueIn "=P1D if urgent else P3D" read the submitted data.
    assert repair["due_at"].startswith((START + timedelta(days=1)).isoformat()[:16])
    assert client.post(f"/api/v1/tasks/{repair['id']}/complete", headers=tech,
                       json={"data": {"fixed": True}}).status_code == 200
    [review] = _tasks(client, sup, view="unassigned")["items"]
    assert client.post(f"/api/v1/tasks/{review['id']}/complete", headers=sup,
                       json={"data": {"approved": True}}).status_code == 200

    final = client.get(f"/api/v1/instances/{instance['id']}", headers=sup).get_json()
    assert final["status"] == "completed" and final["current_steps"] == ""
    kinds = [e.kind for e in db.session.scalars(
        select(InstanceEvent).where(InstanceEvent.instance_id == instance["id"])
        .order_by(InstanceEvent.id))]
    assert kinds == ["started", "task_created", "completed", "task_created", "completed",
                     "task_created", "completed", "finished"]
    completed = db.session.scalar(select(InstanceEvent).where(
        InstanceEvent.kind == "completed", InstanceEvent.element_id == "Accept"))
    assert completed.actor_label == "cs"
    assert completed.data["category"] == {"from": None, "to": "plumbing"}


def test_claim_release_reassign_delegate(client, estate, token_headers):
    a, _b, users = estate
    cs, cs2, sup = token_headers("cs"), token_headers("cs2"), token_headers("sup")
    _start(client, cs, a)
    [task] = _tasks(client, cs)["items"]
    url = f"/api/v1/tasks/{task['id']}"

    assert client.post(f"{url}/claim", headers=cs).get_json()["assignee_id"] == users["cs"].id
    assert _tasks(client, cs, view="mine")["total"] == 1
    taken = client.post(f"{url}/claim", headers=cs2)
    assert taken.status_code == 409 and "already claimed" in taken.get_json()["error"]["message"]
    # Someone else's task cannot be completed or released by cs2.
    assert client.post(f"{url}/complete", headers=cs2, json={"data": {
        "category": "other", "urgent": False}}).status_code == 403
    assert client.post(f"{url}/release", headers=cs2).status_code == 403

    assert client.post(f"{url}/release", headers=cs).get_json()["assignee_id"] is None
    assert _tasks(client, cs, view="unassigned")["total"] == 1

    # Reassign needs tasks.reassign; the target must see the project.
    assert client.post(f"{url}/reassign", headers=cs, json={"user_id": users["cs2"].id}
                       ).status_code == 403
    outsider = client.post(f"{url}/reassign", headers=sup, json={"user_id": users["csb"].id})
    assert outsider.status_code == 422 and "user_id" in outsider.get_json()["error"]["fields"]
    moved = client.post(f"{url}/reassign", headers=sup, json={"user_id": users["cs2"].id})
    assert moved.status_code == 200 and moved.get_json()["assignee_id"] == users["cs2"].id

    # The assignee delegates to a colleague, who can then complete it.
    handed = client.post(f"{url}/delegate", headers=cs2, json={"user_id": users["tech"].id})
    assert handed.status_code == 200 and handed.get_json()["assignee_id"] == users["tech"].id
    tech = token_headers("tech")
    assert client.post(f"{url}/complete", headers=tech, json={"data": {
        "category": "other", "urgent": False}}).status_code == 200
    kinds = [e.kind for e in db.session.scalars(
        select(InstanceEvent).where(InstanceEvent.task_row_id == task["id"])
        .order_by(InstanceEvent.id))]
    assert kinds == ["task_created", "claimed", "released", "reassigned", "delegated",
                     "completed"]


def test_inbox_views_counts_and_search(client, estate, token_headers, frozen_clock):
    a, _b, _users = estate
    cs = token_headers("cs")
    for n in range(3):
        _start(client, cs, a, key=f"R-2026-{n:04d}")
    first = _tasks(client, cs, view="roles", per_page=2)
    assert first["total"] == 3 and len(first["items"]) == 2 and first["pages"] == 2
    assert first["counts"] == {"mine": 0, "roles": 3, "unassigned": 3, "overdue": 0}
    client.post(f"/api/v1/tasks/{first['items'][0]['id']}/claim", headers=cs)
    assert _tasks(client, cs)["counts"] == {"mine": 1, "roles": 3, "unassigned": 2,
                                           "overdue": 0}
    frozen_clock.advance(timedelta(hours=5))
    overdue = _tasks(client, cs, view="overdue")
    assert overdue["total"] == 3 and all(t["overdue"] for t in overdue["items"])
    found = _tasks(client, cs, q="R-2026-0002")
    assert [t["business_key"] for t in found["items"]] == ["R-2026-0002"]
    assert _tasks(client, cs, flow="other")["total"] == 0
    # The technician's roles hold none of these.
    assert _tasks(client, token_headers("tech"))["counts"]["roles"] == 0
    assert client.get("/api/v1/tasks?view=nope", headers=cs).status_code == 422


def test_other_project_tasks_do_not_exist(client, auth, estate, token_headers):
    a, b, _users = estate
    _start(client, token_headers("cs"), a)
    [task] = _tasks(client, token_headers("cs"))["items"]
    csb = token_headers("csb")
    assert _tasks(client, csb)["total"] == 0
    assert _tasks(client, csb)["counts"] == {"mine": 0, "roles": 0, "unassigned": 0,
                                            "overdue": 0}
    assert client.get(f"/api/v1/tasks/{task['id']}", headers=csb).status_code == 404
    assert client.post(f"/api/v1/tasks/{task['id']}/claim", headers=csb).status_code == 404
    assert client.get("/api/v1/instances", headers=csb).get_json()["total"] == 0
    refused = client.post("/api/v1/instances", headers=csb, json={
        "flow": "ticket", "project_id": a.id})
    assert refused.status_code == 422 and "project_id" in refused.get_json()["error"]["fields"]
    auth.login("csb")
    assert client.get(f"/tasks/{task['id']}").status_code == 404


def test_start_errors(client, estate, token_headers):
    a, _b, _users = estate
    cs = token_headers("cs")
    unknown = client.post("/api/v1/instances", headers=cs, json={"flow": "nope",
                                                                "project_id": a.id})
    assert unknown.status_code == 404
    invalid = client.post("/api/v1/instances", headers=cs, json={"project_id": "x"})
    assert invalid.status_code == 422
    assert set(invalid.get_json()["error"]["fields"]) == {"flow", "project_id"}


def test_suspend_resume_cancel(client, estate, token_headers):
    a, _b, _users = estate
    cs, sup = token_headers("cs"), token_headers("sup")
    instance = _start(client, cs, a)
    url = f"/api/v1/instances/{instance['id']}"
    assert client.post(f"{url}/suspend", headers=cs).status_code == 403
    assert client.post(f"{url}/suspend", headers=sup).get_json()["status"] == "suspended"
    [task] = _tasks(client, cs)["items"]
    blocked = client.post(f"/api/v1/tasks/{task['id']}/claim", headers=cs)
    assert blocked.status_code == 409 and "suspended" in blocked.get_json()["error"]["message"]
    assert client.post(f"{url}/suspend", headers=sup).status_code == 409
    assert client.post(f"{url}/resume", headers=sup).get_json()["status"] == "running"
    assert client.post(f"{url}/cancel", headers=sup, json={}).status_code == 422
    cancelled = client.post(f"{url}/cancel", headers=sup, json={"reason": "duplicate"})
    assert cancelled.get_json()["status"] == "cancelled"
    assert cancelled.get_json()["cancel_reason"] == "duplicate"
    assert _tasks(client, cs)["total"] == 0
    assert db.session.get(HumanTask, task["id"]).status == "cancelled"
    listing = client.get("/api/v1/instances", headers=sup,
                         query_string={"status": "cancelled"}).get_json()
    assert [i["id"] for i in listing["items"]] == [instance["id"]]
    assert client.post(f"{url}/cancel", headers=sup, json={"reason": "x"}).status_code == 409


def test_instance_rows_hold_projections(db_session, estate):
    a, _b, _users = estate
    instance = runtime.start_instance("ticket", a.id, {}, business_key="K-1")
    row = db.session.scalar(select(ProcessInstance).where(ProcessInstance.id == instance.id))
    assert row.status == "running" and row.next_timer_due is None
    assert row.lock_version >= 1 and row.started_by_label == "system"
    assert row.started_at == clock.now()


def test_completing_names_the_next_task_i_may_do(client, estate, token_headers):
    a, _b, _users = estate
    sup, cs = token_headers("sup"), token_headers("cs")
    _start(client, cs, a, key="N-1")
    [task] = _tasks(client, cs, q="N-1")["items"]
    done = client.post(f"/api/v1/tasks/{task['id']}/complete", headers=cs,
                       json={"data": {"category": "plumbing", "urgent": False}}).get_json()
    assert done["next_tasks"] == []  # the repair is for technicians, not customer service
    [repair] = _tasks(client, sup, q="N-1")["items"]
    done = client.post(f"/api/v1/tasks/{repair['id']}/complete", headers=sup,
                       json={"data": {"fixed": True}}).get_json()
    assert [t["element_id"] for t in done["next_tasks"]] == ["Review"]
