"""What the complaint flow may call: calendar script helpers and the ``complaint_update``
service operator that keeps the :class:`~app.complaints.models.Complaint` row in step.

Imported by :mod:`app.complaints.web`, so both are registered whenever the app is built.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from app.engine.script_helpers import register_helper
from app.engine.services import ServiceContext, register_operator

from . import calendar, sla
from .operations import apply_flow_update

HELPERS: dict[str, Callable[..., Any]] = {
    # "add_business_hours" is taken by tests/engine/test_scripting.py (it registers and
    # unregisters that name itself), so the calendar function is offered under this one.
    "business_hours_after": calendar.add_business_hours,
    "business_hours_between": calendar.business_hours_between,
    "sla_new": sla.sla_new,
    "sla_mark": sla.sla_mark,
    "sla_pause": sla.sla_pause,
    "sla_resume": sla.sla_resume,
    "sla_extend": sla.sla_extend,
    "sla_timer": sla.sla_timer,
    "sla_due_in": sla.sla_due_in,
}


def _complaint_update(context: ServiceContext, params: dict[str, Any]) -> dict[str, Any]:
    complaint = apply_flow_update(
        context.data.get("complaint_id"), dict(params.get("changes") or {}),
        escalation=params.get("escalation"), round_no=int(context.data.get("disputes") or 0) + 1)
    return {"status": complaint.status, "escalation_level": complaint.escalation_level}


def register() -> None:
    for name, func in HELPERS.items():
        register_helper(name, func, replace=True)
    register_operator(
        "complaint_update", params={"changes": dict, "escalation": int},
        required=("changes",), handler=_complaint_update,
        description="Record a complaint's progress (status, limits, escalation) on its row.",
    )


register()
