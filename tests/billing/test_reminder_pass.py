"""The 30-day reminders of a timer pass: the cases and bills of a group are read together and
each case still gets its own arrears; a reminder whose step fails has the same outcome as any
failing change — what ran before the failing task stands, the failing handler's rows are gone,
one incident."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import event, func, select, update

from app.billing.models import Bill
from app.engine import services
from app.engine.models import EventKind, Incident, InstanceEvent, InstanceStatus, ProcessInstance
from app.extensions import db
from app.outbox.models import OutboxMessage
from tests.billing.world import BillingWorld

NOV = date(2026, 11, 1)


@pytest.fixture
def failing_unit() -> Iterator[list[int]]:
    """``notify`` writes its messages and then fails for the units listed."""
    units: list[int] = []
    original = services.get_operator("notify")

    def notify_then_fail(context: services.ServiceContext, params: dict[str, Any]) -> Any:
        result = original.handler(context, params)
        if context.data.get("unit_id") in units:
            raise ConnectionError("SMS gateway refused the batch")
        return result

    services.register_operator("notify", params=original.params, required=original.required,
                               handler=notify_then_fail, description=original.description)
    try:
        yield units
    finally:
        services.register_operator("notify", params=original.params,
                                   required=original.required, handler=original.handler,
                                   description=original.description)


def _reminder_rows(instance_id: int) -> int:
    return db.session.scalar(select(func.count(OutboxMessage.id)).where(
        OutboxMessage.event == "dunning.reminder",
        OutboxMessage.idempotency_key.like(f"instance:{instance_id}:%"))) or 0


def test_a_failing_reminder_keeps_what_ran_before_it(world: BillingWorld, failing_unit):
    assert world.bill(NOV) == 3 and world.open_cases() == 3
    failing, working = world.units[1], world.units[2]
    failing_unit.append(failing.id)
    due = world.bills()[0].due_date
    world.until(due + timedelta(days=30))

    case = world.case(failing)
    assert case is not None
    instance = db.session.get(ProcessInstance, case.instance_id)
    db.session.refresh(instance)
    assert instance.status == InstanceStatus.ERROR
    incidents = list(db.session.scalars(select(Incident).where(
        Incident.instance_id == instance.id)))
    assert [(i.element_id, i.error_type, i.occurrences) for i in incidents] == [
        ("Send_reminder", "ConnectionError", 1)]
    assert db.session.scalar(select(func.count(InstanceEvent.id)).where(
        InstanceEvent.instance_id == instance.id,
        InstanceEvent.kind == EventKind.INCIDENT.value)) == 1
    # The arrears look-up before it ran and counted the reminder; the message did not stay.
    db.session.refresh(case)
    assert case.reminders == 1 and [e["action"] for e in case.log] == ["reminder"]
    assert _reminder_rows(instance.id) == 0
    # The other cases of the pass were reminded, once: the pass stepped them again after the
    # failure, from the state before it.
    for unit in (world.units[0], working):
        other = world.case(unit)
        assert other is not None
        db.session.refresh(other)
        assert other.reminders == 1 and len(other.log) == 1
        assert _reminder_rows(other.instance_id) == 1


def test_a_group_reads_its_cases_and_bills_once_and_each_case_gets_its_own(
        world: BillingWorld):
    assert world.bill(NOV) == 3 and world.open_cases() == 3
    due = world.bills()[0].due_date
    # The units owe different amounts: 100.00 of unit 2's bill was paid.
    db.session.execute(update(Bill).where(Bill.unit_id == world.units[1].id)
                       .values(paid_fen=Bill.paid_fen + 10000))
    owed = {unit.id: sum(b.amount_fen - b.paid_fen for b in world.bills(unit))
            for unit in world.units}
    assert len(set(owed.values())) == 2
    world.until(due + timedelta(days=29))
    reads: list[str] = []

    inserts: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().startswith("SELECT") and (
                "FROM dunning_case" in statement or "FROM bill" in statement):
            reads.append(statement)
        if statement.startswith("INSERT INTO outbox_message"):
            inserts.append(statement)

    event.listen(db.engine, "before_cursor_execute", note)
    try:
        world.until(due + timedelta(days=30))
    finally:
        event.remove(db.engine, "before_cursor_execute", note)
    assert len(reads) == 2  # one for the cases, one for the bills: not two per case
    assert len(inserts) == 1  # the group's messages are written together
    for unit in world.units:
        case = world.case(unit)
        assert case is not None
        db.session.refresh(case)
        assert case.reminders == 1
        bodies = db.session.scalars(select(OutboxMessage.body).where(
            OutboxMessage.event == "dunning.reminder",
            OutboxMessage.idempotency_key.like(f"instance:{case.instance_id}:%"))).all()
        yuan = f"¥{owed[unit.id] // 100}.{owed[unit.id] % 100:02d}"
        assert bodies and all(yuan in body for body in bodies)
