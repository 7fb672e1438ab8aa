"""Staff pages: the gate (guards), batch approvals, the visit log and its figures."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from app.accounts.permissions import require
from app.clock import clock
from app.errors import FieldErrors
from app.extensions import db
from app.projects.models import Project
from app.records.lookup import scoped_get
from app.visitors import gate
from app.visitors import operations as ops
from app.visitors.models import VisitBatch
from app.visitors.stats import Period, export_log, log_events, statistics

bp = Blueprint("visitors_staff", __name__)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def current_project() -> Project:
    """The project chosen with ``?project_id=`` or the user's first one (404 if none)."""
    wanted = request.values.get("project_id", type=int)
    if wanted is not None:
        project = scoped_get(Project, wanted)
    else:
        project = db.session.scalar(select(Project).where(Project.active.is_(True))
                                    .order_by(Project.name).limit(1))
    if project is None:
        abort(404)
    return project


def projects() -> list[Project]:
    return list(db.session.scalars(select(Project).where(Project.active.is_(True))
                                   .order_by(Project.name)))


def period_from(args: Any, project_id: int) -> Period:
    today = clock.now().astimezone(ops.project_zone(project_id)).date()
    try:
        end = date.fromisoformat(args.get("to") or today.isoformat())
        start = date.fromisoformat(args.get("from") or (end - timedelta(days=6)).isoformat())
    except ValueError as exc:
        raise FieldErrors({"from": "use the form YYYY-MM-DD"}) from exc
    if start > end or (end - start).days > 366:
        raise FieldErrors({"from": "a period of one day to one year"})
    return Period(start, end)


# --- gate -------------------------------------------------------------------------------------


def _gate_page(result: gate.GateResult | None = None, status: int = 200) -> ResponseReturnValue:
    project = current_project()
    return render_template("visitors/gate.html", project=project, projects=projects(),
                           result=result, inside=gate.inside_now(project.id),
                           zone=ops.project_zone(project.id)), status


@bp.get("/gate")
@require("gate.check")
def gate_page() -> ResponseReturnValue:
    return _gate_page()


@bp.post("/gate/check")
@require("gate.check")
def gate_check() -> ResponseReturnValue:
    project = current_project()
    code = request.form.get("code", "")
    if not code.strip():
        raise FieldErrors({"code": "scan the QR code or type the pass code"})
    result = gate.check_pass(code, project.id, current_user._get_current_object(),  # type: ignore[attr-defined]
                             request.form.get("direction", "entry"), request.form.get("gate"))
    return _gate_page(result)


# --- batch approvals, log, statistics ---------------------------------------------------------


@bp.get("/visitors/")
@require("visitors.read")
def log() -> ResponseReturnValue:
    project = current_project()
    period = period_from(request.args, project.id)
    pending = db.session.scalars(select(VisitBatch).where(
        VisitBatch.project_id == project.id, VisitBatch.status == "pending")
        .order_by(VisitBatch.created_at)).all()
    for batch in pending:
        ops.sync_batch(batch)
    return render_template("visitors/log.html", project=project, projects=projects(),
                           period=period, events=log_events(project.id, period),
                           figures=statistics(project.id, period),
                           pending=[b for b in pending if b.status == "pending"],
                           zone=ops.project_zone(project.id), mask=gate.mask_phone)


@bp.get("/visitors/export.xlsx")
@require("visitors.read")
def export() -> ResponseReturnValue:
    project = current_project()
    period = period_from(request.args, project.id)
    name = f"visits-{project.code}-{period.start}-{period.end}.xlsx"
    return Response(export_log(project.id, period), mimetype=XLSX,
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@bp.post("/visitors/batches/<int:batch_id>/decide")
@require("visitors.manage")
def decide_batch(batch_id: int) -> ResponseReturnValue:
    batch = scoped_get(VisitBatch, batch_id)
    if batch is None:
        abort(404)
    decision = request.form.get("decision", "")
    ops.decide_batch(batch, current_user._get_current_object(),  # type: ignore[attr-defined]
                     decision, request.form.get("decline_reason"))
    flash(_("Batch approved: %(n)s passes issued.", n=batch.count) if decision == "approve"
          else _("Batch declined."), "success")
    return redirect(url_for("visitors_staff.log", project_id=batch.project_id))
