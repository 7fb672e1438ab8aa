"""Technicians' pages, made for one hand on a phone: my jobs and the pool, then one job page
with one big button for the next step (grab/accept, check in, finish)."""

from __future__ import annotations

from typing import Any

from flask import render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup

from app.accounts.permissions import require
from app.clock import clock
from app.engine import runtime
from app.inbox.formrender import parse_form, render_form
from app.repairs import operations as ops
from app.repairs import present, queries
from app.repairs.blueprint import act, bp, file_store, visible_ticket
from app.repairs.models import Ticket
from app.web.context import current_language

#: Technician steps whose form is shown on the job page, and the route that completes them.
FORM_STEPS = {"Check_in": "repairs.check_in", "Record_work": "repairs.finish"}


def _form(ticket: Ticket, element_id: str, data: dict[str, Any] | None = None,
          errors: dict[str, str] | None = None) -> Markup | None:
    task = ops.open_task(ticket, element_id)
    if task is None or not runtime.may_work_on(task, current_user):
        return None
    schema, ui_schema = runtime.task_schema(task)
    if schema is None:
        return None
    return render_form(schema, ui_schema, data or {}, errors or {}, current_language(),
                       upload_url=f"/api/v1/uploads?project_id={ticket.project_id}")


def job_context(ticket: Ticket) -> dict[str, Any]:
    """What the job page needs beyond the ticket: the form of the current step, if mine."""
    forms = {step: _form(ticket, step) for step in FORM_STEPS}
    return {"forms": {k: v for k, v in forms.items() if v is not None},
            "form_routes": FORM_STEPS}


@bp.get("/jobs")
@require("repairs.work")
def jobs() -> ResponseReturnValue:
    return render_template("repairs/jobs.html", mine=queries.my_jobs(current_user),
                           pool=queries.pool_jobs(current_user), now=clock.now(),
                           status_label=present.status_label, schema=ops.intake_schema(),
                           option=present.option_text, locale=current_language())


@bp.post("/<int:ticket_id>/accept")
@require("repairs.work")
def accept(ticket_id: int) -> ResponseReturnValue:
    ticket = visible_ticket(ticket_id)
    return act(ticket, lambda: ops.accept_job(ticket, current_user),
               _("The job is yours: the owner has been told."))


@bp.post("/<int:ticket_id>/return")
@require("repairs.work")
def return_(ticket_id: int) -> ResponseReturnValue:
    ticket = visible_ticket(ticket_id)
    return act(ticket, lambda: ops.return_job(ticket, current_user,
                                              request.form.get("return_reason", "")),
               _("The job went back to dispatch."))


def _step_form(ticket: Ticket, element_id: str) -> dict[str, Any]:
    task = ops.open_task(ticket, element_id)
    schema = runtime.task_schema(task)[0] if task is not None else None
    return parse_form(schema or {}, request.form, files=request.files,
                      store=file_store(ticket.project_id))


@bp.post("/<int:ticket_id>/check-in")
@require("repairs.work")
def check_in(ticket_id: int) -> ResponseReturnValue:
    ticket = visible_ticket(ticket_id)
    data = _step_form(ticket, "Check_in")
    return act(ticket, lambda: ops.check_in(ticket, current_user, data),
               _("Checked in. The owner has been told."))


@bp.post("/<int:ticket_id>/finish")
@require("repairs.work")
def finish(ticket_id: int) -> ResponseReturnValue:
    ticket = visible_ticket(ticket_id)
    data = _step_form(ticket, "Record_work")
    return act(ticket, lambda: ops.record_work(ticket, current_user, data),
               _("Job done. The owner will confirm and rate it."))
