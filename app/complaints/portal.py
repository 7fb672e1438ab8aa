"""The complainant's pages: lodge a complaint, follow it, answer questions, accept or dispute."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import select

from app.accounts.permissions import require
from app.engine import runtime
from app.engine.models import HumanTask
from app.errors import DomainError, FieldErrors
from app.extensions import db
from app.inbox.formrender import parse_form, render_form
from app.projects.models import Building, Unit
from app.web.context import current_language

from . import operations as ops
from .models import Complaint
from .views import ui_globals

bp = Blueprint("complaints_portal", __name__, url_prefix="/my/complaints")


def _project_id() -> int:
    ids = sorted(current_user.project_ids)
    if not ids:
        abort(404)
    return int(ids[0])


@bp.get("/")
@require("portal.use")
def index() -> ResponseReturnValue:
    rows = db.session.scalars(select(Complaint).where(Complaint.complainant_id == current_user.id)
                              .order_by(Complaint.created_at.desc()).limit(100))
    return render_template("complaints/portal_index.html", complaints=list(rows), **ui_globals())


def _new_page(data: dict[str, Any], errors: dict[str, str], unit_id: int | None = None,
              status: int = 200) -> ResponseReturnValue:
    units = list(db.session.execute(
        select(Unit, Building).join(Building, Unit.building_id == Building.id)
        .where(Unit.project_id == _project_id()).order_by(Building.name, Unit.number)).tuples())
    form_html = render_form(ops.intake_schema(), None, data, errors, current_language())
    return render_template("complaints/portal_new.html", form_html=form_html, units=units,
                           unit_id=unit_id, errors=errors, **ui_globals()), status


@bp.route("/new", methods=["GET", "POST"])
@require("portal.use")
def new() -> ResponseReturnValue:
    if request.method == "GET":
        return _new_page({}, {})
    data = parse_form(ops.intake_schema(), request.form)
    unit_id = request.form.get("unit_id", type=int)
    try:
        complaint = ops.create_complaint(_project_id(), data, channel="portal",
                                         complainant=current_user, unit_id=unit_id)
    except FieldErrors as exc:
        return _new_page(data, exc.fields, unit_id, 422)
    flash(_("Complaint %(number)s received.", number=complaint.number), "success")
    if complaint.anonymous:
        return redirect(url_for("complaints_portal.index"))
    return redirect(url_for("complaints_portal.show", complaint_id=complaint.id))


def _show(complaint: Complaint, data: dict[int, dict[str, Any]] | None = None,
          errors: dict[int, dict[str, str]] | None = None, status: int = 200
          ) -> ResponseReturnValue:
    forms: list[tuple[HumanTask, Markup]] = []
    for task in ops.complainant_tasks(complaint, current_user):
        schema, ui = runtime.task_schema(task)
        if schema is not None:
            forms.append((task, render_form(schema, ui, (data or {}).get(task.id, {}),
                                            (errors or {}).get(task.id, {}),
                                            current_language())))
    return render_template("complaints/portal_show.html", c=complaint, forms=forms,
                           events=[e for e in complaint.events if e.public],
                           **ui_globals()), status


@bp.get("/<int:complaint_id>")
@require("portal.use")
def show(complaint_id: int) -> ResponseReturnValue:
    return _show(ops.own_complaint(complaint_id, current_user))


@bp.post("/<int:complaint_id>/tasks/<int:task_id>")
@require("portal.use")
def complete(complaint_id: int, task_id: int) -> ResponseReturnValue:
    complaint = ops.own_complaint(complaint_id, current_user)
    task = db.session.get(HumanTask, task_id)
    if task is None or task.instance_id != complaint.instance_id:
        abort(404)
    schema, _ui = runtime.task_schema(task)
    data = parse_form(schema or {}, request.form)
    try:
        ops.complete_complainant_task(complaint, task_id, data, current_user)
    except FieldErrors as exc:
        return _show(complaint, {task_id: data}, {task_id: exc.fields}, 422)
    except DomainError as exc:
        flash(exc.message, "error")
        return redirect(url_for("complaints_portal.show", complaint_id=complaint_id)), 303
    flash(_("Thank you, your answer was sent."), "success")
    return redirect(url_for("complaints_portal.show", complaint_id=complaint_id))
