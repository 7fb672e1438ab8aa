"""Door-access (门禁) freeze and unfreeze: the ``door_access`` service operator, its outbox
deliverer and the adapter interface a real access-control system plugs into.

The operator never acts: it writes an outbox row in the step's transaction. After the commit
the dispatcher hands the row to :func:`deliver`, which calls the configured adapter
(``DOOR_ACCESS_ADAPTER = "package.module:Class"``; default :class:`RecordingDoorAccessAdapter`,
which records the command and its result in ``door_access_command``). Adapters must be
idempotent per ``command.key`` — the dispatcher may retry a delivery whose outcome it does
not know.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from flask import current_app, has_app_context
from sqlalchemy import select

from app.clock import clock
from app.engine.services import ServiceContext, register_operator
from app.extensions import db
from app.outbox.dispatcher import (
    Delivery,
    DeliveryResult,
    PermanentDeliveryError,
    TransientDeliveryError,
    register_deliverer,
)
from app.outbox.operations import enqueue
from app.uow import unit_of_work

from .models import DoorAccessCommand

KIND = "door_access"
ACTIONS = ("freeze", "unfreeze")
DEFAULT_ADAPTER = "app.billing.door_access:RecordingDoorAccessAdapter"


@dataclass(frozen=True)
class DoorCommand:
    key: str
    project_id: int
    unit_id: int
    action: str
    requested_at: datetime


@dataclass(frozen=True)
class DoorResult:
    ok: bool
    message: str
    reference: str | None = None


class DoorAccessAdapter(Protocol):
    """What an access-control integration implements."""

    name: str

    def execute(self, command: DoorCommand) -> DoorResult:
        """Freeze or unfreeze the cards of ``command.unit_id``; idempotent per ``command.key``.
        Raise :class:`TransientDeliveryError` to be retried later."""
        ...


class RecordingDoorAccessAdapter:
    """The shipped adapter: records each command and its result (no hardware behind it)."""

    name = "recording"

    def execute(self, command: DoorCommand) -> DoorResult:
        with unit_of_work():
            row = db.session.scalar(select(DoorAccessCommand).where(
                DoorAccessCommand.idempotency_key == command.key))
            if row is None:
                row = DoorAccessCommand(
                    project_id=command.project_id, unit_id=command.unit_id,
                    action=command.action, idempotency_key=command.key, adapter=self.name,
                    status="done", result=f"cards of unit {command.unit_id}: {command.action}d",
                    requested_at=command.requested_at, executed_at=clock.now())
                db.session.add(row)
                db.session.flush()
            result = DoorResult(row.status == "done", row.result or "", f"door-{row.id}")
        return result


def load_adapter() -> DoorAccessAdapter:
    spec = (current_app.config.get("DOOR_ACCESS_ADAPTER") if has_app_context() else None) \
        or DEFAULT_ADAPTER
    module_name, _, class_name = str(spec).partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as exc:
        raise PermanentDeliveryError(f"DOOR_ACCESS_ADAPTER {spec!r} cannot be loaded") from exc
    adapter: DoorAccessAdapter = cls()
    return adapter


def deliver(delivery: Delivery) -> DeliveryResult:
    """Outbox deliverer: run the command through the configured adapter."""
    payload = delivery.payload
    command = DoorCommand(
        key=delivery.idempotency_key, project_id=int(payload["project_id"]),
        unit_id=int(payload["unit_id"]), action=str(payload["action"]),
        requested_at=datetime.fromisoformat(str(payload["requested_at"])))
    result = load_adapter().execute(command)
    if not result.ok:
        raise TransientDeliveryError(f"door access refused: {result.message}")
    return DeliveryResult(provider_id=result.reference, provider_status=result.message[:100])


def _handler(context: ServiceContext, params: dict[str, Any]) -> dict[str, Any]:
    action = params["action"]
    if action not in ACTIONS:
        raise ValueError(f"door_access action must be one of {', '.join(ACTIONS)}")
    message = enqueue(KIND, idempotency_key=context.idempotency_key, project_id=context.project_id,
                      payload={"action": action, "unit_id": int(params["unit_id"]),
                               "project_id": context.project_id,
                               "instance_id": context.instance_id,
                               "requested_at": clock.now().isoformat()})
    return {"action": action, "outbox_id": message.id}


def commands_for(unit_id: int) -> list[DoorAccessCommand]:
    return list(db.session.scalars(select(DoorAccessCommand).where(
        DoorAccessCommand.unit_id == unit_id).order_by(DoorAccessCommand.id)))


def register() -> None:
    register_operator(
        "door_access", params={"action": str, "unit_id": int}, handler=_handler,
        description="Freeze or unfreeze a unit's access cards (through the outbox).")
    register_deliverer(KIND, deliver)


register()
