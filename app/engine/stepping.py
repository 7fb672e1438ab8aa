"""One engine step of a locked instance: advance, run service tasks, turn failures into incidents.

Called by :func:`app.engine.locking.locked_instance` (and by ``start_instance``) after the
caller's change. Any exception while stepping — a script error or timeout, a gateway condition,
a DMN table, a service handler — does not propagate: the instance goes to status ``error`` with
an :class:`~app.engine.models.Incident`, and the unit of work that triggered the step commits.

What stands after a failure: everything before the failing task. The caller's change (a user's
completed task, a delivered message) is kept; automatic tasks that ran before the failing one
in the same step are kept, with their service handlers' outbox rows; the failing task stays
READY with its data as before it ran (scripts run on a copy of the data, each service handler
in its own savepoint whose writes are rolled back). Retrying runs exactly that task again;
skipping completes it without running it. While in ``error`` the engine does not step the
instance (its timers wait too); people can still work on tasks of other branches.
"""

from __future__ import annotations

import logging
import traceback as tb
from typing import Any

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.task import Task
from sqlalchemy import select

from app.clock import clock
from app.engine import services, spiff
from app.engine import tasks as engine_tasks
from app.engine.history import jsonable, record_event
from app.engine.models import (
    EventKind,
    Incident,
    IncidentStatus,
    InstanceStatus,
    ProcessInstance,
)
from app.extensions import db

log = logging.getLogger(__name__)

MESSAGE_LENGTH = 2000
TRACEBACK_LENGTH = 20000


def step(instance: ProcessInstance, workflow: BpmnWorkflow) -> Incident | None:
    """Run the workflow to its next wait; on failure record an incident and return it."""
    try:
        services.run_to_wait(instance, workflow)
    except Exception as exc:  # any failure of an automatic step is the instance's incident
        if services.handlers_unguarded():
            raise services.StepFailed(str(exc)) from exc
        return raise_incident(instance, workflow, exc)
    return None


def _failing_task(workflow: BpmnWorkflow, exc: BaseException) -> Task | None:
    if isinstance(exc, services.FailedService):
        try:
            return spiff.get_task(workflow, exc.task_id)
        except spiff.EngineError:
            return None
    for error in (exc, exc.__cause__, exc.__context__):
        task = getattr(error, "task", None)
        if isinstance(task, Task):
            return task
    ready = spiff.ready_tasks(workflow, manual=False)
    ready += services_ready(workflow)
    return ready[0] if ready else None


def services_ready(workflow: BpmnWorkflow) -> list[Task]:
    return [spiff.get_task(workflow, c.task_id)
            for c in engine_tasks.ready_service_tasks(workflow)]


def error_message(exc: BaseException) -> str:
    if isinstance(exc, services.FailedService):
        exc = exc.error
    text = str(exc) or type(exc).__name__
    notes = getattr(exc, "__notes__", None)
    if notes:
        text += "\n" + "\n".join(str(n) for n in notes)
    return text[:MESSAGE_LENGTH]


def open_incident(instance_id: int, task_id: str | None = None) -> Incident | None:
    stmt = select(Incident).where(Incident.instance_id == instance_id,
                                  Incident.status == IncidentStatus.OPEN.value)
    if task_id is not None:
        stmt = stmt.where(Incident.task_id == task_id)
    return db.session.scalar(stmt.order_by(Incident.id.desc()).limit(1))


def raise_incident(
    instance: ProcessInstance, workflow: BpmnWorkflow, exc: BaseException
) -> Incident:
    """Record ``exc`` as the open incident of the failing task and put the instance in error."""
    task = _failing_task(workflow, exc)
    task_id = str(task.id) if task is not None else None
    original = exc.error if isinstance(exc, services.FailedService) else exc
    now = clock.now()
    data: dict[str, Any] | None = (
        {str(k): jsonable(v) for k, v in task.data.items()} if task is not None else None)
    incident = open_incident(instance.id, task_id)
    if incident is None:
        incident = Incident(
            project_id=instance.project_id, instance_id=instance.id,
            status=IncidentStatus.OPEN.value, task_id=task_id, occurrences=1, created_at=now)
        db.session.add(incident)
    else:
        incident.occurrences += 1
    incident.element_id = task.task_spec.bpmn_id if task is not None else None
    incident.element_name = (task.task_spec.bpmn_name or None) if task is not None else None
    incident.error_type = type(original).__name__[:100]
    incident.message = error_message(exc)
    incident.traceback = "".join(
        tb.format_exception(type(exc), exc, exc.__traceback__))[-TRACEBACK_LENGTH:]
    incident.data = data
    incident.last_failed_at = now
    instance.status = InstanceStatus.ERROR.value
    db.session.flush()
    record_event(instance, EventKind.INCIDENT, data={
        "incident": incident.id, "element": incident.element_id,
        "error": f"{incident.error_type}: {incident.message}"[:500]})
    log.warning("instance %s: incident %s at %s: %s", instance.id, incident.id,
                incident.element_id, incident.message)
    return incident
