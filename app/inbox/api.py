"""Human tasks in the JSON API: inbox views, one task with its form, and task actions."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue
from flask_login import current_user

from app.accounts.permissions import require
from app.api import PAGE_QUERY, json_body, page_args
from app.api.openapi import doc
from app.clock import clock
from app.engine import runtime
from app.engine.inbox import VIEWS, InboxFilter, inbox_counts, inbox_query
from app.engine.models import HumanTask
from app.pagination import paginate_rows

bp = Blueprint("tasks_api", __name__, url_prefix="/api/v1/tasks")

TASK_PROPERTIES: dict[str, Any] = {
    "id": {"type": "integer"}, "instance_id": {"type": "integer"}, "flow": {"type": "string"},
    "business_key": {"type": ["string", "null"]}, "element_id": {"type": "string"},
    "title": {"type": "string"}, "role": {"type": ["string", "null"]},
    "assignee_id": {"type": ["integer", "null"]}, "status": {"type": "string"},
    "due_at": {"type": ["string", "null"]}, "overdue": {"type": "boolean"},
    "created_at": {"type": "string"}, "project_id": {"type": "integer"}}
TASK: dict[str, Any] = {"type": "object", "properties": TASK_PROPERTIES}
TASK_DETAIL = {"type": "object", "properties": {
    **TASK_PROPERTIES, "schema": {"type": ["object", "null"]},
    "ui_schema": {"type": ["object", "null"]}, "documentation": {"type": ["string", "null"]}}}
TO_USER = {"type": "object", "required": ["user_id"], "additionalProperties": False,
           "properties": {"user_id": {"type": "integer"}}}
COMPLETE = {"type": "object", "required": ["data"], "additionalProperties": False,
            "properties": {"data": {"type": "object"}}}


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def task_json(t: HumanTask, assignee: str | None = None) -> dict[str, Any]:
    body = {"id": t.id, "instance_id": t.instance_id, "project_id": t.project_id,
            "flow": t.flow, "business_key": t.business_key, "element_id": t.element_id,
            "title": t.title, "role": t.role, "assignee_id": t.assignee_id, "status": t.status,
            "due_at": _iso(t.due_at), "overdue": t.overdue(clock.now()),
            "created_at": _iso(t.created_at)}
    if assignee is not None:
        body["assignee"] = assignee
    return body


@bp.get("")
@require("tasks.work")
@doc("An inbox view: mine, roles (my roles), unassigned or overdue; flow and business-key "
     "filters", tags=("tasks",),
     query={**PAGE_QUERY, "view": {"type": "string", "enum": list(VIEWS)},
            "flow": {"type": "string"}, "q": {"type": "string"}},
     response={"type": "object", "properties": {
         "items": {"type": "array", "items": TASK}, "total": {"type": "integer"},
         "page": {"type": "integer"}, "pages": {"type": "integer"},
         "counts": {"type": "object"}}})
def list_tasks() -> ResponseReturnValue:
    page, per_page = page_args()
    flt = InboxFilter(view=request.args.get("view", "mine"), flow=request.args.get("flow", ""),
                      q=request.args.get("q", ""))
    result = paginate_rows(inbox_query(current_user, flt), page, per_page)
    return jsonify({"items": [task_json(t, name) for t, name in result.items],
                    "total": result.total, "page": result.page, "pages": result.pages,
                    "counts": inbox_counts(current_user, flt)})


@bp.get("/<int:task_id>")
@require("tasks.work")
@doc("One task with its form's JSON Schema and UI schema", tags=("tasks",),
     response=TASK_DETAIL)
def get_task(task_id: int) -> ResponseReturnValue:
    task = runtime.get_task_row(task_id)
    schema, ui_schema = runtime.task_schema(task)
    return jsonify({**task_json(task), "schema": schema, "ui_schema": ui_schema,
                    "documentation": task.documentation})


@bp.post("/<int:task_id>/claim")
@require("tasks.work")
@doc("Claim a task", tags=("tasks",), response=TASK)
def claim(task_id: int) -> ResponseReturnValue:
    return jsonify(task_json(runtime.claim_task(task_id, current_user)))


@bp.post("/<int:task_id>/release")
@require("tasks.work")
@doc("Release a claimed task", tags=("tasks",), response=TASK)
def release(task_id: int) -> ResponseReturnValue:
    return jsonify(task_json(runtime.release_task(task_id, current_user)))


@bp.post("/<int:task_id>/reassign")
@require("tasks.reassign")
@doc("Give a task to another user", tags=("tasks",), request=TO_USER, response=TASK)
def reassign(task_id: int) -> ResponseReturnValue:
    body = json_body(TO_USER)
    return jsonify(task_json(runtime.reassign_task(task_id, body["user_id"], current_user)))


@bp.post("/<int:task_id>/delegate")
@require("tasks.work")
@doc("Hand a claimed task to a colleague", tags=("tasks",), request=TO_USER, response=TASK)
def delegate(task_id: int) -> ResponseReturnValue:
    body = json_body(TO_USER)
    return jsonify(task_json(runtime.delegate_task(task_id, body["user_id"], current_user)))


@bp.post("/<int:task_id>/complete")
@require("tasks.work")
@doc("Complete a task with its form data (422 naming each invalid field; 409 if someone "
     "else completed it first); next_tasks lists the instance's open tasks I may do next",
     tags=("tasks",), request=COMPLETE,
     response={**TASK, "properties": {**TASK["properties"],
                                      "next_tasks": {"type": "array", "items": TASK}}})
def complete(task_id: int) -> ResponseReturnValue:
    body = json_body(COMPLETE)
    task, open_rows = runtime.complete_task_and_next(task_id, body["data"], current_user)
    following = [t for t in open_rows if runtime.may_work_on(t, current_user)]
    return jsonify({**task_json(task), "next_tasks": [task_json(t) for t in following]})
