"""Staff pages: every ticket with its figures, registering a phoned-in repair, dispatching and
reassigning. Escalations and revisits are worked on in the inbox (generic task page)."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user

from app.accounts.models import User
from app.accounts.permissions import require
from app.clock import clock
from app.errors import FieldErrors
from app.extensions import db
from app.inbox.formrender import parse_form, render_form
from app.repairs import operations as ops
from app.repairs import present, queries
from app.repairs.blueprint import act, bp, file_store, project_id_of_user, visible_ticket
from app.repairs.models import Ticket
from app.repairs.people import owner_units, owners_of_project, technicians_of_project
from app.web.context import current_language


def staff_context(ticket: Ticket) -> dict[str, Any]:
    """Technicians to dispatch or reassign to: the ticket's team first."""
    technicians = technicians_of_project(ticket.project_id)
    team = set(ops.team_members(ticket.project_id).get(ticket.team or "", []))
    technicians.sort(key=lambda u: (u.id not in team, u.display_name))
    return {"technicians": technicians, "team_ids": team,
            "users": {u.id: u for u in technicians}}


@bp.get("/tickets")
@require("repairs.read")
def tickets() -> ResponseReturnValue:
    flt = queries.TicketFilter(status=request.args.get("status", "open"),
                               flag=request.args.get("flag", ""),
                               q=request.args.get("q", ""))
    return render_template("repairs/tickets.html", tickets=queries.staff_tickets(flt),
                           flt=flt, stats=queries.statistics(), now=clock.now(),
                           status_label=present.status_label, schema=ops.intake_schema(),
                           option=present.option_text, locale=current_language(),
                           statuses=present.STATUS_LABELS)


def _register_page(project_id: int, data: dict[str, Any], errors: dict[str, str],
                   requester_id: int | None, status: int = 200) -> ResponseReturnValue:
    schema = ops.intake_schema()
    form_html = render_form(schema, {"description": {"ui:widget": "textarea"}}, data, errors,
                            current_language(),
                            upload_url=f"/api/v1/uploads?project_id={project_id}")
    owners = owners_of_project(project_id)
    units = {o.id: owner_units(o.id, project_id) for o in owners}
    return render_template("repairs/register.html", form_html=form_html, owners=owners,
                           units=units, requester_id=requester_id, project_id=project_id,
                           errors=errors), status


@bp.get("/register")
@require("repairs.register")
def register() -> ResponseReturnValue:
    return _register_page(project_id_of_user(), {"urgency": "normal", "area": "unit"}, {},
                          request.args.get("requester_id", type=int))


@bp.post("/register")
@require("repairs.register")
def register_post() -> ResponseReturnValue:
    project_id = project_id_of_user()
    data = parse_form(ops.intake_schema(), request.form, files=request.files,
                      store=file_store(project_id))
    requester_id = request.form.get("requester_id", type=int)
    if request.form.get("unit_id"):
        data["unit_id"] = request.form.get("unit_id", type=int)
    requester = db.session.get(User, requester_id) if requester_id else None
    try:
        if requester is None:
            raise FieldErrors({"requester_id": "choose the owner who called"})
        ticket = ops.submit_repair(project_id, requester, data, registered_by=current_user,
                                   channel="phone")
    except FieldErrors as exc:
        db.session.rollback()
        return _register_page(project_id, data, exc.fields, requester_id, 422)
    flash(_("Repair %(number)s registered for the owner.", number=ticket.number), "success")
    return redirect(url_for("repairs.show", ticket_id=ticket.id)), 303


@bp.post("/<int:ticket_id>/dispatch")
@require("repairs.dispatch")
def dispatch(ticket_id: int) -> ResponseReturnValue:
    ticket = visible_ticket(ticket_id)
    return act(ticket, lambda: ops.dispatch_job(ticket, current_user,
                                                request.form.get("technician_id"),
                                                request.form.get("dispatch_note", "")),
               _("Dispatched. The technician has been told."))


@bp.post("/<int:ticket_id>/reassign")
@require("repairs.dispatch")
def reassign(ticket_id: int) -> ResponseReturnValue:
    ticket = visible_ticket(ticket_id)
    if not request.form.get("technician_id"):
        abort(400)
    return act(ticket, lambda: ops.reassign_job(ticket, current_user,
                                                request.form.get("technician_id")),
               _("Reassigned."))
