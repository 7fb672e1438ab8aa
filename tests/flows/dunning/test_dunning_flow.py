"""processes/dunning.bpmn with the clock moved through 120 days: reminders from day 30 every
15 days, the freeze confirmation at day 90 (never automatic), payment at any point, partial
payments restarting the count."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select

from app.billing import door_access, dunning
from app.billing.dunning import dunning_next
from app.billing.models import DoorAccessCommand
from app.engine import runtime
from app.engine.models import InstanceStatus, MessageSubscription, ProcessInstance
from app.errors import FieldErrors
from app.extensions import db
from app.outbox.dispatcher import dispatch_due
from app.outbox.models import OutboxMessage
from tests.billing.world import BillingWorld

NOV = date(2026, 11, 1)
DEC = date(2026, 12, 1)


def _start(world: BillingWorld) -> date:
    """Bill November (due 16 Nov, overdue now on 22 Nov) and open the case; the due date."""
    assert world.bill(NOV) == 3
    assert world.open_cases() == 3
    [bill] = world.bills()
    return bill.due_date


def _instance(world: BillingWorld) -> ProcessInstance:
    case = world.case()
    assert case is not None
    db.session.expire_all()
    instance = db.session.get(ProcessInstance, case.instance_id)
    assert instance is not None
    return instance


def _reminders(world: BillingWorld) -> list[OutboxMessage]:
    user_key = f"user:{world.owner.id}"
    return [m for m in world.messages("dunning.reminder") if m.recipient == user_key]


def _door(world: BillingWorld) -> list[tuple[str, str]]:
    db.session.expire_all()
    return [(c.action, c.status) for c in db.session.scalars(
        select(DoorAccessCommand).where(DoorAccessCommand.unit_id == world.unit.id)
        .order_by(DoorAccessCommand.id))]


def test_schedule_helper_counts_from_the_oldest_due_date():
    due = date(2026, 11, 16)
    first = dunning_next(due.isoformat())
    assert first == {"kind": "reminder", "at": "2026-12-16T09:00:00+08:00", "number": 1}
    second = dunning_next(due.isoformat(), first["at"])
    assert second["at"].startswith("2026-12-31T09:00")
    # After day 75 the freeze confirmation (day 90) comes before the next reminder.
    last = datetime.fromisoformat("2027-01-30T09:00:00+08:00")
    assert dunning_next(due.isoformat(), last.isoformat()) == {
        "kind": "freeze", "at": "2027-02-14T09:00:00+08:00"}
    decided = dunning_next(due.isoformat(), last.isoformat(), None, True)
    assert decided["kind"] == "reminder" and decided["at"].startswith("2027-02-14T09:00")
    # A late run sends one reminder, not the missed ones in a burst.
    late = dunning_next(due.isoformat(), "2027-01-01T10:00:00+08:00")
    assert late["at"].startswith("2027-01-15")


def test_reminders_freeze_confirmed_then_paid(world: BillingWorld):
    due = _start(world)
    case = world.case()
    assert case is not None and case.status == "open" and case.oldest_due == due
    world.until(due + timedelta(days=29))
    assert _reminders(world) == []
    world.days(1)  # day 30
    [first] = _reminders(world)
    assert "¥210.02" in (first.subject or "") + (first.body or "")  # 235 fen × 89.37 m²
    assert world.unit.label in (first.subject or "") + (first.body or "")
    case = world.case()
    assert case.reminders == 1 and case.last_reminder_at is not None
    assert [e["action"] for e in case.log] == ["reminder"]
    world.until(due + timedelta(days=89))
    assert len(_reminders(world)) == 4  # days 30, 45, 60, 75
    assert world.tasks() == []
    world.days(1)  # day 90: a person must confirm; nothing is frozen automatically
    [task] = world.tasks()
    assert task.element_id == "Confirm_freeze" and task.role == "finance"
    assert _door(world) == [] and world.case().freeze_state == "asked"
    runtime.complete_task(task.id, {"freeze_confirmed": True}, world.finance)
    rows = list(db.session.scalars(select(OutboxMessage).where(
        OutboxMessage.kind == "door_access")))
    assert [r.payload["action"] for r in rows] == ["freeze"]
    assert _door(world) == []  # only the outbox row so far: the adapter runs after commit
    dispatch_due()
    assert _door(world) == [("freeze", "done")]
    assert world.case().freeze_state == "frozen"
    assert len(world.messages("dunning.frozen")) == 1
    assert len(_reminders(world)) == 5  # the day-90 reminder follows the decision
    world.until(due + timedelta(days=120))
    assert len(_reminders(world)) == 7  # days 105 and 120
    world.pay(21002)
    instance = _instance(world)
    assert instance.status == InstanceStatus.COMPLETED
    assert world.case().status == "closed" and world.case().freeze_state == "lifted"
    dispatch_due()
    assert _door(world) == [("freeze", "done"), ("unfreeze", "done")]
    assert len(world.messages("dunning.paid")) == 1
    assert len(_reminders(world)) == 7


def _subscriptions(instance: ProcessInstance) -> list[tuple[int, str, str]]:
    return [(s.id, s.name, s.element_id) for s in db.session.scalars(
        select(MessageSubscription).where(MessageSubscription.instance_id == instance.id)
        .order_by(MessageSubscription.id))]


def test_each_reminder_waits_on_the_same_payment_subscriptions(world: BillingWorld):
    """Every reminder loops back to the wait for payment: the case keeps its two
    subscription rows (nothing rewritten per reminder) and a payment still ends it."""
    due = _start(world)
    opened = _subscriptions(_instance(world))
    assert [(name, element) for _id, name, element in opened] == [
        ("dunning_paid", "Wait"), ("dunning_partial", "Wait")]  # the event gateway waits
    world.until(due + timedelta(days=75))
    assert len(_reminders(world)) == 4
    assert _subscriptions(_instance(world)) == opened
    world.pay(21002)
    assert _instance(world).status == InstanceStatus.COMPLETED
    assert _subscriptions(_instance(world)) == []
    assert len(world.messages("dunning.paid")) == 1


def test_freeze_refused_needs_a_reason_and_reminders_go_on(world: BillingWorld):
    due = _start(world)
    world.until(due + timedelta(days=90))
    [task] = world.tasks()
    with pytest.raises(FieldErrors) as info:
        runtime.complete_task(task.id, {"freeze_confirmed": False}, world.finance)
    assert "refuse_reason" in info.value.fields
    runtime.complete_task(task.id, {"freeze_confirmed": False,
                                    "refuse_reason": "业主住院，已约定下月缴清"}, world.finance)
    case = world.case()
    assert case.freeze_state == "refused" and case.freeze_reason == "业主住院，已约定下月缴清"
    world.until(due + timedelta(days=120))
    assert world.tasks() == []  # not asked again for the same arrears
    assert len(_reminders(world)) == 7
    dispatch_due()
    assert _door(world) == []


def test_payment_while_the_freeze_waits_for_confirmation(world: BillingWorld):
    due = _start(world)
    world.until(due + timedelta(days=95))
    [task] = world.tasks()
    world.pay(21002, method="wechat", reference="4200001234")
    assert world.tasks() == []
    assert _instance(world).status == InstanceStatus.COMPLETED
    assert world.case().status == "closed"
    dispatch_due()
    assert _door(world) == []  # never frozen, so nothing to lift
    assert len(world.messages("dunning.paid")) == 1
    with pytest.raises(Exception):  # noqa: B017 - the task is gone
        runtime.complete_task(task.id, {"freeze_confirmed": True}, world.finance)


def test_partial_payment_restarts_the_count_from_the_oldest_unpaid_bill(world: BillingWorld):
    due = _start(world)
    world.until(DEC + timedelta(days=1))
    world.bill(DEC)  # December's bill, due 16 Dec
    world.until(due + timedelta(days=50))  # reminders on days 30 and 45
    assert len(_reminders(world)) == 2
    world.pay(21002)  # pays November only: December (due 16 Dec) is now the oldest
    case = world.case()
    assert case.status == "open" and case.restarts == 1
    assert case.oldest_due == date(2026, 12, 16)
    world.until(date(2027, 1, 14))
    assert len(_reminders(world)) == 2
    world.days(1)  # 15 Jan = 16 Dec + 30
    assert len(_reminders(world)) == 3
    world.until(due + timedelta(days=91))  # November's day 90 passed: no freeze asked
    assert world.tasks() == []
    world.until(date(2027, 3, 16))  # 16 Dec + 90
    assert [t.element_id for t in world.tasks()] == ["Confirm_freeze"]


def test_partial_payment_during_confirmation_restarts_the_count(world: BillingWorld):
    due = _start(world)
    world.until(DEC + timedelta(days=1))
    world.bill(DEC)
    world.until(due + timedelta(days=90))
    assert [t.element_id for t in world.tasks()] == ["Confirm_freeze"]
    world.pay(21002, method="pos", reference="POS-778")  # November paid, December 60 days
    assert world.tasks() == []
    case = world.case()
    assert case.status == "open" and case.freeze_state is None and case.restarts == 1
    world.until(date(2027, 3, 16))
    assert [t.element_id for t in world.tasks()] == ["Confirm_freeze"]
    world.pay(21002)
    assert world.case().status == "closed"


def test_partial_payment_of_the_oldest_bill_keeps_its_schedule(world: BillingWorld):
    due = _start(world)
    world.until(due + timedelta(days=31))
    world.pay(10000)  # part of the only overdue bill
    case = world.case()
    assert case.status == "open" and case.restarts == 1 and case.oldest_due == due
    world.until(due + timedelta(days=45))
    reminders = _reminders(world)
    assert len(reminders) == 2 and "¥110.02" in (reminders[-1].subject or "")


def test_a_second_run_opens_no_second_case(world: BillingWorld):
    _start(world)
    assert world.open_cases() == 0
    world.days(1)
    assert world.open_cases() == 0


def test_door_adapter_is_configurable(world: BillingWorld, app, monkeypatch):
    calls: list[str] = []

    class Fake:
        name = "fake"

        def execute(self, command: door_access.DoorCommand) -> door_access.DoorResult:
            calls.append(f"{command.action}:{command.unit_id}")
            return door_access.DoorResult(True, "ok", "F-1")

    monkeypatch.setitem(app.config, "DOOR_ACCESS_ADAPTER", f"{__name__}:Fake")
    monkeypatch.setitem(globals(), "Fake", Fake)
    due = _start(world)
    world.until(due + timedelta(days=90))
    [task] = world.tasks()
    runtime.complete_task(task.id, {"freeze_confirmed": True}, world.supervisor)
    dispatch_due()
    assert calls == [f"freeze:{world.unit.id}"]
    assert _door(world) == []  # the fake adapter records nothing itself


def test_a_case_read_earlier_in_the_transaction_sees_the_reminder(world: BillingWorld):
    """The reminder writes its count with one UPDATE; a case the same transaction already
    holds (a payment page, say) must not keep showing the old count."""
    due = _start(world)
    world.until(due + timedelta(days=30))
    case = world.case()
    assert case.reminders == 1
    dunning.apply_update(case.instance_id, "reminder")
    assert case.reminders == 2 and [e["action"] for e in case.log] == ["reminder"] * 2
