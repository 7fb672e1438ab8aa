"""Engine operations: start instances, work on human tasks, suspend, resume and cancel.

Each operation changes an instance only inside :func:`app.engine.locking.locked_instance`,
records its history and flushes; the unit of work (request, CLI command, job) commits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

import jsonschema
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from sqlalchemy import bindparam, inspect, select
from sqlalchemy.orm.util import identity_key

from app.accounts.models import User
from app.accounts.permissions import can
from app.audit.actor import Actor, acting_as, current_actor
from app.clock import clock
from app.engine import spiff
from app.engine import tasks as engine_tasks
from app.engine.deployments import latest_loaded_deployment, loaded_deployment_by_id
from app.engine.history import data_diff, record_event
from app.engine.locking import locked_instance
from app.engine.models import (
    EventKind,
    HumanTask,
    InstanceStatus,
    ProcessInstance,
    TaskStatus,
)
from app.engine.projections import (
    insert_subscriptions,
    open_task_rows,
    save_new_row,
    save_workflow,
    workflows_not_kept,
)
from app.engine.stepping import raise_incident, step
from app.errors import Conflict, FieldErrors, Forbidden, NotFound
from app.extensions import db
from app.projects.operations import existing_project_ids
from app.scoping import in_scope

BUSINESS_KEY_LENGTH = 64


def schema_errors(schema: Mapping[str, Any], data: Mapping[str, Any]) -> dict[str, str]:
    """{field: message} for every way ``data`` breaks the JSON Schema (Draft 2020-12)."""
    return validation_errors(jsonschema.Draft202012Validator(schema), data)


def validation_errors(validator: Any, data: Mapping[str, Any]) -> dict[str, str]:
    """:func:`schema_errors` with a validator built before (a deployment keeps its forms')."""
    errors: dict[str, str] = {}
    for error in sorted(validator.iter_errors(data), key=lambda e: [str(p) for p in e.path]):
        path = ".".join(str(p) for p in error.path)
        if error.validator == "required":
            missing = error.message.split("'")[1]
            errors[f"{path}.{missing}" if path else missing] = "required"
            continue
        errors.setdefault(path or "form", error.message)
    return errors


# --- instances ------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewInstance:
    """One instance for :func:`start_instances`: its initial data and business key."""

    data: Mapping[str, Any] = field(default_factory=dict)
    business_key: str | None = None


def start_instance(
    flow: str,
    project_id: int,
    data: Mapping[str, Any] | None = None,
    business_key: str | None = None,
    actor: Actor | None = None,
) -> ProcessInstance:
    """Start ``flow`` (latest deployed version) in a project and run it to its first wait."""
    [instance] = start_instances(flow, project_id, [NewInstance(data or {}, business_key)],
                                 actor)
    return instance


def start_instances(
    flow: str,
    project_id: int,
    items: Sequence[NewInstance],
    actor: Actor | None = None,
) -> list[ProcessInstance]:
    """:func:`start_instance` for many instances of one flow and project (a billing run's
    dunning cases): the same rows, history and projections, written in two flushes for all.
    Their workflows are not kept in memory (they wait weeks for their next change)."""
    with (acting_as(actor) if actor is not None else nullcontext(),
          workflows_not_kept() if len(items) > 1 else nullcontext()):
        if project_id not in existing_project_ids({project_id}) or not in_scope(project_id):
            raise FieldErrors({"project_id": "no such project"})
        for item in items:
            if item.business_key is not None and len(item.business_key) > BUSINESS_KEY_LENGTH:
                raise FieldErrors({"business_key": f"at most {BUSINESS_KEY_LENGTH} characters"})
        deployment = latest_loaded_deployment(flow)
        spec, subprocess_specs = deployment.spec(flow)
        who = current_actor()
        now = clock.now()
        started: list[_Started] = []
        for item in items:
            workflow = spiff.create_workflow(spec, subprocess_specs, data=dict(item.data))
            instance = ProcessInstance(
                project_id=project_id,
                flow=flow,
                deployment_id=deployment.id,
                business_key=item.business_key,
                status=InstanceStatus.RUNNING.value,
                started_by_id=who.user_id,
                started_by_label=who.label,
                started_at=now,
                state="",
                subscribed=False,
            )
            # The engine's own steps need no row: run them first, so that an instance that
            # then waits for people or events is written by its INSERT alone.
            failure: Exception | None = None
            try:
                spiff.advance(workflow)
            except Exception as exc:  # the instance's incident, once it has an id
                failure = exc
            saved = failure is None and save_new_row(instance, workflow)
            db.session.add(instance)
            started.append(_Started(instance, workflow, item, saved, failure))
        db.session.flush()  # ids for history, tasks and service handlers
        subscriptions: list[dict[str, Any]] = []
        for s in started:
            record_event(s.instance, EventKind.STARTED, data={"data": dict(s.item.data),
                                                              "version": deployment.version})
            if s.failure is not None:
                raise_incident(s.instance, s.workflow, s.failure)
            elif not s.saved:
                # Service tasks run (a failure is an incident); a message one sends finds
                # the instances started before it waiting.
                insert_subscriptions(subscriptions)
                subscriptions.clear()
                step(s.instance, s.workflow)
            save_workflow(s.instance, s.workflow, new=True, state_saved=s.saved,
                          new_subscriptions=subscriptions)
        insert_subscriptions(subscriptions)
        db.session.flush()
        return [s.instance for s in started]


@dataclass
class _Started:
    instance: ProcessInstance
    workflow: BpmnWorkflow
    item: NewInstance
    saved: bool  # save_new_row set the row's state before the INSERT
    failure: Exception | None


def get_instance(instance_id: int) -> ProcessInstance:
    instance = db.session.get(ProcessInstance, instance_id)
    if instance is None or not in_scope(instance.project_id):
        raise NotFound(f"no process instance {instance_id}")
    return instance


def suspend_instance(instance_id: int) -> ProcessInstance:
    """Stop an instance: its tasks cannot be worked on and its timers do not fire."""
    with locked_instance(instance_id, load=False) as locked:
        instance = locked.instance
        if instance.status not in (InstanceStatus.RUNNING, InstanceStatus.WAITING):
            raise Conflict(f"a {instance.status} process cannot be suspended")
        instance.status = InstanceStatus.SUSPENDED.value
        instance.next_timer_due = None
        record_event(instance, EventKind.SUSPENDED)
    return instance


def resume_instance(instance_id: int) -> ProcessInstance:
    """Let a suspended instance go on (timers that fell due meanwhile fire now)."""
    with locked_instance(instance_id) as locked:
        instance = locked.instance
        if instance.status != InstanceStatus.SUSPENDED:
            raise Conflict(f"a {instance.status} process cannot be resumed")
        instance.status = InstanceStatus.RUNNING.value
        record_event(instance, EventKind.RESUMED)
    return instance


def cancel_instance(instance_id: int, reason: str) -> ProcessInstance:
    """End an instance for good; its open tasks are cancelled."""
    reason = (reason or "").strip()
    if not reason:
        raise FieldErrors({"reason": "required"})
    with locked_instance(instance_id) as locked:
        instance = locked.instance
        if instance.finished:
            raise Conflict(f"this process is already {instance.status}")
        assert locked.workflow is not None
        locked.workflow.cancel()
        instance.status = InstanceStatus.CANCELLED.value
        instance.cancel_reason = reason[:500]
        instance.ended_at = clock.now()
        record_event(instance, EventKind.CANCELLED, data={"reason": reason})
    return instance


# --- human tasks ----------------------------------------------------------------------------


def get_task_row(task_row_id: int) -> HumanTask:
    """A task row the current user may see (NotFound otherwise)."""
    task = db.session.get(HumanTask, task_row_id)
    if task is None or not in_scope(task.project_id):
        raise NotFound(f"no task {task_row_id}")
    return task


_RELOAD = (select(HumanTask).where(HumanTask.id == bindparam("task_id"))
           .execution_options(populate_existing=True))


def _reload(task_row_id: int) -> HumanTask:
    task = db.session.scalar(_RELOAD, {"task_id": task_row_id})
    if task is None:
        raise NotFound(f"no task {task_row_id}")
    return task


def may_work_on(task: HumanTask, user: User) -> bool:
    """Is the assignee or a candidate, holds the task's role (unless the task is restricted
    to candidates), or may reassign tasks."""
    if task.assignee_id == user.id or can("tasks.reassign", user):
        return True
    if task.restricted:
        return user.id in (task.candidate_user_ids or [])
    return task.role is not None and user.has_role(task.role)


def _require_open(task: HumanTask) -> None:
    if task.status == TaskStatus.COMPLETED:
        who = _user_label(task.completed_by_id)
        raise Conflict(f"This task was already completed by {who}.")
    if task.status != TaskStatus.OPEN:
        raise Conflict("This task is no longer open (the process moved on or was cancelled).")
    instance = task.instance
    if instance.status == InstanceStatus.SUSPENDED:
        raise Conflict("This process is suspended; its tasks cannot be worked on.")


def _user_label(user_id: int | None) -> str:
    if user_id is None:
        return "someone else"
    user = db.session.get(User, user_id)
    return user.display_name if user is not None else "someone else"


_TASK_INSTANCE = select(HumanTask.instance_id, HumanTask.project_id).where(
    HumanTask.id == bindparam("task_id"))


def _lock_task(task_row_id: int, *, load: bool) -> Any:
    """locked_instance for the instance of a visible task (the row itself is read under
    the lock; a row this session already holds saves the look-up)."""
    known = db.session.identity_map.get(identity_key(HumanTask, task_row_id))
    if known is not None and "instance_id" in inspect(known).dict:
        row: Any = known
    else:
        row = db.session.execute(_TASK_INSTANCE, {"task_id": task_row_id}).first()
    if row is None or not in_scope(row.project_id):
        raise NotFound(f"no task {task_row_id}")
    return locked_instance(row.instance_id, load=load)


def _eligible_user(user_id: int, task: HumanTask, field: str) -> User:
    target = db.session.get(User, user_id)
    if target is None or not target.active:
        raise FieldErrors({field: "no such active user"})
    if not (target.sees_all_projects or task.project_id in target.project_ids):
        raise FieldErrors({field: "this user has no access to the task's project"})
    return target


def claim_task(task_row_id: int, user: User) -> HumanTask:
    """Take an open task: it moves to the user's own inbox."""
    with _lock_task(task_row_id, load=False) as locked:
        task = _reload(task_row_id)
        _require_open(task)
        if not may_work_on(task, user):
            raise Forbidden("This task is for another role.")
        if task.assignee_id == user.id:
            return task
        if task.assignee_id is not None:
            raise Conflict(f"This task was already claimed by {_user_label(task.assignee_id)}.")
        task.assignee_id = user.id
        task.claimed_at = clock.now()
        record_event(locked.instance, EventKind.CLAIMED, task)
    return task


def release_task(task_row_id: int, user: User) -> HumanTask:
    """Give a claimed task back to its role's shared inbox."""
    with _lock_task(task_row_id, load=False) as locked:
        task = _reload(task_row_id)
        _require_open(task)
        if task.assignee_id is None:
            return task
        if task.assignee_id != user.id and not can("tasks.reassign", user):
            raise Forbidden("Only the assignee or a supervisor can release this task.")
        previous = task.assignee_id
        task.assignee_id = None
        task.claimed_at = None
        record_event(locked.instance, EventKind.RELEASED, task, {"from": previous})
    return task


def reassign_task(task_row_id: int, to_user_id: int, user: User) -> HumanTask:
    """A supervisor gives the task to someone (permission tasks.reassign)."""
    if not can("tasks.reassign", user):
        raise Forbidden("You may not reassign tasks.")
    with _lock_task(task_row_id, load=False) as locked:
        task = _reload(task_row_id)
        _require_open(task)
        target = _eligible_user(to_user_id, task, "user_id")
        previous = task.assignee_id
        task.assignee_id = target.id
        task.claimed_at = clock.now()
        record_event(locked.instance, EventKind.REASSIGNED, task,
                     {"from": previous, "to": target.id})
    return task


def delegate_task(task_row_id: int, to_user_id: int, user: User) -> HumanTask:
    """The assignee hands the task to a colleague, who becomes a candidate and the assignee."""
    with _lock_task(task_row_id, load=False) as locked:
        task = _reload(task_row_id)
        _require_open(task)
        if task.assignee_id != user.id and not can("tasks.reassign", user):
            raise Forbidden("Claim the task before delegating it.")
        target = _eligible_user(to_user_id, task, "user_id")
        task.candidate_user_ids = sorted({*(task.candidate_user_ids or []), target.id})
        previous = task.assignee_id
        task.assignee_id = target.id
        task.claimed_at = clock.now()
        record_event(locked.instance, EventKind.DELEGATED, task,
                     {"from": previous, "to": target.id})
    return task


def task_schema(task: HumanTask) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """(JSON Schema, UI schema) of a task's form, from its instance's deployment."""
    loaded = loaded_deployment_by_id(task.instance.deployment_id)
    return loaded.form(task.form), loaded.form(task.ui_form)


def complete_task(task_row_id: int, data: Mapping[str, Any], user: User) -> HumanTask:
    """Validate ``data`` against the task's form and complete it; the engine moves on.

    FieldErrors (422) when the data does not fit the form, Conflict (409) when someone else
    completed the task first; nothing changes in either case.
    """
    return complete_task_and_next(task_row_id, data, user)[0]


def complete_task_and_next(task_row_id: int, data: Mapping[str, Any], user: User
                           ) -> tuple[HumanTask, list[HumanTask]]:
    """:func:`complete_task`, and the instance's open task rows once the engine moved on."""
    if not isinstance(data, Mapping):
        raise FieldErrors({"data": "a JSON object is required"})
    with _lock_task(task_row_id, load=True) as locked:
        # Every open row of the instance, re-read under the lock: the task is among them if
        # it is still open, and saving the step needs them all.
        locked.open_rows = open_task_rows(locked.instance.id, fresh=True)
        task = next((row for row in locked.open_rows if row.id == task_row_id), None)
        if task is None:
            task = _reload(task_row_id)
        _require_open(task)
        if task.assignee_id not in (None, user.id) and not can("tasks.reassign", user):
            raise Forbidden(f"This task is assigned to {_user_label(task.assignee_id)}.")
        if not may_work_on(task, user):
            raise Forbidden("This task is for another role.")
        validator = loaded_deployment_by_id(task.instance.deployment_id).validator(task.form)
        if validator is not None:
            errors = validation_errors(validator, data)
            if errors:
                raise FieldErrors(errors)
        workflow = locked.workflow
        assert workflow is not None
        try:
            spiff_task = spiff.get_task(workflow, task.task_id)
        except spiff.EngineError as exc:
            raise Conflict("This task is no longer part of the process.") from exc
        before = dict(spiff_task.data)
        try:
            engine_tasks.complete_user_task(workflow, task.task_id, dict(data))
        except spiff.EngineError as exc:
            raise Conflict(f"This task cannot be completed now: {exc}") from exc
        now = clock.now()
        task.status = TaskStatus.COMPLETED.value
        task.completed_at = now
        task.completed_by_id = user.id
        if task.assignee_id is None:
            task.assignee_id = user.id
            task.claimed_at = now
        record_event(locked.instance, EventKind.COMPLETED, task,
                     data_diff(before, dict(spiff_task.data)))
    return task, list(locked.open_rows or [])
