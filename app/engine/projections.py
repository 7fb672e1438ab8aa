"""What is stored next to a workflow's state: task rows, status, current steps, next timer,
message and signal subscriptions.

:func:`save_workflow` is called by :mod:`app.engine.locking` (and once by
:func:`app.engine.runtime.start_instance`) after the engine stepped, so the projections are
always written in the same transaction as the state they describe.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping
from typing import Any

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from sqlalchemy import bindparam, select

from app.accounts.roles import is_known_role
from app.clock import clock
from app.engine import events, spiff
from app.engine import tasks as engine_tasks
from app.engine.events import WaitingEvent
from app.engine.history import jsonable, record_event
from app.engine.models import (
    EventKind,
    HumanTask,
    InstanceStatus,
    MessageSubscription,
    ProcessInstance,
    TaskCandidate,
    TaskStatus,
)
from app.engine.workflow_cache import cache as workflow_cache
from app.extensions import db

STEPS_LENGTH = 500


_OPEN_ROWS = (select(HumanTask)
              .where(HumanTask.instance_id == bindparam("instance_id"),
                     HumanTask.status == TaskStatus.OPEN.value)
              .order_by(HumanTask.id))
_SUBSCRIPTIONS = select(MessageSubscription).where(
    MessageSubscription.instance_id == bindparam("instance_id"))


_OPEN_ROWS_FRESH = _OPEN_ROWS.execution_options(populate_existing=True)


def open_task_rows(instance_id: int, *, fresh: bool = False) -> list[HumanTask]:
    """The instance's open task rows (``fresh``: re-read rows already in the session)."""
    return list(db.session.scalars(_OPEN_ROWS_FRESH if fresh else _OPEN_ROWS,
                                   {"instance_id": instance_id}))


def _sync_tasks(instance: ProcessInstance, workflow: BpmnWorkflow, new: bool,
                open_rows: list[HumanTask] | None) -> tuple[list[str], list[HumanTask]]:
    """Create rows for new ready human tasks, cancel rows whose task is gone; the ready
    tasks' titles and the open rows afterwards (oldest first)."""
    ready = {str(t.id): t for t in engine_tasks.ready_human_tasks(workflow)}
    if instance.status in (InstanceStatus.CANCELLED, InstanceStatus.COMPLETED):
        ready = {}
    now = clock.now()
    # A waiting instance has no open task rows (any would have made it running). Otherwise
    # the in-memory status wins: a row completed in this unit of work is not flushed yet.
    if new or instance.status == InstanceStatus.WAITING:
        open_rows = []
    elif open_rows is None:
        open_rows = open_task_rows(instance.id)
    rows = {row.task_id: row for row in open_rows if row.status == TaskStatus.OPEN}
    for task_id, row in rows.items():
        if task_id not in ready:
            row.status = TaskStatus.CANCELLED.value
            row.completed_at = now
            record_event(instance, EventKind.TASK_CANCELLED, row)
    still_open = [row for task_id, row in rows.items() if task_id in ready]
    for task_id, human in ready.items():
        if task_id in rows:
            continue
        lane = human.lane
        candidates, assignee = engine_tasks.task_people(workflow, human.id)
        row = HumanTask(
            project_id=instance.project_id,
            instance_id=instance.id,
            task_id=task_id,
            element_id=human.element_id,
            title=human.title[:200],
            lane=lane,
            role=lane if lane and is_known_role(lane) else None,
            flow=instance.flow,
            business_key=instance.business_key,
            candidate_user_ids=candidates,
            restricted=bool(candidates),
            assignee_id=assignee,
            claimed_at=now if assignee else None,
            status=TaskStatus.OPEN.value,
            form=human.form,
            ui_form=human.ui_form,
            documentation=human.documentation,
            due_at=engine_tasks.task_due_at(workflow, human.id, now),
            created_at=now,
        )
        db.session.add(row)
        still_open.append(row)
        # Candidates and the history row point at the new row; the one flush at the end of
        # the change inserts them in order.
        db.session.add_all(TaskCandidate(task=row, user_id=user_id) for user_id in candidates)
        record_event(instance, EventKind.TASK_CREATED, row)
    return [h.title for h in ready.values()], still_open


def _waiting_steps(workflow: BpmnWorkflow) -> list[str]:
    names = [t.task_spec.bpmn_name or t.task_spec.bpmn_id
             for t in spiff.ready_tasks(workflow, manual=True)]
    if names:
        return names
    return [t.name or t.element_id for t in spiff.waiting_timers(workflow)]


def save_workflow(instance: ProcessInstance, workflow: BpmnWorkflow, *, new: bool = False,
                  open_rows: list[HumanTask] | None = None) -> list[HumanTask]:
    """Store the workflow's state and every projection of it on ``instance`` (``new``: an
    instance saved for the first time, which has no task or subscription rows to look up;
    ``open_rows``: its open task rows, read under the lock of this change). Returns the open
    task rows afterwards (new ones get their ids at the caller's flush)."""
    # One flush at the end (by the caller) instead of one before every query below.
    with db.session.no_autoflush:
        return _save_workflow(instance, workflow, new, open_rows)


def _save_workflow(instance: ProcessInstance, workflow: BpmnWorkflow, new: bool,
                   open_rows: list[HumanTask] | None) -> list[HumanTask]:
    now = clock.now()
    titles, still_open = _sync_tasks(instance, workflow, new, open_rows)
    status = InstanceStatus(instance.status)
    if status not in (InstanceStatus.CANCELLED, InstanceStatus.SUSPENDED,
                      InstanceStatus.COMPLETED, InstanceStatus.ERROR):
        if workflow.is_completed():
            instance.status = InstanceStatus.COMPLETED.value
            instance.ended_at = now
            record_event(instance, EventKind.FINISHED)
        else:
            busy = titles or engine_tasks.ready_service_tasks(workflow)
            instance.status = (InstanceStatus.RUNNING if busy else InstanceStatus.WAITING).value
    steps = [] if instance.finished else (titles or _waiting_steps(workflow))
    instance.current_steps = ", ".join(steps)[:STEPS_LENGTH]
    active = instance.status in (InstanceStatus.RUNNING, InstanceStatus.WAITING)
    instance.next_timer_due = spiff.next_timer_due(workflow) if active else None
    _sync_subscriptions(instance, workflow, new)
    instance.state = spiff.serialize(workflow)
    instance.state_token = token = uuid.uuid4().hex
    workflow_cache.put(token, workflow)
    return still_open


def correlation_key(correlation: Mapping[str, Any]) -> str:
    """sha256 of the canonical JSON of correlation values: equal values, equal keys."""
    text = json.dumps(jsonable(dict(correlation)), sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _sync_subscriptions(instance: ProcessInstance, workflow: BpmnWorkflow, new: bool) -> None:
    """Make the instance's MessageSubscription rows match the catches it waits on."""
    wanted: dict[tuple[str, str, str, str], WaitingEvent] = {}
    if not instance.finished:
        for waiting in events.waiting_events(workflow):
            key = correlation_key(waiting.correlations)
            wanted[(waiting.kind, waiting.name, key, str(waiting.task_id))] = waiting
    if not wanted and not instance.subscribed:
        return  # waits on nothing and has no rows: nothing to query or write
    instance.subscribed = bool(wanted)
    rows = [] if new else list(db.session.scalars(_SUBSCRIPTIONS,
                                                  {"instance_id": instance.id}))
    # Rows of catches no longer waited on, by catch; the same catch waiting again (a loop back
    # to an event gateway) is a new engine task: its row moves over rather than delete + insert.
    stale: dict[tuple[str, str, str, str], list[MessageSubscription]] = {}
    for row in rows:
        if wanted.pop((row.kind, row.name, row.correlation_key, row.task_id), None) is None:
            stale.setdefault((row.kind, row.name, row.correlation_key, row.element_id),
                             []).append(row)
    for (kind, name, key, task_id), waiting in wanted.items():
        same_catch = stale.get((kind, name[:200], key, waiting.element_id[:100]))
        if same_catch:
            same_catch.pop().task_id = task_id
            continue
        db.session.add(MessageSubscription(
            project_id=instance.project_id, instance_id=instance.id, kind=kind,
            name=name[:200], correlation_key=key, correlation=jsonable(waiting.correlations),
            task_id=task_id, element_id=waiting.element_id[:100], created_at=clock.now()))
    for unused in stale.values():
        for row in unused:
            db.session.delete(row)
