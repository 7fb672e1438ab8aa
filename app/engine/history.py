"""The history of an instance: one :class:`InstanceEvent` per transition, in the same flush."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from app.audit.actor import current_actor
from app.clock import clock
from app.engine.models import EventKind, HumanTask, InstanceEvent, ProcessInstance
from app.extensions import db


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON (dates and other objects become strings)."""
    return json.loads(json.dumps(value, default=str))


def data_diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """{key: {"from": old, "to": new}} for every key whose value changed."""
    diff = {}
    for key in sorted(set(before) | set(after)):
        old, new = jsonable(before.get(key)), jsonable(after.get(key))
        if old != new:
            diff[key] = {"from": old, "to": new}
    return diff


def record_event(
    instance: ProcessInstance,
    kind: EventKind,
    task: HumanTask | None = None,
    data: dict[str, Any] | None = None,
) -> InstanceEvent:
    """Add a history row for ``instance`` attributed to the current actor."""
    actor = current_actor()
    event = InstanceEvent(
        project_id=instance.project_id,
        instance_id=instance.id,
        task_row_id=task.id if task is not None else None,
        at=clock.now(),
        user_id=actor.user_id,
        actor_label=actor.label,
        kind=kind.value,
        element_id=task.element_id if task is not None else None,
        title=task.title if task is not None else None,
        data=jsonable(data) if data else None,
    )
    if task is not None and task.id is None:
        event.task_row = task  # created in this flush: the flush fills in its id
    db.session.add(event)
    return event


def timeline(instance_id: int) -> list[InstanceEvent]:
    """Every event of an instance, oldest first."""
    return list(
        db.session.scalars(
            select(InstanceEvent)
            .where(InstanceEvent.instance_id == instance_id)
            .order_by(InstanceEvent.at, InstanceEvent.id)
        )
    )
