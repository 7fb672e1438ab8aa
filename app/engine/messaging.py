"""Messages and signals from outside (a payment, a visitor at the gate, an outage notice).

Waiting catches are found through :class:`~app.engine.models.MessageSubscription`, the index
:func:`app.engine.projections.save_workflow` keeps with every instance's state; no workflow is
deserialized to find a receiver. Delivery goes through
:func:`app.engine.locking.locked_instance`, so the receiver steps (service tasks, incidents)
like after any other change.

Correlation: ``correlation`` is ``{correlation property id: value}`` (e.g.
``{"ticket_no": "BX-20261122-0001"}``), matched exactly against what the waiting catch expects
(its ``processVariableCorrelation`` over the instance data). The payload handed to the
workflow is ``{**correlation, **payload}``, so retrieval expressions that name the property
(the usual case) find it without the sender repeating it.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from sqlalchemy import select

from app.engine import events
from app.engine.deployments import latest_deployment, loaded_deployment
from app.engine.history import jsonable, record_event
from app.engine.locking import locked_instance
from app.engine.models import EventKind, MessageSubscription, ProcessInstance
from app.engine.projections import correlation_key
from app.engine.runtime import start_instance
from app.errors import FieldErrors, NotFound
from app.extensions import db

MESSAGE = "message"
SIGNAL = "signal"


def _payload(correlation: Mapping[str, Any], payload: Mapping[str, Any] | None) -> dict[str, Any]:
    return {**dict(correlation), **dict(payload or {})}


def _subscribers(kind: str, name: str, *, key: str | None = None,
                 project_id: int | None = None) -> list[int]:
    stmt = select(MessageSubscription.instance_id).where(
        MessageSubscription.kind == kind, MessageSubscription.name == name)
    if key is not None:
        stmt = stmt.where(MessageSubscription.correlation_key == key)
    if project_id is not None:
        stmt = stmt.where(MessageSubscription.project_id == project_id)
    return sorted(set(db.session.scalars(stmt)))


def send_message(
    name: str,
    correlation: Mapping[str, Any],
    payload: Mapping[str, Any] | None = None,
    project_id: int | None = None,
) -> ProcessInstance:
    """Deliver message ``name`` to the instance waiting for it with this correlation, or start
    the flow whose start event catches it (``project_id`` required then); the instance.

    NotFound when no instance waits for it and no deployed flow starts with it.
    """
    if not isinstance(correlation, Mapping):
        raise FieldErrors({"correlation": "must be an object"})
    body = _payload(correlation, payload)
    key = correlation_key(correlation)
    for instance_id in _subscribers(MESSAGE, name, key=key, project_id=project_id):
        with locked_instance(instance_id) as locked:
            assert locked.workflow is not None
            if locked.instance.finished or not events.send_message(locked.workflow, name, body):
                locked.save = False  # the subscription was stale; try the next one
                continue
            record_event(locked.instance, EventKind.MESSAGE, data={
                "message": name, "correlation": jsonable(dict(correlation))})
        return locked.instance
    flow = message_start_flow(name)
    if flow is None:
        shown = ", ".join(f"{k}={v}" for k, v in sorted(correlation.items())) or "no correlation"
        raise NotFound(f"no process is waiting for message {name!r} ({shown})",
                       {"name": "no receiver for this message"})
    if project_id is None:
        raise FieldErrors({"project_id": f"message {name!r} starts a {flow} process: "
                                         "name the project"})
    instance = start_instance(flow, project_id, {})
    with locked_instance(instance.id) as locked:
        assert locked.workflow is not None
        if not events.send_message(locked.workflow, name, body):
            raise NotFound(f"the {flow} process did not accept message {name!r}")
        record_event(locked.instance, EventKind.MESSAGE, data={
            "message": name, "correlation": jsonable(dict(correlation)), "started": True})
    return locked.instance


def broadcast_signal(name: str, project_id: int, payload: Mapping[str, Any] | None = None) -> int:
    """Throw signal ``name`` to every instance of the project waiting for it; how many caught it.

    Each receiver is locked and stepped in turn within the caller's unit of work.
    """
    caught = 0
    for instance_id in _subscribers(SIGNAL, name, project_id=project_id):
        with locked_instance(instance_id) as locked:
            assert locked.workflow is not None
            if locked.instance.finished or not events.broadcast_signal(
                    locked.workflow, name, dict(payload or {})):
                locked.save = False
                continue
            record_event(locked.instance, EventKind.MESSAGE, data={"signal": name})
            caught += 1
    return caught


# --- message start events ----------------------------------------------------------------------

_starts: dict[tuple[int, str], dict[str, str]] = {}
_starts_lock = threading.Lock()


def _message_starts() -> dict[str, str]:
    """{message name: process id} of the latest deployment's message start events."""
    deployment = latest_deployment()
    if deployment is None:
        return {}
    key = (deployment.id, deployment.content_hash)
    cached = _starts.get(key)
    if cached is not None:
        return cached
    found: dict[str, str] = {}
    for pid, (spec, _subs) in sorted(loaded_deployment(deployment).specs.items()):
        for task_spec in spec.start.outputs:
            definition = getattr(task_spec, "event_definition", None)
            if isinstance(definition, MessageEventDefinition):
                found.setdefault(definition.name, pid)
    with _starts_lock:
        _starts[key] = found
    return found


def message_start_flow(name: str) -> str | None:
    """The process (latest deployment) whose start event catches message ``name``."""
    return _message_starts().get(name)
