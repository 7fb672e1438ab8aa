"""How tickets are shown: labels, the owner's timeline, JSON for the API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext as _l

from app.engine.history import timeline
from app.engine.models import InstanceEvent
from app.inbox.formrender import localized
from app.repairs.models import Ticket

STATUS_LABELS: dict[str, Any] = {
    "pending": _l("Waiting for a technician"), "assigned": _l("Dispatched"),
    "accepted": _l("Accepted"), "awaiting_fee": _l("Fee to confirm"),
    "in_progress": _l("In progress"), "completed": _l("Done: please confirm"),
    "rectifying": _l("Being put right"), "revisiting": _l("Revisit call"),
    "closed": _l("Closed"), "cancelled": _l("Cancelled"),
    "fee_declined": _l("Closed: fee declined"),
}
STEP_LABELS: dict[str, Any] = {
    "Dispatch": _l("Dispatch a technician"), "Accept": _l("Accept the job"),
    "Check_in": _l("Check in on site"), "Confirm_fee": _l("Confirm the fee"),
    "Record_work": _l("Record the work"), "Rate": _l("Confirm and rate"),
    "Rectify": _l("Rectification"), "Revisit": _l("Revisit call"),
    "Follow_up_late_job": _l("Supervisor follows up the late job"),
    "Handle_overdue_job": _l("Project manager intervenes"),
}
ESCALATION_LABELS: dict[str, Any] = {
    "response_late": _l("Not accepted within the response limit: the team was reminded"),
    "response_overdue": _l("Not accepted at twice the response limit: escalated to the supervisor"),
    "completion_late": _l("Not finished within the completion limit: escalated to the supervisor"),
    "completion_overdue": _l("Twice past the completion limit: escalated to the project manager"),
}
MESSAGE_LABELS: dict[str, Any] = {"repair_urge": _l("The owner urged the job"),
                                  "repair_cancel": _l("The owner cancelled")}


def option_text(schema: dict[str, Any] | None, field: str, value: Any, locale: str) -> str:
    """The label of an enum value of the intake form in the user's language."""
    for option in ((schema or {}).get("properties", {}).get(field, {}).get("oneOf", [])):
        if option.get("const") == value:
            return localized(option, "title", locale, str(value))
    return str(value or "")


def status_label(status: str) -> str:
    return str(STATUS_LABELS.get(status, status))


def money(fen: int | None) -> str:
    fen = fen or 0
    return f"¥{fen // 100:,}.{fen % 100:02d}"


@dataclass(frozen=True)
class Entry:
    at: datetime
    text: str
    who: str = ""
    kind: str = "step"


def _step(event: InstanceEvent) -> str:
    return str(STEP_LABELS.get(event.element_id or "", event.title or ""))


def ticket_timeline(ticket: Ticket, *, staff: bool = False) -> list[Entry]:
    """Every step of the ticket, oldest first: history events plus escalations."""
    entries: list[Entry] = []
    if ticket.instance_id is None:
        return entries
    for event in timeline(ticket.instance_id):
        if event.kind == "started":
            entries.append(Entry(event.at, str(_l("Repair submitted")), event.actor_label))
        elif event.kind == "completed":
            entries.append(Entry(event.at, _step(event), event.actor_label, "done"))
        elif event.kind == "task_created":
            entries.append(Entry(event.at, str(_l("Waiting: %(step)s", step=_step(event))),
                                 kind="waiting"))
        elif event.kind == "task_cancelled":
            # A step the process no longer needs (an escalation once the job is over, the
            # dispatch of a cancelled ticket).
            entries.append(Entry(event.at, str(_l("Withdrawn: %(step)s", step=_step(event))),
                                 kind="withdrawn"))
        elif event.kind in ("claimed", "reassigned", "delegated") and staff:
            entries.append(Entry(event.at, f"{_step(event)} · {event.kind}", event.actor_label))
        elif event.kind == "message":
            name = (event.data or {}).get("message", "")
            entries.append(Entry(event.at, str(MESSAGE_LABELS.get(name, name)),
                                 event.actor_label, "message"))
        elif event.kind == "finished":
            entries.append(Entry(event.at, str(_l("Process finished")), kind="done"))
        elif event.kind == "cancelled":
            entries.append(Entry(event.at, str(_l("Cancelled by an administrator")),
                                 event.actor_label))
    for escalation in ticket.escalations or []:
        try:
            at = datetime.fromisoformat(escalation["at"])
        except (KeyError, TypeError, ValueError):
            continue
        entries.append(Entry(at, str(ESCALATION_LABELS.get(escalation.get("kind", ""), "")),
                             kind="escalation"))
    entries.sort(key=lambda e: e.at)
    return entries


def ticket_json(ticket: Ticket) -> dict[str, Any]:
    def iso(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "id": ticket.id, "number": ticket.number, "project_id": ticket.project_id,
        "status": ticket.status, "category": ticket.category, "area": ticket.area,
        "unit_id": ticket.unit_id, "location": ticket.location,
        "description": ticket.description, "urgency": ticket.urgency,
        "preferred_time": ticket.preferred_time, "photos": list(ticket.photos or []),
        "requester_id": ticket.requester_id, "channel": ticket.channel,
        "team": ticket.team, "dispatch_mode": ticket.dispatch_mode,
        "technician_id": ticket.technician_id,
        "submitted_at": iso(ticket.submitted_at), "respond_by": iso(ticket.respond_by),
        "finish_by": iso(ticket.finish_by), "accepted_at": iso(ticket.accepted_at),
        "finished_at": iso(ticket.finished_at), "closed_at": iso(ticket.closed_at),
        "returns": ticket.returns, "fee_fen": ticket.fee_fen,
        "fee_confirmed": ticket.fee_confirmed, "materials_fen": ticket.materials_fen,
        "rating": ticket.rating, "rating_comment": ticket.rating_comment,
        "not_rated": ticket.not_rated, "revisit_result": ticket.revisit_result,
        "late_response": ticket.late_response, "late_completion": ticket.late_completion,
        "escalation_level": ticket.escalation_level, "escalations": ticket.escalations or [],
        "urge_count": ticket.urge_count, "last_urged_at": iso(ticket.last_urged_at),
        "cancel_reason": ticket.cancel_reason, "instance_id": ticket.instance_id,
    }
