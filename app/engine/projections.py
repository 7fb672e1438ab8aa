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
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from sqlalchemy import bindparam, insert, select

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
from app.uow import session_flag, session_flagged

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
                  open_rows: list[HumanTask] | None = None,
                  subscriptions_before: Counter[CatchKey] | None = None,
                  state_saved: bool = False,
                  new_subscriptions: list[dict[str, Any]] | None = None) -> list[HumanTask]:
    """Store the workflow's state and every projection of it on ``instance`` (``new``: an
    instance saved for the first time, which has no task or subscription rows to look up;
    ``open_rows``: its open task rows, read under the lock of this change;
    ``subscriptions_before``: :func:`subscription_keys` of the workflow as loaded;
    ``state_saved``: :func:`save_new_row` already stored the state;
    ``new_subscriptions``: a new instance's subscription rows are appended there, for the
    caller to insert with those of other instances, see :func:`insert_subscriptions`).
    Returns the open task rows afterwards (new ones get their ids at the caller's flush)."""
    # One flush at the end (by the caller) instead of one before every query below.
    with db.session.no_autoflush:
        return _save_workflow(instance, workflow, new, open_rows, subscriptions_before,
                              state_saved, new_subscriptions)


def insert_subscriptions(rows: list[dict[str, Any]]) -> None:
    """Write the subscription rows :func:`save_workflow` collected, in one statement."""
    if rows:
        db.session.connection().execute(insert(MessageSubscription.__table__), rows)


def save_new_row(instance: ProcessInstance, workflow: BpmnWorkflow) -> bool:
    """Before a new instance's first flush: if its workflow waits only for people or events
    (no service task ready, not finished), set the row's columns and state now, so that one
    INSERT writes them and no UPDATE follows; the rows that need the instance's id come with
    :func:`save_workflow` (``state_saved=True``) after that flush. False: nothing was set."""
    if workflow.is_completed() or engine_tasks.ready_service_tasks(workflow):
        return False
    titles = [h.title for h in engine_tasks.ready_human_tasks(workflow)]
    instance.status = (InstanceStatus.RUNNING if titles else InstanceStatus.WAITING).value
    _set_steps_and_timer(instance, workflow, titles)
    instance.subscribed = bool(events.waiting_events(workflow))
    _store_state(instance, workflow)
    return True


def _set_steps_and_timer(instance: ProcessInstance, workflow: BpmnWorkflow,
                         titles: list[str]) -> None:
    steps = [] if instance.finished else (titles or _waiting_steps(workflow))
    instance.current_steps = ", ".join(steps)[:STEPS_LENGTH]
    active = instance.status in (InstanceStatus.RUNNING, InstanceStatus.WAITING)
    instance.next_timer_due = spiff.next_timer_due(workflow) if active else None


#: What a domain keeps in step with its flows' states: {flow: [listener(instance, workflow)]}.
StateListener = Callable[[ProcessInstance, BpmnWorkflow], None]
_state_listeners: dict[str, list[StateListener]] = {}


def register_state_listener(flows: Iterable[str], listener: StateListener) -> None:
    """Call ``listener(instance, workflow)`` whenever an instance of one of ``flows`` stores a
    new state (after every change; for a new instance before its first INSERT, when its id may
    still be None), in the transaction of the change: a domain's own row (a repair ticket)
    follows its process without deserializing it. The listener reads the workflow and may
    change rows of the session; it must not change the workflow."""
    for flow in flows:
        listeners = _state_listeners.setdefault(flow, [])
        if listener not in listeners:
            listeners.append(listener)


#: session.info key: the instance ids of the group a timer pass is stepping (set by
#: :func:`app.engine.locking.claim_group`).
STEPPING_GROUP = "estateflow.stepping_group"


def stepping_group() -> tuple[int, ...] | None:
    """The ids of the instances a :func:`~app.engine.locking.claim_group` block is stepping one
    after another (a timer pass's group), else None. A service handler may read what it needs
    for all of them with its first call and use it for each in turn: one query per group
    instead of one per instance. The tuple is a new object for every group."""
    group: tuple[int, ...] | None = db.session.info.get(STEPPING_GROUP)
    return group


_NOT_KEPT = "estateflow.workflows_not_kept"


def workflows_not_kept() -> AbstractContextManager[None]:
    """Within the block, saved workflows are not kept in the workflow cache (a bulk start:
    their next change is weeks away)."""
    return session_flag(_NOT_KEPT)


def _store_state(instance: ProcessInstance, workflow: BpmnWorkflow) -> None:
    instance.state = spiff.serialize(workflow)
    instance.state_token = token = uuid.uuid4().hex
    if stepping_group() is None and not session_flagged(_NOT_KEPT):
        # Kept for the instance's next change. Not after a timer pass's step or a bulk start:
        # the next one is rarely soon, and thousands of kept workflows would only make
        # garbage collection slow.
        workflow_cache.put(token, workflow)
    for listener in _state_listeners.get(instance.flow, ()):
        listener(instance, workflow)


def _set_status(instance: ProcessInstance, workflow: BpmnWorkflow, titles: list[str],
                now: datetime) -> None:
    if InstanceStatus(instance.status) in (InstanceStatus.CANCELLED, InstanceStatus.SUSPENDED,
                                           InstanceStatus.COMPLETED, InstanceStatus.ERROR):
        return
    if workflow.is_completed():
        instance.status = InstanceStatus.COMPLETED.value
        instance.ended_at = now
        record_event(instance, EventKind.FINISHED)
    else:
        busy = titles or engine_tasks.ready_service_tasks(workflow)
        instance.status = (InstanceStatus.RUNNING if busy else InstanceStatus.WAITING).value


def _save_workflow(instance: ProcessInstance, workflow: BpmnWorkflow, new: bool,
                   open_rows: list[HumanTask] | None,
                   subscriptions_before: Counter[CatchKey] | None,
                   state_saved: bool,
                   new_subscriptions: list[dict[str, Any]] | None) -> list[HumanTask]:
    now = clock.now()
    titles, still_open = _sync_tasks(instance, workflow, new, open_rows)
    if not state_saved:  # else save_new_row set them from this very workflow
        _set_status(instance, workflow, titles, now)
        _set_steps_and_timer(instance, workflow, titles)
    _sync_subscriptions(instance, workflow, new, subscriptions_before,
                        new_subscriptions if new else None)
    if not state_saved:
        _store_state(instance, workflow)
    return still_open


def correlation_key(correlation: Mapping[str, Any]) -> str:
    """sha256 of the canonical JSON of correlation values: equal values, equal keys."""
    text = json.dumps(jsonable(dict(correlation)), sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


CatchKey = tuple[str, str, str, str]


def _catch_key(waiting: WaitingEvent) -> CatchKey:
    """What a subscription row stands for: kind, name, correlation and the catching element
    (not the engine task: a catch that waits again after a loop is the same subscription)."""
    return (waiting.kind, waiting.name[:200], correlation_key(waiting.correlations),
            waiting.element_id[:100])


def subscription_keys(instance: ProcessInstance, workflow: BpmnWorkflow) -> Counter[CatchKey]:
    """The catches the instance's subscription rows hold, read off the workflow they were
    saved with (rows always match the saved state), so a change that leaves them as they
    were neither reads nor writes a row."""
    if not instance.subscribed or instance.finished:
        return Counter()
    return Counter(_catch_key(w) for w in events.waiting_events(workflow))


def _sync_subscriptions(instance: ProcessInstance, workflow: BpmnWorkflow, new: bool,
                        before: Counter[CatchKey] | None,
                        collect: list[dict[str, Any]] | None = None) -> None:
    """Make the instance's MessageSubscription rows match the catches it waits on
    (``before``: what the rows hold, from :func:`subscription_keys`; None: read them;
    ``collect``: append new rows there as plain values instead of adding objects)."""
    wanted: dict[CatchKey, list[WaitingEvent]] = {}
    if not instance.finished:
        for waiting in events.waiting_events(workflow):
            wanted.setdefault(_catch_key(waiting), []).append(waiting)
    if not wanted and not instance.subscribed:
        return  # waits on nothing and has no rows: nothing to query or write
    if before is not None and before == Counter({k: len(v) for k, v in wanted.items()}):
        return  # the same catches as the rows hold
    if instance.subscribed != bool(wanted):
        instance.subscribed = bool(wanted)
    rows = [] if new else list(db.session.scalars(_SUBSCRIPTIONS,
                                                  {"instance_id": instance.id}))
    for row in rows:
        same = wanted.get((row.kind, row.name, row.correlation_key, row.element_id))
        if same:
            same.pop()  # still waited on: the row stays
        else:
            db.session.delete(row)
    for (kind, name, key, element_id), waiting_list in wanted.items():
        for waiting in waiting_list:
            values = {
                "project_id": instance.project_id, "instance_id": instance.id, "kind": kind,
                "name": name, "correlation_key": key,
                "correlation": jsonable(waiting.correlations), "task_id": str(waiting.task_id),
                "element_id": element_id, "created_at": clock.now()}
            if collect is not None:
                collect.append(values)
            else:
                db.session.add(MessageSubscription(**values))
