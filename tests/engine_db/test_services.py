"""Service tasks: the operator registry, deploy-time checks, notify end to end, the outbox."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from app.audit.actor import Actor, acting_as
from app.engine import deployments, services
from app.engine.bundle import BundleInvalid, Problem
from app.engine.deployments import restore_workflow
from app.engine.models import Incident, InstanceStatus, ProcessInstance
from app.extensions import db
from app.notifications.models import Notification
from app.outbox.dispatcher import Delivery, DeliveryResult, dispatch_due, register_deliverer
from app.outbox.models import OutboxMessage
from app.uow import commit
from tests.engine_db.services_support import (  # noqa: F401 - fixtures
    BUNDLE_SERVICES,
    Svc,
    bundle_services_fixture,
    fresh_template_cache_fixture,
    svc_fixture,
)

NOTIFY = "processes/notify.bpmn"


def _deploy(files: dict[str, bytes]) -> Any:
    with acting_as(Actor(None, "test")):
        return deployments.deploy(files)


def _rows(prefix: str) -> list[OutboxMessage]:
    return list(db.session.scalars(select(OutboxMessage).where(
        OutboxMessage.idempotency_key.startswith(prefix)).order_by(OutboxMessage.id)))


def test_registry_gives_required_parameters():
    requirements = services.operator_requirements()
    assert requirements["notify"] == {"event", "to"}
    assert requirements["outbox"] == {"kind"}
    with pytest.raises(ValueError, match="not declared"):
        services.register_operator("x", params={"a": str}, required=["b"],
                                   handler=lambda c, p: None)


def test_deploy_refuses_an_unknown_operator(db_session, bundle_services):
    files = dict(bundle_services)
    files[NOTIFY] = files[NOTIFY].replace(b'serviceTaskOperator id="notify"',
                                          b'serviceTaskOperator id="notfiy"')
    with pytest.raises(BundleInvalid) as info:
        _deploy(files)
    assert Problem(NOTIFY, "Notify_registered", "unknown service operator 'notfiy'") in \
        info.value.problems


def test_deploy_refuses_a_missing_parameter(db_session, bundle_services):
    files = dict(bundle_services)
    files[NOTIFY] = files[NOTIFY].replace(b'<spiffworkflow:parameter id="to"',
                                          b'<spiffworkflow:parameter id="recipients"')
    with pytest.raises(BundleInvalid) as info:
        _deploy(files)
    assert Problem(NOTIFY, "Notify_registered", "operator 'notify' needs parameter(s) to") in \
        info.value.problems
    assert db.session.scalar(select(func.count()).select_from(ProcessInstance)) == 0


def test_deploy_refuses_a_template_with_an_unknown_variable(db_session, bundle_services):
    files = dict(bundle_services)
    path = "notifications/svc/created.sms.zh_CN.txt"
    files[path] = "【EstateFlow】{{ ticket_no }} {{ tecnician }}".encode()
    with pytest.raises(BundleInvalid) as info:
        _deploy(files)
    [problem] = [p for p in info.value.problems if p.file == path]
    assert problem.element_id == "created" and "'tecnician'" in problem.reason


def test_the_directory_bundle_includes_notifications():
    files = deployments.read_bundle(BUNDLE_SERVICES)
    assert "notifications/svc/events.json" in files


def test_notify_task_writes_notifications_in_the_step(svc: Svc):
    instance = svc.start("svc_notify", {"ticket_no": "BX-1", "urgent": False})
    assert instance.status == InstanceStatus.RUNNING
    assert svc.open_tasks(instance) == ["Check"]
    workflow = restore_workflow(instance, instance.state)
    [done] = [t for t in workflow.get_tasks() if t.task_spec.bpmn_id == "Notify_registered"]
    key = f"instance:{instance.id}:task:{done.id}"
    rows = _rows(key)
    # in-app for the supervisor (role in the project) and the requester (the starter)
    assert sorted(r.recipient for r in rows) == sorted(
        [f"user:{svc.supervisor.id}", f"user:{svc.requester.id}"])
    assert {r.kind for r in rows} == {"inapp"}
    notes = db.session.scalars(select(Notification).where(Notification.event == "svc.created"))
    assert sorted(n.user_id for n in notes) == sorted([svc.supervisor.id, svc.requester.id])
    assert all("BX-1" in r.body for r in rows)
    assert done.data["notified"] == {"event": "svc.created", "messages": 2}


def test_requester_id_in_the_data_wins_and_phones_get_sms(svc: Svc, create_user, app,
                                                          monkeypatch):
    other = create_user("owner", projects=[svc.project])
    files = dict(deployments.read_bundle(BUNDLE_SERVICES))
    files[NOTIFY] = files[NOTIFY].replace(
        b'[&quot;role:supervisor&quot;, &quot;requester&quot;]',
        b'[&quot;requester&quot;, &quot;phone:&quot; + phone]')
    _deploy(files)
    instance = svc.start("svc_notify", {"ticket_no": "BX-2", "urgent": True,
                                        "requester_id": other.id, "phone": "13800138000"})
    rows = _rows(f"instance:{instance.id}:")
    assert sorted((r.kind, r.recipient) for r in rows) == [
        ("inapp", f"user:{other.id}"), ("sms", "+8613800138000")]
    assert all(r.urgent for r in rows)


def test_rerunning_the_task_does_not_duplicate(svc: Svc):
    instance = svc.start("svc_notify", {"ticket_no": "BX-3", "urgent": False})
    before = _rows(f"instance:{instance.id}:")
    workflow = restore_workflow(instance, instance.state)
    [done] = [t for t in workflow.get_tasks() if t.task_spec.bpmn_id == "Notify_registered"]
    context = services.ServiceContext(
        instance_id=instance.id, project_id=instance.project_id, flow=instance.flow,
        business_key=None, requester_id=svc.requester.id, task_id=str(done.id),
        element_id="Notify_registered", data={"ticket_no": "BX-3"},
        deployment_id=instance.deployment_id)
    operator = services.get_operator("notify")
    assert operator.handler(context, {"event": "svc.created",
                                      "to": ["role:supervisor", "requester"]})["messages"] == 2
    assert [r.id for r in _rows(f"instance:{instance.id}:")] == [r.id for r in before]


def test_a_failing_handler_leaves_no_rows_and_raises_an_incident(svc: Svc):
    calls: list[str] = []

    def write_then_fail(context: services.ServiceContext, params: dict[str, Any]) -> None:
        services._outbox(context, {"kind": "svc_door", "payload": {}})
        calls.append(context.idempotency_key)
        raise RuntimeError("door controller refused")

    services.register_operator("outbox", params={"kind": str, "payload": dict},
                               required=("kind",), handler=write_then_fail)
    try:
        instance = svc.start("svc_door", {"card_no": "C-1"})
    finally:
        services.register_operator("outbox", params={"kind": str, "payload": dict},
                                   required=("kind",), handler=services._outbox)
    assert calls and _rows(calls[0]) == []  # the handler's row went with its savepoint
    assert instance.status == InstanceStatus.ERROR
    incident = db.session.scalar(select(Incident).where(Incident.instance_id == instance.id))
    assert incident.element_id == "Freeze_card"
    assert "door controller refused" in incident.message


def test_bad_recipient_is_an_incident(svc: Svc):
    files = dict(deployments.read_bundle(BUNDLE_SERVICES))
    files[NOTIFY] = files[NOTIFY].replace(b'&quot;requester&quot;]', b'&quot;boss&quot;]')
    _deploy(files)
    instance = svc.start("svc_notify", {"ticket_no": "BX-4", "urgent": False})
    assert instance.status == InstanceStatus.ERROR
    incident = db.session.scalar(select(Incident).where(Incident.instance_id == instance.id))
    assert "recipient 'boss'" in incident.message
    assert _rows(f"instance:{instance.id}:") == []


class DoorCrash(BaseException):
    """The dispatcher process dies (nothing in the dispatcher handles a BaseException)."""


def test_outbox_operator_is_delivered_exactly_once_across_a_crash(svc: Svc, frozen_clock):
    delivered: list[str] = []
    crash = {"armed": True}

    def send(delivery: Delivery) -> DeliveryResult:
        delivered.append(delivery.idempotency_key)  # the door controller acted ...
        if crash["armed"]:
            crash["armed"] = False
            raise DoorCrash()  # ... and we die before recording it
        return DeliveryResult(provider_id=f"door-{delivery.id}")

    def check(delivery: Delivery) -> list[DeliveryResult]:
        # the door controller can tell whether it already applied a command of that key
        return [DeliveryResult(provider_id=f"door-{delivery.id}")] \
            if delivery.idempotency_key in delivered else []

    register_deliverer("svc_door", send, check=check)
    instance = svc.start("svc_door", {"card_no": "C-2"})
    assert instance.status == InstanceStatus.COMPLETED
    [row] = _rows(f"instance:{instance.id}:")
    assert row.payload == {"card": "C-2"} and row.status == "queued"
    commit()
    with pytest.raises(DoorCrash):
        dispatch_due()
    db.session.rollback()
    assert dispatch_due() == 0  # the lease still holds
    frozen_clock.advance(timedelta(minutes=6))
    assert dispatch_due() == 1
    db.session.expire_all()
    row = db.session.get(OutboxMessage, row.id)
    assert row.status == "sent" and row.provider_id == f"door-{row.id}"
    assert delivered == [row.idempotency_key]  # exactly one delivery
