"""Timers through persistence and the scheduler's pass, with the clock moved (never slept)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from app.audit.actor import Actor, acting_as
from app.clock import clock
from app.engine import runtime, spiff, timer_jobs
from app.engine.deployments import deploy
from app.engine.models import HumanTask, InstanceEvent, ProcessInstance
from app.extensions import db
from app.timetravel import operations as timetravel
from app.uow import unit_of_work
from tests.conftest import START
from tests.engine_db.timers_support import timer_bundle


@pytest.fixture
def timers(db_session: Any, create_project: Any) -> Any:
    """Deploy the timer fixtures; returns start(flow, **data) → committed instance id."""
    with acting_as(Actor(None, "test")):
        deploy(timer_bundle())
    project = create_project()

    def start(flow: str, **data: Any) -> int:
        with unit_of_work():
            return runtime.start_instance(flow, project.id, data).id

    return start


def _tasks(instance_id: int) -> list[tuple[str, str]]:
    db.session.expire_all()
    return [tuple(row) for row in db.session.execute(
        sa.select(HumanTask.element_id, HumanTask.status)
        .where(HumanTask.instance_id == instance_id).order_by(HumanTask.id))]


def _instance(instance_id: int) -> ProcessInstance:
    db.session.expire_all()
    return db.session.get(ProcessInstance, instance_id)


def test_nothing_fires_before_its_time(timers, frozen_clock):
    instance_id = timers("boundary_timers")
    assert _instance(instance_id).next_timer_due == START + timedelta(days=30)
    frozen_clock.advance(timedelta(days=29, hours=23))
    assert timer_jobs.fire_due() == 0
    assert _tasks(instance_id) == [("Repair", "open")]


def test_non_interrupting_boundary_timer(timers, frozen_clock):
    instance_id = timers("boundary_timers")
    frozen_clock.advance(timedelta(days=30))
    assert timer_jobs.fire_due() == 1
    assert _tasks(instance_id) == [("Repair", "open"), ("Remind", "open")]
    # The index moved on to the interrupting 90-day timer; nothing fires twice.
    assert _instance(instance_id).next_timer_due == START + timedelta(days=90)
    assert timer_jobs.fire_due() == 0
    assert _tasks(instance_id) == [("Repair", "open"), ("Remind", "open")]


def test_interrupting_boundary_timer_cancels_the_task(timers, frozen_clock):
    instance_id = timers("boundary_timers")
    frozen_clock.advance(timedelta(days=91))
    assert timer_jobs.fire_due() == 1
    assert _tasks(instance_id) == [("Repair", "cancelled"), ("Remind", "open"),
                                   ("Escalated", "open")]
    assert _instance(instance_id).next_timer_due is None


def test_intermediate_timers(timers, frozen_clock):
    instance_id = timers("intermediate_timer", wait_for="PT2H")
    assert _instance(instance_id).status == "waiting"
    frozen_clock.advance(timedelta(hours=1))
    assert timer_jobs.fire_due() == 0
    frozen_clock.advance(timedelta(hours=1))
    assert timer_jobs.fire_due() == 1  # the second timer's date (March 2026) is long past
    assert _tasks(instance_id) == [("Follow_up", "open")]
    assert _instance(instance_id).status == "running"


def test_event_gateway_timer_wins_when_no_message_comes(timers, frozen_clock):
    instance_id = timers("event_gateway", ticket_number="R-1")
    assert _instance(instance_id).next_timer_due == START + timedelta(days=7)
    frozen_clock.advance(timedelta(days=7, minutes=1))
    assert timer_jobs.fire_due() == 1
    assert _tasks(instance_id) == [("Chase", "open")]


def test_cycle_catches_up_after_downtime_oldest_first(timers, frozen_clock):
    ids = []
    for _ in range(3):
        ids.append(timers("cycle_timer"))
        frozen_clock.advance(timedelta(minutes=10))
    frozen_clock.advance(timedelta(days=10))  # the scheduler was down for ten days
    assert timer_jobs.fire_due_instances(limit=2, batch_size=1) == ids[:2]
    assert timer_jobs.fire_due_instances() == ids[2:]
    for instance_id in ids:
        # R3/PT1H: exactly three reminders, no more however long the downtime was.
        assert _tasks(instance_id) == [("Work", "open")] + [("Reminder", "open")] * 3
        assert _instance(instance_id).next_timer_due is None
    assert timer_jobs.fire_due() == 0


def test_cycle_fires_each_hour_as_the_clock_moves(timers, frozen_clock):
    instance_id = timers("cycle_timer")
    for hour in (1, 2, 3, 4):
        frozen_clock.advance(timedelta(hours=1))
        timer_jobs.fire_due()
        reminders = [t for t in _tasks(instance_id) if t[0] == "Reminder"]
        assert len(reminders) == min(hour, 3)


def test_suspended_and_finished_instances_never_fire(timers, frozen_clock):
    suspended = timers("boundary_timers")
    cancelled = timers("boundary_timers")
    running = timers("boundary_timers")
    with unit_of_work():
        runtime.suspend_instance(suspended)
        runtime.cancel_instance(cancelled, "duplicate")
    frozen_clock.advance(timedelta(days=31))
    assert timer_jobs.fire_due_instances() == [running]
    assert _tasks(suspended) == [("Repair", "open")]
    # Resumed, it catches up at once (the engine steps it on resume).
    with unit_of_work():
        runtime.resume_instance(suspended)
    assert _tasks(suspended) == [("Repair", "open"), ("Remind", "open")]


def test_a_pass_with_nothing_due_reads_no_workflow(timers, frozen_clock, monkeypatch):
    for _ in range(20):
        timers("boundary_timers")

    def refuse(*_args: Any, **_kwargs: Any) -> None:
        raise AssertionError("a pass with nothing due deserialized a workflow")

    monkeypatch.setattr(spiff, "deserialize", refuse)
    statements: list[str] = []

    def record(*args: Any) -> None:
        statements.append(args[2])

    sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        assert timer_jobs.fire_due() == 0
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", record)
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) <= 1
    assert all(" state" not in s.split("FROM")[0] for s in selects)


def test_a_failing_instance_does_not_stop_the_others(timers, frozen_clock, monkeypatch):
    first, second = timers("boundary_timers", broken=True), timers("boundary_timers")
    frozen_clock.advance(timedelta(days=31))
    real = spiff.advance

    def advance(workflow: Any) -> None:
        if workflow.data.get("broken") or any(
                t.data.get("broken") for t in workflow.get_tasks()):
            failed.append(True)
            raise RuntimeError("boom")
        real(workflow)

    failed: list[bool] = []
    monkeypatch.setattr(spiff, "advance", advance)
    assert second in timer_jobs.fire_due_instances()
    # Stepped with the group, then alone, then with a savepoint per service task.
    assert failed == [True, True, True]
    assert _tasks(second) == [("Repair", "open"), ("Remind", "open")]
    assert _tasks(first) == [("Repair", "open")]
    # The failure became an incident (status error: out of the timer index), or, where no
    # incident layer catches it, the instance stays due and is retried on the next pass.
    if _instance(first).status == "error":
        assert _instance(first).next_timer_due is None
        assert timer_jobs.fire_due_instances() == []
    else:
        assert timer_jobs.fire_due_instances() == [first]


class _RememberedOffset(timetravel.OffsetCache):
    """The offset as last set by this process: reading it from the database would use another
    app context, whose teardown removes the test's rolled-back session."""

    def __call__(self) -> timedelta:
        return self._value


@pytest.fixture
def adjustable(app: Any) -> Iterator[None]:
    app.config["CLOCK_MODE"] = "adjustable"
    cache = _RememberedOffset(app)
    app.extensions["estateflow_clock_offset"] = cache
    clock.use_offset(cache)
    yield
    app.config["CLOCK_MODE"] = "system"
    app.extensions.pop("estateflow_clock_offset", None)
    clock.use_offset(None)


def test_clock_advance_fires_due_timers_at_once(app, timers, adjustable):
    instance_id = timers("boundary_timers")
    result = app.test_cli_runner().invoke(args=["clock", "advance", "P31D"])
    assert result.exit_code == 0, result.output
    assert clock.now() == START + timedelta(days=31)
    assert _tasks(instance_id) == [("Repair", "open"), ("Remind", "open")]
    kinds = db.session.scalars(sa.select(InstanceEvent.actor_label).where(
        InstanceEvent.instance_id == instance_id, InstanceEvent.kind == "task_created")).all()
    assert kinds == ["system", "scheduler"]
