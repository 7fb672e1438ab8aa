"""Staff inbox pages: task lists per view with counts, and the task page with its form."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import select

from app.accounts.permissions import require
from app.clock import clock
from app.engine import runtime
from app.engine.deployments import loaded_deployment
from app.engine.diagram import render_svg
from app.engine.history import timeline
from app.engine.inbox import VIEWS, InboxFilter, inbox_counts, inbox_query
from app.engine.models import DeployedProcess, HumanTask, TaskStatus
from app.errors import DomainError, FieldErrors
from app.extensions import db
from app.inbox.formrender import parse_form, render_form
from app.pagination import paginate_rows
from app.web.context import current_language

bp = Blueprint("inbox", __name__)

PER_PAGE = 25
VIEW_LABELS = {"mine": _l("Mine"), "roles": _l("My roles"), "unassigned": _l("Unassigned"),
               "overdue": _l("Overdue")}
EVENT_LABELS = {"started": _l("started the process"), "task_created": _l("task created"),
                "claimed": _l("claimed"), "released": _l("released"),
                "reassigned": _l("reassigned"), "delegated": _l("delegated"),
                "completed": _l("completed"), "task_cancelled": _l("task cancelled"),
                "finished": _l("process finished"), "cancelled": _l("cancelled the process"),
                "suspended": _l("suspended"), "resumed": _l("resumed")}


@bp.get("/inbox")
@require("tasks.work")
def index() -> ResponseReturnValue:
    view = request.args.get("view", "mine")
    if view not in VIEWS:
        view = "mine"
    flt = InboxFilter(view=view, flow=request.args.get("flow", "").strip(),
                      q=request.args.get("q", "").strip())
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    pagination = paginate_rows(inbox_query(current_user, flt), page, PER_PAGE)
    return render_template("inbox/index.html", flt=flt, pagination=pagination,
                           counts=inbox_counts(current_user, flt), views=VIEWS,
                           view_labels=VIEW_LABELS, now=clock.now())


def _diagram(task: HumanTask) -> Markup | None:
    instance = task.instance
    loaded = loaded_deployment(instance.deployment)
    path = db.session.scalar(select(DeployedProcess.file).where(
        DeployedProcess.deployment_id == instance.deployment_id,
        DeployedProcess.process_id == instance.flow))
    bpmn = loaded.bpmn(path) if path else None
    if bpmn is None:
        return None
    rows = db.session.execute(select(HumanTask.element_id, HumanTask.status).where(
        HumanTask.instance_id == instance.id)).all()
    highlight = {e for e, s in rows if s == TaskStatus.OPEN}
    done = {e for e, s in rows if s == TaskStatus.COMPLETED} - highlight
    try:
        return Markup(render_svg(bpmn, instance.flow, highlight, done))  # noqa: S704
    except Exception:  # a diagram the renderer cannot draw must not break the task page
        return None


def _page(task: HumanTask, data: dict[str, Any] | None = None,
          errors: dict[str, str] | None = None, status: int = 200) -> ResponseReturnValue:
    schema, ui_schema = runtime.task_schema(task)
    form_html = None
    if schema is not None and task.is_open:
        form_html = render_form(schema, ui_schema, data or {}, errors or {},
                                current_language(),
                                upload_url=f"/api/v1/uploads?project_id={task.project_id}")
    return render_template(
        "inbox/task.html", task=task, instance=task.instance, form_html=form_html,
        may_work=runtime.may_work_on(task, current_user), events=timeline(task.instance_id),
        event_labels=EVENT_LABELS, diagram=_diagram(task), now=clock.now(),
    ), status


@bp.get("/tasks/<int:task_id>")
@require("tasks.work")
def task(task_id: int) -> ResponseReturnValue:
    return _page(runtime.get_task_row(task_id))


@bp.post("/tasks/<int:task_id>/claim")
@require("tasks.work")
def claim(task_id: int) -> ResponseReturnValue:
    runtime.claim_task(task_id, current_user)
    flash(_("The task is yours now."), "success")
    return redirect(url_for("inbox.task", task_id=task_id))


@bp.post("/tasks/<int:task_id>/release")
@require("tasks.work")
def release(task_id: int) -> ResponseReturnValue:
    runtime.release_task(task_id, current_user)
    flash(_("The task is back in the shared inbox."), "success")
    return redirect(url_for("inbox.task", task_id=task_id))


@bp.post("/tasks/<int:task_id>/complete")
@require("tasks.work")
def complete(task_id: int) -> ResponseReturnValue:
    task = runtime.get_task_row(task_id)
    schema, _ui = runtime.task_schema(task)
    data = parse_form(schema or {}, request.form)
    try:
        runtime.complete_task(task_id, data, current_user)
    except FieldErrors as exc:  # nothing changed; the request rolls back (status 422)
        return _page(runtime.get_task_row(task_id), data, exc.fields, 422)
    except DomainError as exc:
        if exc.status != 409:
            raise
        flash(exc.message, "error")
        return _page(runtime.get_task_row(task_id), data, None, 409)
    flash(_("Task completed."), "success")
    return redirect(url_for("inbox.index"))
