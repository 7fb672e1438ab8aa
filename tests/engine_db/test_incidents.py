"""Incidents: failing scripts, gateways and handlers put the instance in error; retry, skip."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.engine import incidents, services
from app.engine.history import timeline
from app.engine.models import (
    HumanTask,
    Incident,
    InstanceStatus,
    ProcessInstance,
    TaskStatus,
)
from app.errors import Conflict, FieldErrors
from app.extensions import db
from tests.engine_db.services_support import (  # noqa: F401 - fixtures
    Svc,
    bundle_services_fixture,
    fresh_template_cache_fixture,
    svc_fixture,
)


def _incident(instance: ProcessInstance) -> Incident:
    return db.session.scalar(select(Incident).where(Incident.instance_id == instance.id)
                             .order_by(Incident.id.desc()))


def _reload(instance: ProcessInstance) -> ProcessInstance:
    db.session.expire_all()
    return db.session.get(ProcessInstance, instance.id)


def test_failing_script_after_a_user_task_is_an_incident_and_the_completion_stands(svc: Svc):
    instance = svc.start("svc_script")
    task = svc.complete(instance, "Fill", {"divisor": 0})  # no exception reaches the caller
    assert task.status == TaskStatus.COMPLETED
    instance = _reload(instance)
    assert instance.status == InstanceStatus.ERROR
    incident = _incident(instance)
    assert incident.is_open and incident.element_id == "Compute"
    assert incident.element_name == "Compute the share"
    assert "ZeroDivisionError" in incident.error_type + incident.message + incident.traceback
    assert incident.data["divisor"] == 0 and "share" not in incident.data
    assert "Traceback" in incident.traceback
    assert instance.next_timer_due is None
    assert [e.kind for e in timeline(instance.id)][-1] == "incident"


def test_retry_with_corrected_data_resolves_it(svc: Svc, create_user):
    instance = svc.start("svc_script")
    svc.complete(instance, "Fill", {"divisor": 0})
    incident = _incident(instance)
    with pytest.raises(FieldErrors):
        incidents.retry_incident(incident.id, ["not", "an", "object"])  # type: ignore[arg-type]
    incidents.retry_incident(incident.id)  # unchanged data: fails again, same incident
    incident = _incident(instance)
    assert incident.is_open and incident.occurrences == 2
    assert _reload(instance).status == InstanceStatus.ERROR
    incidents.retry_incident(incident.id, {**incident.data, "divisor": 4})
    incident = _incident(instance)
    assert not incident.is_open and incident.resolution == "retried"
    instance = _reload(instance)
    assert instance.status == InstanceStatus.RUNNING
    assert svc.open_tasks(instance) == ["Check"]
    audits = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "incidents.retry"))
    assert len(list(audits)) == 2
    kinds = [e.kind for e in timeline(instance.id)]
    assert kinds.count("incident_retried") == 2
    with pytest.raises(Conflict):
        incidents.retry_incident(incident.id)


def test_skip_completes_the_failing_task_without_running_it(svc: Svc):
    instance = svc.start("svc_script")
    svc.complete(instance, "Fill", {"divisor": 0})
    incident = incidents.skip_incident(_incident(instance).id)
    assert incident.resolution == "skipped"
    instance = _reload(instance)
    assert instance.status == InstanceStatus.RUNNING and svc.open_tasks(instance) == ["Check"]
    assert "incident_skipped" in [e.kind for e in timeline(instance.id)]


def test_runaway_script_is_an_incident_not_a_hang(svc: Svc):
    instance = svc.start("svc_loop")
    assert instance.status == InstanceStatus.ERROR
    incident = _incident(instance)
    assert incident.element_id == "Spin" and "time budget" in incident.message


def test_failing_gateway_keeps_other_branches_visible(svc: Svc):
    instance = svc.start("svc_gateway")  # no "amount": the condition cannot be evaluated
    assert instance.status == InstanceStatus.ERROR
    incident = _incident(instance)
    assert incident.element_id == "Route"
    assert svc.open_tasks(instance) == ["Side"]
    assert "Side check" in instance.current_steps
    with pytest.raises(Conflict, match="gateway cannot be skipped"):
        incidents.skip_incident(incident.id)
    svc.complete(instance, "Side")  # people can still work on the other branch
    assert _reload(instance).status == InstanceStatus.ERROR
    incidents.retry_incident(incident.id, {**incident.data, "amount": 500})
    instance = _reload(instance)
    assert instance.status == InstanceStatus.RUNNING and svc.open_tasks(instance) == ["Large"]


def test_failing_handler_retry_runs_it_once(svc: Svc):
    calls: list[str] = []

    def flaky(context: services.ServiceContext, params: dict[str, Any]) -> dict[str, Any]:
        calls.append(context.idempotency_key)
        if len(calls) == 1:
            raise ConnectionError("door controller offline")
        return services._outbox(context, params)

    services.register_operator("outbox", params={"kind": str, "payload": dict},
                               required=("kind",), handler=flaky)
    try:
        instance = svc.start("svc_door", {"card_no": "C-9"})
        assert instance.status == InstanceStatus.ERROR
        incident = _incident(instance)
        assert incident.error_type == "ConnectionError" and incident.element_id == "Freeze_card"
        incidents.retry_incident(incident.id)
    finally:
        services.register_operator("outbox", params={"kind": str, "payload": dict},
                                   required=("kind",), handler=services._outbox)
    assert calls[0] == calls[1]  # the same idempotency key on the retry
    assert _reload(instance).status == InstanceStatus.COMPLETED


def test_skip_a_service_task(svc: Svc):
    def broken(context: services.ServiceContext, params: dict[str, Any]) -> None:
        raise RuntimeError("broken")

    services.register_operator("outbox", params={"kind": str, "payload": dict},
                               required=("kind",), handler=broken)
    try:
        instance = svc.start("svc_door", {"card_no": "C-10"})
        incidents.skip_incident(_incident(instance).id)
    finally:
        services.register_operator("outbox", params={"kind": str, "payload": dict},
                                   required=("kind",), handler=services._outbox)
    assert _reload(instance).status == InstanceStatus.COMPLETED


def test_other_instances_keep_working(svc: Svc):
    broken = svc.start("svc_loop")
    fine = svc.start("svc_script")
    svc.complete(fine, "Fill", {"divisor": 5})
    assert _reload(broken).status == InstanceStatus.ERROR
    assert _reload(fine).status == InstanceStatus.RUNNING
    assert db.session.scalars(select(HumanTask).where(HumanTask.instance_id == fine.id,
                                                      HumanTask.element_id == "Check")).one()


# --- pages and API ----------------------------------------------------------------------------


def _admin(create_user: Any, svc: Svc, name: str) -> Any:
    return create_user("process_admin", projects=[svc.project], username=name)


def test_incident_api_list_retry_skip(svc: Svc, client, create_user, token_headers):
    _admin(create_user, svc, "pa1")
    create_user("technician", projects=[svc.project], username="tech9")
    headers = token_headers("pa1")
    first = svc.start("svc_script")
    svc.complete(first, "Fill", {"divisor": 0})
    second = svc.start("svc_loop")
    assert client.get("/api/v1/incidents", headers=token_headers("tech9")).status_code == 403
    listed = client.get("/api/v1/incidents", headers=headers).get_json()
    assert {i["instance_id"] for i in listed["items"]} == {first.id, second.id}
    one = next(i for i in listed["items"] if i["instance_id"] == first.id)
    detail = client.get(f"/api/v1/incidents/{one['id']}", headers=headers).get_json()
    assert detail["data"]["divisor"] == 0 and "Traceback" in detail["traceback"]
    response = client.post(f"/api/v1/incidents/{one['id']}/retry", headers=headers,
                           json={"data": {**detail["data"], "divisor": 2}})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["status"] == "resolved"
    two = next(i for i in listed["items"] if i["instance_id"] == second.id)
    response = client.post(f"/api/v1/incidents/{two['id']}/skip", headers=headers)
    assert response.status_code == 200 and response.get_json()["resolution"] == "skipped"
    assert client.post(f"/api/v1/incidents/{two['id']}/skip",
                       headers=headers).status_code == 409
    assert client.get("/api/v1/incidents", headers=headers).get_json()["items"] == []
    resolved = client.get("/api/v1/incidents?status=resolved", headers=headers).get_json()
    assert len(resolved["items"]) == 2


def test_incident_pages(svc: Svc, client, auth, create_user):
    _admin(create_user, svc, "pa2")
    instance = svc.start("svc_script")
    svc.complete(instance, "Fill", {"divisor": 0})
    incident = _incident(instance)
    auth.login("pa2")
    page = client.get("/admin/processes/incidents")
    assert page.status_code == 200 and "Compute the share" in page.get_data(as_text=True)
    page = client.get(f"/admin/processes/incidents/{incident.id}")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "ZeroDivisionError" in text and "divisor" in text
    token = auth.csrf(f"/admin/processes/incidents/{incident.id}")
    bad = client.post(f"/admin/processes/incidents/{incident.id}/retry",
                      data={"csrf_token": token, "data": "{not json"})
    assert bad.status_code == 422 and "JSON" in bad.get_data(as_text=True)
    ok = client.post(f"/admin/processes/incidents/{incident.id}/retry",
                     data={"csrf_token": token, "data": '{"divisor": 3}'})
    assert ok.status_code == 302
    assert _incident(instance).resolution == "retried"
