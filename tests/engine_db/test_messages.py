"""Messages and signals through the subscription index, and their API."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import select

from app.audit.actor import Actor, acting_as
from app.engine import messaging, runtime
from app.engine.deployments import restore_workflow
from app.engine.models import InstanceStatus, MessageSubscription, ProcessInstance
from app.engine.projections import correlation_key
from app.engine.runtime import NewInstance
from app.engine.workflow_cache import cache as workflow_cache
from app.errors import FieldErrors, NotFound
from app.extensions import db
from tests.engine_db.services_support import (  # noqa: F401 - fixtures
    Svc,
    bundle_services_fixture,
    fresh_template_cache_fixture,
    svc_fixture,
)


def _subscriptions(instance: ProcessInstance) -> list[tuple[str, str, dict[str, Any]]]:
    return [(s.kind, s.name, s.correlation) for s in db.session.scalars(
        select(MessageSubscription).where(MessageSubscription.instance_id == instance.id))]


def _data(instance: ProcessInstance, element_id: str) -> dict[str, Any]:
    workflow = restore_workflow(instance, instance.state)
    [task] = [t for t in workflow.get_tasks() if t.task_spec.bpmn_id == element_id]
    return dict(task.data)


def test_waiting_message_is_indexed_with_its_correlation(svc: Svc):
    instance = svc.start("svc_payment", {"ticket_no": "BX-1"})
    assert instance.status == InstanceStatus.WAITING
    assert _subscriptions(instance) == [("message", "payment_received", {"ticket_no": "BX-1"})]
    row = db.session.scalar(select(MessageSubscription).where(
        MessageSubscription.instance_id == instance.id))
    assert row.correlation_key == correlation_key({"ticket_no": "BX-1"})


def test_message_reaches_the_correlated_instance_only(svc: Svc):
    first = svc.start("svc_payment", {"ticket_no": "BX-1"})
    second = svc.start("svc_payment", {"ticket_no": "BX-2"})
    got = messaging.send_message("payment_received", {"ticket_no": "BX-2"},
                                 {"amount": 120}, project_id=svc.project.id)
    assert got.id == second.id
    assert svc.open_tasks(second) == ["Check"] and svc.open_tasks(first) == []
    assert _subscriptions(second) == [] and len(_subscriptions(first)) == 1
    data = _data(second, "Check")
    assert data["payment"] == {"ticket_no": "BX-2", "amount": 120}
    with pytest.raises(NotFound, match="no process is waiting for message 'payment_received'"):
        messaging.send_message("payment_received", {"ticket_no": "BX-2"})


def test_instances_started_together_wait_for_their_own_messages(svc: Svc):
    """start_instances writes every instance's subscription in one statement."""
    with acting_as(Actor(svc.requester.id, svc.requester.display_name)):
        started = runtime.start_instances("svc_payment", svc.project.id, [
            NewInstance({"ticket_no": f"BX-{n}"}) for n in range(3)])
    for n, instance in enumerate(started):
        assert instance.status == InstanceStatus.WAITING
        assert _subscriptions(instance) == [
            ("message", "payment_received", {"ticket_no": f"BX-{n}"})]
    got = messaging.send_message("payment_received", {"ticket_no": "BX-1"}, {"amount": 80},
                                 project_id=svc.project.id)
    assert got.id == started[1].id
    assert svc.open_tasks(started[1]) == ["Check"]
    assert _subscriptions(started[1]) == [] and len(_subscriptions(started[0])) == 1

def test_message_lookup_uses_the_index(svc: Svc, restores: list[int]):
    for n in range(3):
        svc.start("svc_payment", {"ticket_no": f"BX-{n}"})
    workflow_cache.clear()  # as in another process: every workflow must come from its row
    messaging.send_message("payment_received", {"ticket_no": "BX-1"})
    assert len(restores) == 1  # only the receiver's workflow was loaded


def test_unknown_message_is_not_found(svc: Svc):
    with pytest.raises(NotFound, match="no process is waiting for message 'nothing'"):
        messaging.send_message("nothing", {"x": 1})


def test_message_start_event_starts_the_flow(svc: Svc):
    with pytest.raises(FieldErrors) as info:
        messaging.send_message("visitor_arrived", {}, {"plate": "沪A12345"})
    assert "project_id" in info.value.fields
    instance = messaging.send_message("visitor_arrived", {}, {"plate": "沪A12345"},
                                      project_id=svc.project.id)
    assert instance.flow == "svc_arrival" and instance.project_id == svc.project.id
    assert svc.open_tasks(instance) == ["Check"]
    data = _data(instance, "Check")
    assert data["arrival"] == {"plate": "沪A12345"}


def test_signal_reaches_every_waiting_instance_of_the_project(svc: Svc, create_project):
    other_project = create_project()
    here = [svc.start("svc_outage") for _ in range(3)]
    elsewhere = svc.start("svc_outage", project=other_project)
    svc.complete(here[2], "Repair")  # finished: no longer waits for the signal
    assert messaging.broadcast_signal("water_outage", svc.project.id, {"until": "18:00"}) == 2
    assert svc.open_tasks(here[0]) == ["Handle_outage"]
    assert svc.open_tasks(here[1]) == ["Handle_outage"]
    assert svc.open_tasks(elsewhere) == ["Repair"]
    assert messaging.broadcast_signal("water_outage", svc.project.id) == 0
    assert messaging.broadcast_signal("no_such_signal", svc.project.id) == 0


def test_finished_instances_keep_no_subscriptions(svc: Svc):
    instance = svc.start("svc_outage")
    assert [s[:2] for s in _subscriptions(instance)] == [("signal", "water_outage")]
    svc.complete(instance, "Repair")
    assert db.session.get(ProcessInstance, instance.id).status == InstanceStatus.COMPLETED
    assert _subscriptions(instance) == []


# --- API ---------------------------------------------------------------------------------------


def test_message_api(svc: Svc, client, create_user, token_headers):
    manager = create_user("project_manager", projects=[svc.project], username="pm1")
    assert manager
    instance = svc.start("svc_payment", {"ticket_no": "BX-9"})
    headers = token_headers("pm1")
    response = client.post("/api/v1/messages", headers=headers, json={
        "name": "payment_received", "correlation": {"ticket_no": "BX-9"},
        "payload": {"amount": 1}})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["id"] == instance.id
    response = client.post("/api/v1/messages", headers=headers, json={
        "name": "payment_received", "correlation": {"ticket_no": "BX-9"}})
    assert response.status_code == 404
    assert "no process is waiting" in response.get_json()["error"]["message"]
    response = client.post("/api/v1/messages", headers=headers, json={"name": "x"})
    assert response.status_code == 422


def test_signal_api_and_permission(svc: Svc, client, create_user, token_headers):
    create_user("project_manager", projects=[svc.project], username="pm2")
    create_user("technician", projects=[svc.project], username="tech2")
    svc.start("svc_outage")
    body = {"name": "water_outage", "project_id": svc.project.id, "payload": {}}
    assert client.post("/api/v1/signals", headers=token_headers("tech2"),
                       json=body).status_code == 403
    response = client.post("/api/v1/signals", headers=token_headers("pm2"), json=body)
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"name": "water_outage", "project_id": svc.project.id,
                                   "instances": 1}


def test_subscription_table_has_its_lookup_index(db_session):
    inspector = sa.inspect(db.session.connection())
    names = {ix["name"] for ix in inspector.get_indexes("message_subscription")}
    assert {"ix_message_subscription_lookup", "ix_message_subscription_signal"} <= names
