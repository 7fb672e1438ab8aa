"""Incidents: list them, retry the failing task (optionally with corrected data), or skip it.

Incidents are raised by :mod:`app.engine.stepping` (see there for what stands after a failure).
An incident stays open until a retry or skip got the instance past the failing task: a retry
that fails again adds an occurrence to the same incident. Both actions are audited and leave an
InstanceEvent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from SpiffWorkflow.util.task import TaskState
from sqlalchemy import Select, select

from app.audit.actor import current_actor
from app.audit.recorder import record_audit
from app.clock import clock
from app.engine import spiff
from app.engine import tasks as engine_tasks
from app.engine.history import data_diff, jsonable, record_event
from app.engine.locking import locked_instance
from app.engine.models import (
    EventKind,
    Incident,
    IncidentStatus,
    InstanceStatus,
    ProcessInstance,
)
from app.engine.parsing import ExternalServiceTask
from app.errors import Conflict, FieldErrors, NotFound
from app.extensions import db

RETRIED = "retried"
SKIPPED = "skipped"


def incident_query(status: str | None = IncidentStatus.OPEN.value) -> Select[tuple[Incident]]:
    """Incidents visible to the current user, newest first (``status`` None: all)."""
    stmt = select(Incident).order_by(Incident.created_at.desc(), Incident.id.desc())
    if status:
        stmt = stmt.where(Incident.status == status)
    return stmt


def get_incident(incident_id: int) -> Incident:
    incident = db.session.get(Incident, incident_id)
    if incident is None:
        raise NotFound(f"no incident {incident_id}")
    return incident


def instance_incidents(instance_id: int) -> list[Incident]:
    return list(db.session.scalars(
        select(Incident).where(Incident.instance_id == instance_id).order_by(Incident.id)))


def _require_open(incident: Incident, instance: ProcessInstance) -> None:
    if not incident.is_open:
        raise Conflict(f"This incident was already {incident.resolution or 'resolved'}.")
    if instance.status != InstanceStatus.ERROR:
        raise Conflict(f"The process is {instance.status}, not in error.")


def retry_incident(incident_id: int, data: Mapping[str, Any] | None = None) -> Incident:
    """Run the failing task again, with ``data`` as its task data when given.

    The incident is resolved when the step now gets past the task; otherwise it stays open
    with one more occurrence and the new error.
    """
    if data is not None and not isinstance(data, Mapping):
        raise FieldErrors({"data": "must be a JSON object"})
    incident = get_incident(incident_id)
    failures = incident.occurrences
    with locked_instance(incident.instance_id) as locked:
        instance, workflow = locked.instance, locked.workflow
        assert workflow is not None
        _require_open(incident, instance)
        _rearm(workflow, incident)
        diff: dict[str, Any] = {}
        if data is not None:
            if incident.task_id is None:
                raise Conflict("This incident names no task whose data could be changed.")
            task = _failing_task(workflow, incident)
            before = dict(task.data)
            task.data = dict(jsonable(dict(data)))
            diff = data_diff(before, task.data)
        record_audit("incidents.retry", record_type="incident", record_id=incident.id,
                     project_id=instance.project_id, before={"data": incident.data} if diff
                     else None, after={"data_changes": diff} if diff else None)
        record_event(instance, EventKind.INCIDENT_RETRIED, data={
            "incident": incident.id, "element": incident.element_id, "changes": diff})
        instance.status = InstanceStatus.RUNNING.value  # locked_instance steps it on exit
    db.session.refresh(incident)
    if incident.occurrences == failures:  # not failed again at the same task
        _close(incident, RETRIED)
    return incident


def _close(incident: Incident, how: str) -> None:
    incident.status = IncidentStatus.RESOLVED.value
    incident.resolution = how
    incident.resolved_at = clock.now()
    incident.resolved_by_id = current_actor().user_id
    db.session.flush()


def _failing_task(workflow: Any, incident: Incident) -> Any:
    try:
        task = spiff.get_task(workflow, incident.task_id or "")
    except spiff.EngineError as exc:
        raise Conflict("The failing task is no longer part of the process.") from exc
    if task.state not in (TaskState.READY, TaskState.ERROR):
        raise Conflict(f"The failing task is {TaskState.get_name(task.state)}, not waiting "
                       "to run.")
    return task


def _rearm(workflow: Any, incident: Incident) -> None:
    """Make the failing task (Spiff marks a failed script or gateway ERROR) ready to run again."""
    if incident.task_id is not None:
        failed = [_failing_task(workflow, incident)]
    else:
        failed = list(workflow.get_tasks(state=TaskState.ERROR))
    for task in failed:
        if task.state == TaskState.ERROR:
            task._set_state(TaskState.READY)


def skip_incident(incident_id: int) -> Incident:
    """Complete the failing task without running it (a service task's result is None)."""
    incident = get_incident(incident_id)
    with locked_instance(incident.instance_id) as locked:
        instance, workflow = locked.instance, locked.workflow
        assert workflow is not None
        _require_open(incident, instance)
        if incident.task_id is None:
            raise Conflict("This incident names no task to skip; retry it instead.")
        task = _failing_task(workflow, incident)
        spec = task.task_spec
        if "Gateway" in type(spec).__name__:
            raise Conflict("A gateway cannot be skipped (which way would the process go?): "
                           "correct the data and retry.")
        if isinstance(spec, ExternalServiceTask):
            engine_tasks.complete_service_task(workflow, task.id, None)
        else:
            task.complete()
        record_audit("incidents.skip", record_type="incident", record_id=incident.id,
                     project_id=instance.project_id,
                     after={"element": incident.element_id, "task": incident.task_id})
        record_event(instance, EventKind.INCIDENT_SKIPPED, data={
            "incident": incident.id, "element": incident.element_id})
        instance.status = InstanceStatus.RUNNING.value
        _close(incident, SKIPPED)
    return incident
