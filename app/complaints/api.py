"""Complaints in the JSON API (``/api/v1/complaints``)."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, abort, jsonify, request
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import select

from app.accounts.permissions import can, require
from app.api import PAGE_QUERY, json_body, page_args
from app.api.openapi import doc
from app.engine.models import HumanTask
from app.errors import FieldErrors, Forbidden, NotFound
from app.extensions import db
from app.projects.models import Project

from . import calendar as cal
from . import operations as ops
from .models import CHANNELS, SEVERITIES, STATUSES, Complaint
from .stats import complaint_stats

bp = Blueprint("complaints_api", __name__, url_prefix="/api/v1/complaints")
T = ("complaints",)
S = {"type": ["string", "null"]}
TIME = {"type": ["string", "null"], "format": "date-time"}
NEW = {"type": "object", "required": ["category", "title", "description"], "properties": {
    "project_id": {"type": "integer"}, "category": {"type": "string"},
    "title": {"type": "string"}, "description": {"type": "string"},
    "photos": {"type": "array", "items": {"type": "string"}}, "anonymous": {"type": "boolean"},
    "unit_id": {"type": ["integer", "null"]}, "channel": {"enum": list(CHANNELS)},
    "severity": {"enum": list(SEVERITIES)}, "complainant_name": S, "complainant_phone": S}}
COMPLAINT = {"type": "object", "properties": {
    "id": {"type": "integer"}, "number": {"type": "string"}, "status": {"enum": list(STATUSES)},
    "category": {"type": "string"}, "severity": {"type": "string"}, "department": S,
    "disputes": {"type": "integer"}, "escalation_level": {"type": "integer"},
    "due_at": TIME, "warn_at": TIME, "pm_at": TIME, "hq_at": TIME, "paused": {"type": "boolean"},
    "events": {"type": "array"}, "open_tasks": {"type": "array"}}}
LIST_QUERY: dict[str, dict[str, Any]] = {**PAGE_QUERY, "status": {"type": "string"},
                                         "category": {"type": "string"}}
STATS_QUERY = {"project_id": {"type": "integer"}, "from": {"type": "string", "format": "date"},
               "to": {"type": "string", "format": "date"}}
WEEK = {"type": "object", "properties": {
    **{str(i): {"type": "string"} for i in range(7)}, "makeup": {"type": "string"}}}
DAY = {"type": "object", "required": ["day", "kind"], "properties": {
    "day": {"type": "string", "format": "date"}, "kind": {"enum": ["holiday", "workday"]},
    "name": {"type": "string"}}}


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def complaint_json(c: Complaint, full: bool = False, staff: bool = True) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": c.id, "number": c.number, "project_id": c.project_id, "status": c.status,
        "channel": c.channel, "category": c.category, "severity": c.severity, "title": c.title,
        "anonymous": c.anonymous, "department": c.department, "disputes": c.disputes,
        "escalation_level": c.escalation_level, "paused": c.paused,
        "warn_at": _iso(c.warn_at), "due_at": _iso(c.due_at), "pm_at": _iso(c.pm_at),
        "hq_at": _iso(c.hq_at), "created_at": _iso(c.created_at),
        "resolved_at": _iso(c.resolved_at), "closed_at": _iso(c.closed_at),
        "within_limit": c.within_limit, "unit": c.unit.label if c.unit else None,
    }
    if full:
        data.update({
            "description": c.description, "photos": c.photos, "result": c.result,
            "out_of_scope_reason": c.out_of_scope_reason, "satisfaction": c.satisfaction,
            "extension_status": c.extension_status, "extension_hours": c.extension_hours,
            "events": [{"at": _iso(e.at), "kind": e.kind, "status": e.status, "level": e.level,
                        "note": e.note, "round": e.round} for e in c.events
                       if staff or e.public],
        })
        if staff:
            data.update({"findings": c.findings, "action_plan": c.action_plan,
                         "complainant_name": c.complainant_name,
                         "complainant_phone": c.complainant_phone,
                         "open_tasks": [{"id": t.id, "element_id": t.element_id,
                                         "title": t.title, "due_at": _iso(t.due_at)}
                                        for t in ops.open_tasks(c)]})
        else:
            data["open_tasks"] = [{"id": t.id, "element_id": t.element_id, "title": t.title,
                                   "form": t.form}
                                  for t in ops.complainant_tasks(c, current_user)]
    return data


def _visible(complaint_id: int) -> tuple[Complaint, bool]:
    if not current_user.is_authenticated:
        abort(401)
    if can("complaints.read"):
        return ops.get_complaint(complaint_id), True
    if can("portal.use"):
        return ops.own_complaint(complaint_id, current_user), False
    raise Forbidden("You may not see complaints.")


@bp.get("")
@doc("Complaints: all visible ones for staff, one's own for residents", tags=T,
     query=LIST_QUERY, response={"type": "object", "properties": {
         "items": {"type": "array", "items": COMPLAINT}}})
def list_complaints() -> ResponseReturnValue:
    if not current_user.is_authenticated:
        abort(401)
    staff = can("complaints.read")
    if not staff and not can("portal.use"):
        raise Forbidden("You may not see complaints.")
    page, per_page = page_args()
    stmt = select(Complaint).order_by(Complaint.created_at.desc(), Complaint.id.desc())
    if not staff:
        stmt = stmt.where(Complaint.complainant_id == current_user.id)
    if request.args.get("status"):
        stmt = stmt.where(Complaint.status == request.args["status"])
    if request.args.get("category"):
        stmt = stmt.where(Complaint.category == request.args["category"])
    rows = db.session.scalars(stmt.limit(per_page).offset((page - 1) * per_page))
    return jsonify({"items": [complaint_json(c) for c in rows], "page": page})


@bp.post("")
@doc("Lodge a complaint (residents: from the portal; staff: by phone or at the desk)",
     tags=T, request=NEW, response=COMPLAINT, status=201)
def create() -> ResponseReturnValue:
    if not current_user.is_authenticated:
        abort(401)
    body = json_body(NEW)
    form: dict[str, Any] = {k: body[k] for k in ("category", "title", "description", "photos",
                                                 "anonymous") if k in body}
    if can("complaints.register"):
        project_id = body.get("project_id")
        if not project_id:
            raise FieldErrors({"project_id": "required"})
        complaint = ops.create_complaint(
            int(project_id), form, channel=body.get("channel") or "phone", complainant=None,
            registered_by=current_user, complainant_name=body.get("complainant_name"),
            complainant_phone=body.get("complainant_phone"), unit_id=body.get("unit_id"),
            severity=body.get("severity") or "normal")
        return jsonify(complaint_json(complaint, full=True)), 201
    if not can("portal.use"):
        raise Forbidden("You may not lodge complaints.")
    project_id = body.get("project_id") or min(current_user.project_ids, default=0)
    if project_id not in current_user.project_ids:
        raise FieldErrors({"project_id": "no such project"})
    complaint = ops.create_complaint(int(project_id), form, channel="portal",
                                     complainant=current_user, unit_id=body.get("unit_id"))
    return jsonify(complaint_json(complaint, full=True, staff=False)), 201


@bp.get("/<int:complaint_id>")
@doc("One complaint with its progress", tags=T, response=COMPLAINT)
def get_complaint(complaint_id: int) -> ResponseReturnValue:
    complaint, staff = _visible(complaint_id)
    return jsonify(complaint_json(complaint, full=True, staff=staff))


@bp.post("/<int:complaint_id>/tasks/<int:task_id>")
@doc("The complainant answers a question or accepts/disputes the result", tags=T,
     request={"type": "object"}, response=COMPLAINT)
def complete_task(complaint_id: int, task_id: int) -> ResponseReturnValue:
    complaint, _staff = _visible(complaint_id)
    if complaint.complainant_id != current_user.id:
        raise Forbidden("Staff work on complaint tasks through /api/v1/tasks.")
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise FieldErrors({"body": "a JSON object is required"})
    if db.session.get(HumanTask, task_id) is None:
        raise NotFound(f"no task {task_id}")
    ops.complete_complainant_task(complaint, task_id, data, current_user)
    return jsonify(complaint_json(complaint, full=True, staff=False))


def _date(name: str) -> date | None:
    raw = request.args.get(name)
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError as exc:
        raise FieldErrors({name: "a date like 2026-11-01"}) from exc


@bp.get("/stats")
@require("complaints.stats")
@doc("Complaint statistics: by category, department, building and month; repeated issues; "
     "handling time; share within the limit", tags=T, query=STATS_QUERY)
def stats() -> ResponseReturnValue:
    s = complaint_stats(request.args.get("project_id", type=int), _date("from"), _date("to"))
    return jsonify({"total": s.total, "by_category": s.by_category,
                    "by_department": s.by_department, "by_building": s.by_building,
                    "by_month": s.by_month, "by_status": s.by_status, "repeated": s.repeated,
                    "resolved": s.resolved, "avg_handling_hours": s.avg_handling_hours,
                    "within_limit_share": s.within_limit_share, "escalated": s.escalated,
                    "disputed": s.disputed, "avg_satisfaction": s.avg_satisfaction})


def _project(project_id: int) -> Project:
    project = db.session.get(Project, project_id)
    if project is None:
        raise NotFound(f"no project {project_id}")
    return project


def calendar_json(project: Project) -> dict[str, Any]:
    calendar = cal.calendar_of(project.id)
    week = calendar.week if calendar else {str(i): (cal.DEFAULT_HOURS if i < 5 else [])
                                            for i in range(7)}
    return {"project_id": project.id, "timezone": project.timezone, "week": week,
            "makeup_hours": calendar.makeup_hours if calendar else [],
            "days": [{"id": d.id, "day": d.day.isoformat(), "kind": d.kind, "name": d.name}
                     for d in (calendar.days if calendar else [])]}


@bp.get("/calendars/<int:project_id>")
@require("complaints.read")
@doc("A project's business calendar", tags=T)
def get_calendar(project_id: int) -> ResponseReturnValue:
    return jsonify(calendar_json(_project(project_id)))


@bp.put("/calendars/<int:project_id>")
@require("calendars.manage")
@doc("Set the working hours per weekday ('0' = Monday, '09:00-12:00, 13:00-18:00')", tags=T,
     request=WEEK)
def put_calendar(project_id: int) -> ResponseReturnValue:
    project = _project(project_id)
    body = json_body(WEEK)
    cal.set_week_hours(project.id, {str(i): body.get(str(i), "") for i in range(7)},
                       body.get("makeup", ""))
    return jsonify(calendar_json(project))


@bp.post("/calendars/<int:project_id>/days")
@require("calendars.manage")
@doc("Add a public holiday or a make-up working day", tags=T, request=DAY, status=201)
def add_day(project_id: int) -> ResponseReturnValue:
    project = _project(project_id)
    body = json_body(DAY)
    try:
        day = date.fromisoformat(body["day"])
    except ValueError as exc:
        raise FieldErrors({"day": "a date like 2026-10-01"}) from exc
    cal.add_calendar_day(project.id, day, body["kind"], body.get("name", ""))
    return jsonify(calendar_json(project)), 201


@bp.delete("/calendars/<int:project_id>/days/<int:day_id>")
@require("calendars.manage")
@doc("Remove a holiday or make-up day", tags=T)
def remove_day(project_id: int, day_id: int) -> ResponseReturnValue:
    project = _project(project_id)
    cal.remove_calendar_day(project.id, day_id)
    return jsonify(calendar_json(project))
