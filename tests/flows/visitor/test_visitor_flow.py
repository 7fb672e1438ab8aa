"""The ``visitor`` and ``visitor_batch`` processes driven through the visitors domain."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from app.engine import runtime
from app.engine.models import HumanTask, InstanceStatus, ProcessInstance, TaskStatus
from app.engine.projections import open_task_rows
from app.errors import Conflict, FieldErrors, Forbidden
from app.extensions import db
from app.visitors import gate
from app.visitors import operations as ops
from tests.flows.visitor.conftest import (
    World,
    move_clock,
    sent,
    visit,
)


def instance_of(row: Any) -> ProcessInstance:
    found = db.session.get(ProcessInstance, row.instance_id)
    assert found is not None
    return found


def task_of(row: Any) -> HumanTask:
    assert row.task is not None
    return row.task  # type: ignore[no-any-return]


def submit(world: World, **overrides: Any) -> Any:
    return ops.submit_request(world.unit, visit(**overrides), "10.0.0.1")


def test_request_waits_for_the_hosts_and_tells_them(world: World) -> None:
    request = submit(world)
    assert request.status == "pending" and request.number.startswith("FK-20261122-")
    task = request.task
    assert task.element_id == "Approve_visit" and task.restricted
    assert task.candidate_user_ids == [world.host.id]
    assert task.due_at == request.created_at + timedelta(hours=2)
    [message] = sent("visitor.requested")
    assert (message.kind, message.user_id) == ("inapp", world.host.id)
    assert "张三" in str(message.body) and world.unit.label in str(message.body)


def test_host_approves_a_pass_is_issued_and_the_visitor_told(world: World) -> None:
    request = submit(world)
    ops.decide_request(request, world.host, "approve")
    assert request.status == "approved" and request.decided_by_id == world.host.id
    [issued] = request.passes
    assert (issued.kind, issued.visitor_phone, issued.max_entries) == ("request",
                                                                       "+8613800138000", 1)
    [sms] = sent("visitor.approved")
    assert sms.kind == "sms" and sms.recipient == "+8613800138000" and sms.urgent
    assert request.status_token in str(sms.body)
    assert instance_of(request).status == "completed"


def test_host_declines_and_the_visitor_is_told(world: World) -> None:
    request = submit(world)
    ops.decide_request(request, world.host, "decline", "Not at home today")
    assert (request.status, request.decline_reason) == ("declined", "Not at home today")
    assert request.passes == []
    [sms] = sent("visitor.declined")
    assert sms.recipient == "+8613800138000" and sent("visitor.approved") == []


def test_no_answer_within_two_hours_expires_and_tells_the_visitor(
        world: World, frozen_clock: Any) -> None:
    request = submit(world)
    move_clock(frozen_clock, timedelta(hours=1, minutes=59))
    assert ops.sync_request(request).status == "pending"
    move_clock(frozen_clock, timedelta(minutes=2))
    db.session.expire_all()
    assert request.task.status == TaskStatus.CANCELLED
    assert ops.sync_request(request).status == "expired"
    [sms] = sent("visitor.expired")
    assert sms.recipient == "+8613800138000" and sms.urgent
    with pytest.raises(Conflict):
        ops.decide_request(request, world.host, "approve")
    assert instance_of(request).status == "completed"


def test_only_the_units_hosts_may_answer(world: World) -> None:
    request = submit(world)
    with pytest.raises(Forbidden):
        ops.decide_request(request, world.landlord, "approve")
    assert request.status == "pending" and request.passes == []


def test_a_landlord_is_no_host_while_a_tenant_lives_there(world: World) -> None:
    request = ops.submit_request(world.tenant_unit, visit(), "10.0.0.1")
    assert task_of(request).candidate_user_ids == [world.tenant.id]
    with pytest.raises(FieldErrors):
        ops.invite_visitor(world.landlord, {"unit_id": world.tenant_unit.id, **visit()})


def test_a_unit_without_hosts_cannot_receive_requests(world: World) -> None:
    with pytest.raises(FieldErrors) as info:
        ops.submit_request(world.empty_unit, visit(), "10.0.0.1")
    assert "unit" in info.value.fields


def test_a_decision_made_in_the_staff_inbox_is_mirrored(world: World) -> None:
    request = submit(world)
    runtime.complete_task(task_of(request).id, {"decision": "approve"}, world.supervisor)
    assert ops.sync_request(request).status == "approved"
    assert request.passes[0].host_user_id == world.supervisor.id


def test_the_visitor_withdraws(world: World) -> None:
    request = submit(world)
    ops.withdraw_request(request)
    assert request.status == "withdrawn"
    assert instance_of(request).status == "cancelled"
    assert open_task_rows(request.instance_id) == []


def test_rate_limits_per_phone_and_per_ip(world: World) -> None:
    for _ in range(ops.PHONE_LIMIT.count):
        submit(world)
    with pytest.raises(ops.RateLimited):
        submit(world)
    for n in range(ops.IP_LIMIT.count - ops.PHONE_LIMIT.count - 1):
        submit(world, visitor_phone=f"1390000{n:04d}")
    with pytest.raises(ops.RateLimited):
        submit(world, visitor_phone="13711112222")
    ops.submit_request(world.unit, visit(visitor_phone="13711113333"), "10.0.0.2")


def batch_data(world: World, **overrides: Any) -> dict[str, Any]:
    data = visit()
    return {"unit_id": world.tenant_unit.id, "company": "星辰科技", "count": 5,
            "valid_from": data["valid_from"], "valid_until": data["valid_until"], **overrides}


def test_batch_approved_generates_the_passes(world: World) -> None:
    batch = ops.request_batch(world.tenant, batch_data(world))
    assert batch.status == "pending" and task_of(batch).role == "supervisor"
    assert not task_of(batch).restricted
    ops.decide_batch(batch, world.supervisor, "approve")
    assert batch.status == "approved" and len(batch.passes) == 5
    assert len({p.code for p in batch.passes}) == 5
    assert {p.kind for p in batch.passes} == {"batch"}
    [note] = [m for m in sent("visitor.batch_approved") if m.kind == "inapp"]
    assert note.user_id == world.tenant.id
    result = gate.check_pass(batch.passes[0].code, world.project.id, world.guard)
    assert not result.ok and result.reason == "not_yet_valid"


def test_batch_declined_generates_nothing(world: World) -> None:
    batch = ops.request_batch(world.tenant, batch_data(world, multi_entry=True))
    ops.decide_batch(batch, world.supervisor, "decline", "Too many people")
    assert (batch.status, batch.passes) == ("declined", [])
    assert {m.user_id for m in sent("visitor.batch_declined")} == {world.tenant.id}


def test_batch_approved_in_the_staff_inbox_is_mirrored(world: World) -> None:
    batch = ops.request_batch(world.tenant, batch_data(world, count=3, multi_entry=True))
    runtime.complete_task(task_of(batch).id, {"decision": "approve"}, world.supervisor)
    assert ops.sync_batch(batch).status == "approved"
    assert [p.max_entries for p in batch.passes] == [None, None, None]
    with pytest.raises(Conflict):
        ops.decide_batch(batch, world.supervisor, "approve")


def test_batch_input_is_checked(world: World) -> None:
    with pytest.raises(FieldErrors) as info:
        ops.request_batch(world.tenant, batch_data(world, count=0, company=""))
    assert set(info.value.fields) == {"count", "company"}
    with pytest.raises(FieldErrors):
        ops.request_batch(world.host, batch_data(world))  # not the tenant's unit


def test_instances_stay_out_of_the_timer_index_once_done(world: World) -> None:
    request = submit(world)
    instance = instance_of(request)
    assert instance.next_timer_due == request.created_at + timedelta(hours=2)
    ops.decide_request(request, world.host, "approve")
    assert instance.next_timer_due is None
    assert instance.status == InstanceStatus.COMPLETED
