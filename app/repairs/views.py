"""Repair pages for residents (phone-first): report a repair, follow it, urge, cancel, confirm
the fee, rate. The ticket page serves every role; technicians' and staff's actions live in
:mod:`app.repairs.tech_views` and :mod:`app.repairs.staff_views`."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user

from app.accounts.permissions import can, require
from app.clock import clock
from app.errors import FieldErrors
from app.extensions import db
from app.inbox.formrender import parse_form, render_form
from app.repairs import operations as ops
from app.repairs import present, queries
from app.repairs.blueprint import act, bp, file_store, is_staff, project_id_of_user, visible_ticket
from app.repairs.people import owner_units
from app.repairs.staff_views import staff_context
from app.repairs.tech_views import job_context
from app.web.context import current_language

__all__ = ["bp"]


# --- residents ----------------------------------------------------------------------------------


@bp.get("/")
@require("repairs.submit")
def mine() -> ResponseReturnValue:
    return render_template("repairs/mine.html", tickets=queries.my_tickets(current_user),
                           status_label=present.status_label)


def _intake_page(project_id: int, data: dict[str, Any], errors: dict[str, str],
                 status: int = 200) -> ResponseReturnValue:
    schema = ops.intake_schema()
    form_html = render_form(schema, {"description": {"ui:widget": "textarea"},
                                     "ui:order": ["category", "area", "unit_id", "location",
                                                  "description", "photos", "urgency", "*"]},
                            data, errors, current_language(),
                            upload_url=f"/api/v1/uploads?project_id={project_id}")
    return render_template("repairs/new.html", form_html=form_html, project_id=project_id,
                           units=owner_units(current_user.id, project_id),
                           unit_id=data.get("unit_id"), errors=errors), status


@bp.get("/new")
@require("repairs.submit")
def new() -> ResponseReturnValue:
    return _intake_page(project_id_of_user(), {"urgency": "normal", "area": "unit"}, {})


@bp.post("/new")
@require("repairs.submit")
def create() -> ResponseReturnValue:
    project_id = project_id_of_user()
    schema = ops.intake_schema()
    data = parse_form(schema, request.form, files=request.files, store=file_store(project_id))
    if request.form.get("unit_id"):
        data["unit_id"] = request.form.get("unit_id", type=int)
    try:
        ticket = ops.submit_repair(project_id, current_user, data)
    except FieldErrors as exc:
        db.session.rollback()
        return _intake_page(project_id, data, exc.fields, 422)
    flash(_("Your repair %(number)s is registered.", number=ticket.number), "success")
    return redirect(url_for("repairs.show", ticket_id=ticket.id)), 303


@bp.get("/<int:ticket_id>")
def show(ticket_id: int) -> ResponseReturnValue:
    if not current_user.is_authenticated:
        abort(401)
    ticket = visible_ticket(ticket_id)
    staff = is_staff(current_user)
    context: dict[str, Any] = {
        "t": ticket, "status_label": present.status_label, "money": present.money,
        "entries": present.ticket_timeline(ticket, staff=staff), "now": clock.now(),
        "steps": {task.element_id: task for task in ops.open_tasks(ticket)},
        "schema": ops.intake_schema(), "option": present.option_text,
        "locale": current_language(), "can": can, "urge_interval": ops.URGE_INTERVAL,
    }
    if ticket.requester_id == current_user.id and not staff:
        return render_template("repairs/ticket_owner.html", **context)
    if can("repairs.work") and not (can("repairs.dispatch") or can("repairs.register")):
        return render_template("repairs/job.html", **context, **job_context(ticket))
    return render_template("repairs/ticket_staff.html", **context, **staff_context(ticket))


@bp.post("/<int:ticket_id>/urge")
@require("repairs.submit")
def urge(ticket_id: int) -> ResponseReturnValue:
    ticket = visible_ticket(ticket_id)
    return act(ticket, lambda: ops.urge_repair(ticket, current_user),
               _("The technician and the supervisor have been reminded."))


@bp.post("/<int:ticket_id>/cancel")
def cancel(ticket_id: int) -> ResponseReturnValue:
    if not (can("repairs.submit") or can("repairs.register")):
        abort(403)
    ticket = visible_ticket(ticket_id)
    return act(ticket, lambda: ops.cancel_repair(ticket, current_user,
                                                 request.form.get("reason", "")),
               _("The repair is cancelled."))


@bp.post("/<int:ticket_id>/fee")
@require("repairs.submit")
def fee(ticket_id: int) -> ResponseReturnValue:
    ticket = visible_ticket(ticket_id)
    approve = request.form.get("fee_decision") == "approve"
    return act(ticket, lambda: ops.confirm_fee(ticket, current_user, approve,
                                               request.form.get("fee_comment", "")),
               _("Thank you, your answer was sent."))


@bp.post("/<int:ticket_id>/rate")
@require("repairs.submit")
def rate(ticket_id: int) -> ResponseReturnValue:
    ticket = visible_ticket(ticket_id)
    rating = request.form.get("rating", type=int)
    return act(ticket, lambda: ops.rate_repair(ticket, current_user, rating,
                                               request.form.get("rating_comment", "")),
               _("Thank you for your rating."))
