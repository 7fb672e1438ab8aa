"""Timer start events: one instance per active project and occurrence, never twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from SpiffWorkflow.util.task import TaskState

from app.audit.actor import Actor, acting_as
from app.clock import clock
from app.engine import timer_starts
from app.engine.deployments import deploy, restore_workflow
from app.engine.models import HumanTask, ProcessInstance, TimerStartSchedule
from app.extensions import db
from app.uow import unit_of_work
from tests.engine_db.test_timers import _RememberedOffset
from tests.engine_db.timers_support import timer_bundle

# "R/2026-01-01T00:00:00+08:00/P1M": midnight on the 1st in Shanghai.
DEC_1 = datetime(2026, 11, 30, 16, 0, tzinfo=UTC)
JAN_1 = datetime(2026, 12, 31, 16, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def fresh_sync() -> Any:
    timer_starts.forget_sync()
    yield
    timer_starts.forget_sync()


@pytest.fixture
def estates(db_session: Any, create_project: Any) -> list[int]:
    with acting_as(Actor(None, "test")):
        deploy(timer_bundle())
    projects = [create_project() for _ in range(3)]
    projects[2].active = False
    db.session.flush()
    return [p.id for p in projects]


def _schedules() -> list[TimerStartSchedule]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(TimerStartSchedule).order_by(
        TimerStartSchedule.project_id)))


def _started() -> list[tuple[int, str, str]]:
    db.session.expire_all()
    rows = db.session.scalars(sa.select(ProcessInstance).where(
        ProcessInstance.flow == "monthly_inspection").order_by(ProcessInstance.id))
    result = []
    for instance in rows:
        workflow = restore_workflow(instance, instance.state)
        data = workflow.get_tasks(state=TaskState.READY, manual=True)[0].data
        result.append((instance.project_id, data["scheduled_for"], instance.current_steps))
    return result


def test_schedules_per_active_project_and_one_start_per_occurrence(estates, frozen_clock):
    active = estates[:2]
    assert timer_starts.start_due_timer_starts() == 0
    assert [(s.process_id, s.project_id, s.next_due) for s in _schedules()] == [
        ("monthly_inspection", pid, DEC_1) for pid in active]
    frozen_clock.set(DEC_1)
    assert timer_starts.start_due_timer_starts() == 2
    assert _started() == [(pid, DEC_1.isoformat(), "Inspect") for pid in active]
    assert timer_starts.start_due_timer_starts() == 0  # never twice
    assert all(s.next_due == JAN_1 and s.last_due == DEC_1 for s in _schedules())
    tasks = db.session.scalars(sa.select(HumanTask.element_id)).all()
    assert tasks == ["Inspect", "Inspect"]


def test_catches_up_every_missed_month_oldest_first(estates, frozen_clock):
    timer_starts.start_due_timer_starts()
    frozen_clock.set(datetime(2027, 3, 15, tzinfo=UTC))  # down since November
    assert timer_starts.start_due_timer_starts() == 8
    months = ["2026-11-30T16:00:00+00:00", "2026-12-31T16:00:00+00:00",
              "2027-01-31T16:00:00+00:00", "2027-02-28T16:00:00+00:00"]
    assert [(p, due) for p, due, _ in _started()] == [
        (pid, due) for pid in estates[:2] for due in months]
    assert {s.next_due for s in _schedules()} == {datetime(2027, 3, 31, 16, tzinfo=UTC)}


def test_a_new_version_keeps_the_schedule(estates, frozen_clock):
    timer_starts.start_due_timer_starts()
    frozen_clock.set(DEC_1 + timedelta(hours=1))
    assert timer_starts.start_due_timer_starts() == 2
    files = timer_bundle()
    files["processes/monthly_start.bpmn"] = files["processes/monthly_start.bpmn"].replace(
        b'name="Inspect"', b'name="Inspect the estate"')
    with acting_as(Actor(None, "test")):
        v2, created = deploy(files)
    assert created
    assert timer_starts.start_due_timer_starts() == 0
    assert all(s.deployment_id == v2.id and s.next_due == JAN_1 for s in _schedules())
    frozen_clock.set(JAN_1)
    assert timer_starts.start_due_timer_starts() == 2
    assert [steps for *_, steps in _started()][-2:] == ["Inspect the estate"] * 2


def test_projects_that_come_and_go(estates, frozen_clock, create_project):
    timer_starts.start_due_timer_starts()
    with unit_of_work():
        db.session.get(type(create_project()), estates[0]).active = False
    timer_starts.start_due_timer_starts()
    project_ids = [s.project_id for s in _schedules()]
    assert estates[0] not in project_ids and estates[1] in project_ids
    assert len(project_ids) == 2  # the new project got its own schedule


def test_a_schedule_made_after_an_occurrence_does_not_start_it(estates, frozen_clock):
    frozen_clock.set(DEC_1 + timedelta(hours=1))  # first seen after the 1st of December
    assert timer_starts.start_due_timer_starts() == 0
    assert {s.next_due for s in _schedules()} == {JAN_1}


def test_clock_advance_starts_due_processes(app, estates, frozen_clock):
    app.config["CLOCK_MODE"] = "adjustable"
    cache = _RememberedOffset(app)
    app.extensions["estateflow_clock_offset"] = cache
    clock.use_offset(cache)
    try:
        timer_starts.start_due_timer_starts()
        result = app.test_cli_runner().invoke(args=["clock", "advance", "P9D"])
        assert result.exit_code == 0, result.output
        assert len(_started()) == 2
    finally:
        app.config["CLOCK_MODE"] = "system"
        app.extensions.pop("estateflow_clock_offset", None)
        clock.use_offset(None)
