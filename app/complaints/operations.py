"""Complaint operations: intake, the complainant's own steps, and the flow's updates.

Operations flush and never commit; the request, CLI command or scheduler job commits.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from app.accounts.models import User
from app.clock import clock
from app.engine import runtime
from app.engine.deployments import latest_loaded_deployment
from app.engine.models import HumanTask, TaskStatus
from app.errors import Conflict, FieldErrors, Forbidden, NotFound
from app.extensions import db
from app.notifications.recipients import normalise_phone
from app.projects.models import Project, Unit
from app.scoping import in_scope

from .models import CHANNELS, LEVELS, SEVERITIES, STATUSES, Complaint, ComplaintEvent

FLOW = "complaint"
INTAKE_FORM = "complaint/intake.json"
NUMBER_PREFIX = "TS"
#: Fields of the row the flow may set through ``complaint_update``.
FLOW_FIELDS = frozenset({
    "category", "severity", "department", "in_scope", "out_of_scope_reason", "disputes",
    "extension_hours", "extension_status", "extension_reason", "findings", "action_plan",
    "result", "satisfaction", "revisit_note",
})
_SLA_COLUMNS = {"warn": "warn_at", "due": "due_at", "pm": "pm_at", "hq": "hq_at"}
_LEVEL_COLUMN = {0: "warn_at", 1: "due_at", 2: "pm_at", 3: "hq_at"}


# --- intake ----------------------------------------------------------------------------------


def intake_schema() -> dict[str, Any]:
    """The intake form of the deployed complaint flow (categories are edited there)."""
    loaded = latest_loaded_deployment(FLOW)
    schema = loaded.form(INTAKE_FORM)
    if schema is None:
        raise NotFound("the complaint flow has no intake form")
    return schema


def category_labels(schema: Mapping[str, Any] | None = None) -> dict[str, tuple[str, str]]:
    """{code: (English, Chinese)} of the categories in the intake form."""
    try:
        schema = schema or intake_schema()
    except NotFound:
        return {}
    options = schema.get("properties", {}).get("category", {}).get("oneOf", [])
    return {o["const"]: (o.get("title", o["const"]), o.get("x-title-zh", o.get("title", "")))
            for o in options if "const" in o}


def next_number(project: Project, now: datetime | None = None) -> str:
    """TS-YYYYMMDD-NNNN, counted per project and local day."""
    moment = (now or clock.now()).astimezone(ZoneInfo(project.timezone))
    prefix = f"{NUMBER_PREFIX}-{moment:%Y%m%d}-"
    last = db.session.scalar(
        select(func.max(Complaint.number)).where(
            Complaint.project_id == project.id, Complaint.number.like(f"{prefix}%")))
    seq = int(last.rsplit("-", 1)[1]) + 1 if last else 1
    return f"{prefix}{seq:04d}"


def create_complaint(
    project_id: int,
    form: Mapping[str, Any],
    *,
    channel: str,
    complainant: User | None,
    registered_by: User | None = None,
    complainant_name: str | None = None,
    complainant_phone: str | None = None,
    unit_id: int | None = None,
    severity: str = "normal",
) -> Complaint:
    """Register a complaint from the portal, a phone call or the front desk and start its flow.

    ``form`` is the intake form's data (validated here against the deployed schema).
    """
    project = db.session.get(Project, project_id)
    if project is None or not in_scope(project_id):
        raise FieldErrors({"project_id": "no such project"})
    if channel not in CHANNELS:
        raise FieldErrors({"channel": f"one of {', '.join(CHANNELS)}"})
    if severity not in SEVERITIES:
        raise FieldErrors({"severity": f"one of {', '.join(SEVERITIES)}"})
    errors = runtime.schema_errors(intake_schema(), dict(form))
    if errors:
        raise FieldErrors(errors)
    anonymous = bool(form.get("anonymous"))
    unit = None
    if unit_id is not None:
        unit = db.session.get(Unit, unit_id)
        if unit is None or unit.project_id != project_id:
            raise FieldErrors({"unit_id": "no such unit in this project"})
    phone = None
    if complainant_phone and complainant_phone.strip() and not anonymous:
        phone = normalise_phone(complainant_phone)
    user = None if anonymous else complainant
    complaint = Complaint(
        project_id=project_id, number=next_number(project), channel=channel,
        category=str(form["category"]), severity=severity, title=str(form["title"]).strip(),
        description=str(form["description"]).strip(), photos=list(form.get("photos") or []),
        anonymous=anonymous, complainant_id=user.id if user is not None else None,
        complainant_name=None if anonymous else (
            (complainant_name or "").strip() or (user.display_name if user else None)),
        complainant_phone=phone, registered_by_id=registered_by.id if registered_by else None,
        unit_id=unit.id if unit else None, building_id=unit.building_id if unit else None,
        status="triage", disputes=0, escalation_level=-1, created_at=clock.now(),
    )
    db.session.add(complaint)
    db.session.flush()
    _event(complaint, "status", status="triage", note=complaint.title)
    data = {
        "project_id": project_id, "complaint_id": complaint.id, "number": complaint.number,
        "title": complaint.title, "category": complaint.category, "severity": severity,
        "channel": channel, "anonymous": anonymous,
        "complainant_user_id": complaint.complainant_id, "complainant_phone": phone,
    }
    if complaint.complainant_id is not None:
        data["requester_id"] = complaint.complainant_id
    instance = runtime.start_instance(FLOW, project_id, data, business_key=complaint.number)
    complaint.instance_id = instance.id
    db.session.flush()
    return complaint


# --- the flow's updates ----------------------------------------------------------------------


def _event(complaint: Complaint, kind: str, *, status: str | None = None,
           level: int | None = None, note: str | None = None, round_no: int = 1,
           due: datetime | None = None, public: bool = True) -> ComplaintEvent:
    event = ComplaintEvent(project_id=complaint.project_id, complaint_id=complaint.id,
                           at=clock.now(), kind=kind, status=status, level=level,
                           note=(note or None) and str(note)[:2000], round=round_no, due=due,
                           public=public)
    db.session.add(event)
    return event


def _instant(value: Any) -> datetime | None:
    if not value:
        return None
    parsed = datetime.fromisoformat(str(value))
    parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return parsed if parsed.year < 9999 else None


def _apply_sla(complaint: Complaint, sla: Mapping[str, Any]) -> None:
    complaint.limit_hours = float(sla.get("hours") or 0) or None
    complaint.around_the_clock = bool(sla.get("around"))
    complaint.paused = bool(sla.get("paused_at"))
    for key, column in _SLA_COLUMNS.items():
        setattr(complaint, column, _instant(sla.get(key)))


def apply_flow_update(
    complaint_id: Any, changes: Mapping[str, Any], *, escalation: int | None = None,
    round_no: int = 1,
) -> Complaint:
    """What a ``complaint_update`` service task of the flow reports: new field values, a new
    status (logged, with its timestamps) and/or an escalation level reached."""
    complaint = db.session.get(Complaint, int(complaint_id)) if complaint_id else None
    if complaint is None:
        raise NotFound(f"no complaint {complaint_id!r}")
    unknown = set(changes) - FLOW_FIELDS - {"status", "sla", "note"}
    if unknown:
        raise ValueError(f"complaint_update: unknown field(s) {', '.join(sorted(unknown))}")
    for key in FLOW_FIELDS & set(changes):
        setattr(complaint, key, changes[key])
    if changes.get("sla"):
        _apply_sla(complaint, changes["sla"])
    status = changes.get("status")
    if status and status not in STATUSES:
        raise ValueError(f"complaint_update: unknown status {status!r}")
    now = clock.now()
    if status and status != complaint.status:
        if status in ("reopened", "pm_review"):
            complaint.resolved_at = None
            complaint.within_limit = None
        if status in ("feedback", "closed") and complaint.resolved_at is None:
            complaint.resolved_at = now
            complaint.within_limit = complaint.due_at is None or now <= complaint.due_at
        if status in ("closed", "rejected", "revisited") and complaint.closed_at is None:
            complaint.closed_at = now
        complaint.status = status
        _event(complaint, "status", status=status, note=changes.get("note"), round_no=round_no)
    if escalation is not None:
        level = int(escalation)
        if level not in LEVELS:
            raise ValueError(f"complaint_update: unknown escalation level {level}")
        complaint.escalation_level = max(complaint.escalation_level, level)
        _event(complaint, "escalation", level=level, round_no=round_no,
               due=getattr(complaint, _LEVEL_COLUMN[level]), note=LEVELS[level],
               public=level > 0)
    complaint.updated_at = now
    db.session.flush()
    return complaint


# --- the complainant's own steps -------------------------------------------------------------


def get_complaint(complaint_id: int) -> Complaint:
    complaint = db.session.get(Complaint, complaint_id)
    if complaint is None or not in_scope(complaint.project_id):
        raise NotFound(f"no complaint {complaint_id}")
    return complaint


def own_complaint(complaint_id: int, user: User) -> Complaint:
    """A complaint the user lodged (404 for anyone else's)."""
    complaint = get_complaint(complaint_id)
    if complaint.complainant_id != user.id:
        raise NotFound(f"no complaint {complaint_id}")
    return complaint


def open_tasks(complaint: Complaint) -> list[HumanTask]:
    if complaint.instance_id is None:
        return []
    return list(db.session.scalars(select(HumanTask).where(
        HumanTask.instance_id == complaint.instance_id,
        HumanTask.status == TaskStatus.OPEN.value).order_by(HumanTask.id)))


def complainant_tasks(complaint: Complaint, user: User) -> list[HumanTask]:
    """Open steps waiting for this complainant (answer a question, accept or dispute)."""
    return [t for t in open_tasks(complaint)
            if t.restricted and user.id in (t.candidate_user_ids or [])]


def complete_complainant_task(complaint: Complaint, task_id: int, data: Mapping[str, Any],
                              user: User) -> HumanTask:
    """The complainant answers a question or accepts/disputes the result."""
    task = next((t for t in complainant_tasks(complaint, user) if t.id == task_id), None)
    if task is None:
        if any(t.id == task_id for t in open_tasks(complaint)):
            raise Forbidden("This step is for the property staff.")
        raise Conflict("This step is no longer open.")
    return runtime.complete_task(task.id, data, user)
