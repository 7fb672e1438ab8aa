"""Staff pages: complaint list, detail, and registering a complaint by phone or at the desk."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import or_, select

from app.accounts.permissions import require
from app.clock import clock
from app.engine.history import timeline
from app.errors import FieldErrors
from app.extensions import db
from app.inbox.formrender import parse_form, render_form
from app.projects.models import Building, Project, Unit
from app.web.context import current_language

from . import labels
from . import operations as ops
from .models import SEVERITIES, STATUSES, Complaint

bp = Blueprint("complaints", __name__, url_prefix="/complaints")
PER_PAGE = 50


def ui_globals() -> dict[str, Any]:
    return {"labels": labels, "label": labels.label, "categories": ops.category_labels(),
            "zh": current_language() == "zh_CN", "now": clock.now()}


@bp.get("/")
@require("complaints.read")
def index() -> ResponseReturnValue:
    status = request.args.get("status", "")
    category = request.args.get("category", "")
    q = request.args.get("q", "").strip()
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    stmt = select(Complaint).order_by(Complaint.created_at.desc(), Complaint.id.desc())
    if status == "open":
        stmt = stmt.where(Complaint.status.not_in(["rejected", "closed", "revisited",
                                                   "cancelled"]))
    elif status in STATUSES:
        stmt = stmt.where(Complaint.status == status)
    if category:
        stmt = stmt.where(Complaint.category == category)
    if q:
        stmt = stmt.where(or_(Complaint.number.contains(q), Complaint.title.contains(q)))
    rows = list(db.session.scalars(stmt.limit(PER_PAGE + 1).offset((page - 1) * PER_PAGE)))
    return render_template("complaints/index.html", complaints=rows[:PER_PAGE],
                           more=len(rows) > PER_PAGE, page=page, status=status,
                           category=category, q=q, statuses=STATUSES, **ui_globals())


@bp.get("/<int:complaint_id>")
@require("complaints.read")
def show(complaint_id: int) -> ResponseReturnValue:
    complaint = ops.get_complaint(complaint_id)
    history = timeline(complaint.instance_id) if complaint.instance_id else []
    return render_template("complaints/show.html", c=complaint, tasks=ops.open_tasks(complaint),
                           history=history, **ui_globals())


def _units() -> list[tuple[Unit, Project]]:
    return list(db.session.execute(
        select(Unit, Project).join(Building, Unit.building_id == Building.id)
        .join(Project, Unit.project_id == Project.id)
        .order_by(Project.code, Building.name, Unit.number)).tuples())


def _new_page(data: dict[str, Any], errors: dict[str, str], status: int = 200,
              extra: dict[str, Any] | None = None) -> ResponseReturnValue:
    schema = ops.intake_schema()
    projects = list(db.session.scalars(select(Project).where(Project.active.is_(True))
                                       .order_by(Project.code)))
    form_html = render_form(schema, None, data, errors, current_language())
    return render_template("complaints/new.html", form_html=form_html, projects=projects,
                           units=_units(), severities=SEVERITIES, errors=errors,
                           extra=extra or {}, **ui_globals()), status


@bp.route("/new", methods=["GET", "POST"])
@require("complaints.register")
def new() -> ResponseReturnValue:
    if request.method == "GET":
        return _new_page({}, {})
    schema = ops.intake_schema()
    data = parse_form(schema, request.form)
    extra = {k: request.form.get(k, "") for k in ("project_id", "unit_id", "channel",
                                                  "complainant_name", "complainant_phone",
                                                  "severity")}
    try:
        complaint = ops.create_complaint(
            request.form.get("project_id", type=int) or 0, data,
            channel=extra["channel"] or "phone", complainant=None, registered_by=current_user,
            complainant_name=extra["complainant_name"],
            complainant_phone=extra["complainant_phone"],
            unit_id=request.form.get("unit_id", type=int), severity=extra["severity"] or "normal")
    except FieldErrors as exc:
        return _new_page(data, exc.fields, 422, extra)
    flash(_("Complaint %(number)s registered.", number=complaint.number), "success")
    return redirect(url_for("complaints.show", complaint_id=complaint.id))
