"""Statistics and business-calendar administration pages."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from sqlalchemy import select

from app.accounts.permissions import require
from app.errors import FieldErrors
from app.extensions import db
from app.projects.models import Project

from . import calendar as cal
from .stats import complaint_stats, stats_workbook
from .views import ui_globals

bp = Blueprint("complaints_admin", __name__, url_prefix="/complaints")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _projects() -> list[Project]:
    return list(db.session.scalars(select(Project).order_by(Project.code)))


def _date_arg(name: str) -> date | None:
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError as exc:
        raise FieldErrors({name: "a date like 2026-11-01"}) from exc


@bp.get("/stats")
@require("complaints.stats")
def stats() -> ResponseReturnValue:
    project_id = request.args.get("project_id", type=int)
    start, end = _date_arg("from"), _date_arg("to")
    export_args = {k: v for k, v in request.args.items() if k in ("project_id", "from", "to")}
    return render_template("complaints/stats.html", stats=complaint_stats(project_id, start, end),
                           projects=_projects(), project_id=project_id, start=start, end=end,
                           export_args=export_args, **ui_globals())


@bp.get("/stats.xlsx")
@require("complaints.stats")
def export() -> ResponseReturnValue:
    project_id = request.args.get("project_id", type=int)
    start, end = _date_arg("from"), _date_arg("to")
    body = stats_workbook(complaint_stats(project_id, start, end), "EstateFlow complaints 投诉统计")
    return Response(body, mimetype=XLSX, headers={
        "Content-Disposition": "attachment; filename=complaint-statistics.xlsx"})


def _project_or_404(project_id: int) -> Project:
    project = db.session.get(Project, project_id)
    if project is None:
        abort(404)
    return project


@bp.get("/calendars")
@require("calendars.manage")
def calendars() -> ResponseReturnValue:
    return render_template("complaints/calendars.html", projects=_projects(), **ui_globals())


def _calendar_page(project: Project, errors: dict[str, str] | None = None,
                   status: int = 200) -> ResponseReturnValue:
    calendar = cal.calendar_of(project.id)
    week = calendar.week if calendar else {str(i): (cal.DEFAULT_HOURS if i < 5 else [])
                                            for i in range(7)}
    texts = {str(i): (request.form.get(str(i)) if errors else None)
             or cal.format_intervals(week.get(str(i), [])) for i in range(7)}
    return render_template("complaints/calendar.html", project=project, calendar=calendar,
                           texts=texts, weekdays=cal.WEEKDAYS, errors=errors or {},
                           makeup=cal.format_intervals(calendar.makeup_hours if calendar else []),
                           **ui_globals()), status


@bp.route("/calendars/<int:project_id>", methods=["GET", "POST"])
@require("calendars.manage")
def calendar(project_id: int) -> ResponseReturnValue:
    project = _project_or_404(project_id)
    if request.method == "GET":
        return _calendar_page(project)
    try:
        cal.set_week_hours(project.id, {str(i): request.form.get(str(i), "") for i in range(7)},
                           request.form.get("makeup", ""))
    except FieldErrors as exc:
        return _calendar_page(project, exc.fields, 422)
    flash(_("Working hours saved."), "success")
    return redirect(url_for("complaints_admin.calendar", project_id=project.id))


@bp.post("/calendars/<int:project_id>/days")
@require("calendars.manage")
def add_day(project_id: int) -> ResponseReturnValue:
    project = _project_or_404(project_id)
    try:
        day = date.fromisoformat(request.form.get("day", ""))
    except ValueError:
        return _calendar_page(project, {"day": _("Enter a date like 2026-10-01.")}, 422)
    try:
        cal.add_calendar_day(project.id, day, request.form.get("kind", ""),
                             request.form.get("name", ""))
    except FieldErrors as exc:
        return _calendar_page(project, exc.fields, 422)
    flash(_("Day saved."), "success")
    return redirect(url_for("complaints_admin.calendar", project_id=project.id))


@bp.post("/calendars/<int:project_id>/days/<int:day_id>/delete")
@require("calendars.manage")
def remove_day(project_id: int, day_id: int) -> ResponseReturnValue:
    project = _project_or_404(project_id)
    cal.remove_calendar_day(project.id, day_id)
    flash(_("Day removed."), "success")
    return redirect(url_for("complaints_admin.calendar", project_id=project.id))


@bp.post("/calendars/<int:project_id>/china-2026")
@require("calendars.manage")
def seed_2026(project_id: int) -> ResponseReturnValue:
    project = _project_or_404(project_id)
    count = cal.seed_china_2026(project.id)
    flash(_("%(count)d days of China's 2026 holiday schedule added.", count=count), "success")
    return redirect(url_for("complaints_admin.calendar", project_id=project.id))
