"""Timer start events: the scheduler starts a process when its schedule says so, exactly once.

A deployed process whose start event carries a timer (``R/2026-01-01T00:00:00+08:00/P1M``: a
monthly billing run) gets one :class:`TimerStartSchedule` row per *active project*: a property
company runs its monthly inspection or billing in every estate, and every instance belongs to
one project. Rows follow the latest deployment of the process (:func:`sync_timer_starts` runs
before each pass, and does work only when deployments or active projects changed); a project
that is deactivated loses its rows, one that is (re)activated gets rows from then on.

When ``next_due`` has come, :func:`start_due_timer_starts` locks the row (``FOR UPDATE SKIP
LOCKED`` on PostgreSQL, a Redis lock as well when Redis is configured, ``BEGIN IMMEDIATE`` on
SQLite), starts one instance for that occurrence with ``scheduled_for`` in its data, moves
``last_due``/``next_due`` on and commits — all in one transaction, so an occurrence is started
once however many schedulers run. After downtime every missed occurrence is started, oldest
first (a missed billing month is still billed). timeCycle start events repeat; timeDate and
timeDuration ones start once (timeDuration: that long after the process was first deployed).
"""

from __future__ import annotations

import logging
from contextlib import nullcontext
from datetime import datetime
from typing import Any

from flask import current_app, has_app_context
from redis.exceptions import LockError
from SpiffWorkflow.bpmn.specs import BpmnProcessSpec
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import func, select, text

from app.audit.actor import acting_as
from app.clock import clock
from app.engine import runtime, spiff
from app.engine.deployments import loaded_deployment
from app.engine.locking import locked_instance
from app.engine.models import DeployedProcess, Deployment, TimerStartSchedule
from app.engine.timer_jobs import SCHEDULER
from app.extensions import db
from app.projects.models import Project
from app.uow import commit, unit_of_work

log = logging.getLogger(__name__)

#: Occurrences of one schedule started per pass at most (catching up after long downtime).
MAX_CATCH_UP = 50

#: PostgreSQL advisory lock serializing :func:`sync_timer_starts` across schedulers.
SYNC_LOCK_KEY = 0x45_46_54_53  # "EFTS"

#: (latest deployment id, active projects) when the schedules were last synced, per database.
_synced: dict[str, tuple[Any, ...]] = {}


def _timer_start_events(spec: BpmnProcessSpec) -> list[TimerEventDefinition]:
    return [
        task_spec.event_definition
        for task_spec in spec.task_specs.values()
        if isinstance(task_spec, StartEvent)
        and isinstance(getattr(task_spec, "event_definition", None), TimerEventDefinition)
    ]


def _spec(deployment_id: int, process_id: str) -> BpmnProcessSpec:
    deployment = db.session.get(Deployment, deployment_id)
    assert deployment is not None
    return loaded_deployment(deployment).spec(process_id)[0]


def next_occurrence(spec: BpmnProcessSpec, after: datetime, *, first: bool) -> datetime | None:
    """The next start strictly after ``after``; only cycles repeat after the first start."""
    if not first and not any(
        isinstance(d, CycleTimerEventDefinition) for d in _timer_start_events(spec)
    ):
        return None
    return spiff.next_start_due(spec, after)


def _latest_timer_processes() -> dict[str, DeployedProcess]:
    """{process id: its row in the latest deployment holding it} for timer-start processes."""
    rows = db.session.execute(
        select(DeployedProcess, Deployment.version)
        .join(Deployment)
        .order_by(DeployedProcess.process_id, Deployment.version.desc())
    ).all()
    latest: dict[str, DeployedProcess] = {}
    for process, _version in rows:
        latest.setdefault(process.process_id, process)
    return {pid: p for pid, p in latest.items() if p.has_timer_start}


def _fingerprint() -> tuple[Any, ...]:
    deployment = db.session.scalar(select(func.max(Deployment.id)))
    projects = db.session.execute(
        select(func.count(Project.id), func.sum(Project.id)).where(Project.active.is_(True))
    ).one()
    schedules = db.session.scalar(select(func.count(TimerStartSchedule.id)))
    return (deployment, *projects, schedules)


def sync_timer_starts(now: datetime | None = None, *, force: bool = False) -> None:
    """Give every timer-start process of the latest deployments one schedule row per active
    project, pointing at that deployment; drop rows no longer wanted. Flushes."""
    moment = now or clock.now()
    key = str(db.engine.url)
    fingerprint = _fingerprint()
    if not force and _synced.get(key) == fingerprint:
        return
    if db.session.get_bind().dialect.name == "postgresql":
        # Two schedulers syncing at once would insert the same rows; the second waits here
        # and then sees the first one's rows (SQLite: BEGIN IMMEDIATE serializes already).
        db.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SYNC_LOCK_KEY})
    processes = _latest_timer_processes()
    project_ids = set(db.session.scalars(select(Project.id).where(Project.active.is_(True))))
    existing = {
        (row.process_id, row.project_id): row
        for row in db.session.scalars(select(TimerStartSchedule).with_for_update())
    }
    for (process_id, project_id), row in existing.items():
        if process_id not in processes or project_id not in project_ids:
            db.session.delete(row)
    for process_id, process in processes.items():
        spec = _spec(process.deployment_id, process_id)
        for project_id in sorted(project_ids):
            found = existing.get((process_id, project_id))
            if found is None:
                db.session.add(TimerStartSchedule(
                    process_id=process_id, project_id=project_id,
                    deployment_id=process.deployment_id,
                    next_due=next_occurrence(spec, moment, first=True),
                    started_count=0, updated_at=moment,
                ))
            elif found.deployment_id != process.deployment_id:
                # A new version: recompute from the last start (or from now if none yet).
                found.deployment_id = process.deployment_id
                after = found.last_due or moment
                found.next_due = next_occurrence(spec, after, first=found.last_due is None)
                found.updated_at = moment
    db.session.flush()
    _synced[key] = fingerprint


def _redis_lock(schedule_id: int) -> Any:
    client = current_app.extensions.get("estateflow_redis") if has_app_context() else None
    if client is None:
        return nullcontext()
    return client.lock(f"estateflow:timer-start:{schedule_id}", timeout=60, blocking=False)


def _fire_start_event(workflow: BpmnWorkflow) -> None:
    """Let the start event's timer pass: the schedule already decided that it is time."""
    for task in workflow.get_tasks(state=TaskState.WAITING):
        spec = task.task_spec
        if isinstance(spec, StartEvent) and isinstance(
            getattr(spec, "event_definition", None), TimerEventDefinition
        ):
            task._set_internal_data(event_fired=True)
            if not task.children:  # Spiff predicts no path after a cycle start event
                for output in spec.outputs:
                    child = task._add_child(output, TaskState.FUTURE)
                    child.task_spec._predict(child, mask=TaskState.NOT_FINISHED_MASK)


def _start_one(schedule_id: int, now: datetime) -> int | None:
    """Start the due occurrence of one schedule and move it on; the instance id or None."""
    with unit_of_work():
        stmt = (
            select(TimerStartSchedule)
            .where(TimerStartSchedule.id == schedule_id)
            .with_for_update(skip_locked=True)
            .execution_options(populate_existing=True)
        )
        row = db.session.scalar(stmt)
        if row is None or row.next_due is None or row.next_due > now:
            return None  # another scheduler holds it or started this occurrence already
        due = row.next_due
        instance = runtime.start_instance(
            row.process_id, row.project_id, {"scheduled_for": due.isoformat()}
        )
        with locked_instance(instance.id) as locked:
            assert locked.workflow is not None
            _fire_start_event(locked.workflow)
        row.last_due = due
        row.next_due = next_occurrence(_spec(row.deployment_id, row.process_id), due,
                                       first=False)
        row.started_count += 1
        row.updated_at = now
        return instance.id


def due_schedule_ids(now: datetime, limit: int = 100) -> list[int]:
    return list(db.session.scalars(
        select(TimerStartSchedule.id)
        .where(TimerStartSchedule.next_due <= now)
        .order_by(TimerStartSchedule.next_due, TimerStartSchedule.id)
        .limit(limit)
    ))


def start_due_instances(now: datetime | None = None) -> list[int]:
    """Start every due occurrence of every schedule, oldest first; the new instance ids.
    Commits on its own (per started instance)."""
    moment = now or clock.now()
    started: list[int] = []
    with acting_as(SCHEDULER):
        with unit_of_work():
            sync_timer_starts(moment)
        ids = due_schedule_ids(moment)
        commit()  # end the read before starting instances
        for schedule_id in ids:
            try:
                with _redis_lock(schedule_id):
                    for _ in range(MAX_CATCH_UP):
                        instance_id = _start_one(schedule_id, moment)
                        if instance_id is None:
                            break
                        started.append(instance_id)
            except LockError:
                continue  # another scheduler is on it
            except Exception:
                log.exception("starting timer-start schedule %s failed", schedule_id)
    return started


def start_due_timer_starts(now: datetime | None = None) -> int:
    """Scheduler job body: start what timer start events say is due; how many started."""
    return len(start_due_instances(now))


def forget_sync() -> None:
    """Make the next pass re-sync schedules (tests that roll back deployments call this)."""
    _synced.clear()


__all__ = [
    "MAX_CATCH_UP",
    "due_schedule_ids",
    "forget_sync",
    "next_occurrence",
    "start_due_instances",
    "start_due_timer_starts",
    "sync_timer_starts",
]
