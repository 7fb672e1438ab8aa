"""Notifications in the JSON API: my notifications, unread count, mark read."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue
from flask_login import current_user

from app.accounts.permissions import require
from app.api import PAGE_QUERY, page_args
from app.api.openapi import doc
from app.extensions import db
from app.notifications import inbox
from app.notifications.models import Notification

bp = Blueprint("notifications_api", __name__, url_prefix="/api/v1")

NOTIFICATION_SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"}, "event": {"type": "string"}, "title": {"type": "string"},
        "body": {"type": "string"}, "link": {"type": ["string", "null"]},
        "urgent": {"type": "boolean"}, "project_id": {"type": ["integer", "null"]},
        "created_at": {"type": "string"}, "read_at": {"type": ["string", "null"]},
    },
}
COUNT_SCHEMA = {"type": "object", "properties": {"count": {"type": "integer"}}}


def notification_json(note: Notification) -> dict[str, Any]:
    return {"id": note.id, "event": note.event, "title": note.title, "body": note.body,
            "link": note.link, "urgent": note.urgent, "project_id": note.project_id,
            "created_at": note.created_at.isoformat(),
            "read_at": note.read_at.isoformat() if note.read_at else None}


@bp.get("/notifications")
@require("notifications.own")
@doc("My notifications, newest first", tags=("notifications",),
     query={**PAGE_QUERY, "unread": {"type": "boolean"}},
     response={"type": "object", "properties": {
         "items": {"type": "array", "items": NOTIFICATION_SCHEMA},
         "total": {"type": "integer"}, "unread": {"type": "integer"}}})
def list_notifications() -> ResponseReturnValue:
    page, per_page = page_args()
    unread_only = request.args.get("unread", "").lower() in {"1", "true", "yes"}
    pagination = db.paginate(inbox.notifications_of(current_user.id, unread_only), page=page,
                             per_page=per_page, error_out=False)
    return jsonify({"items": [notification_json(n) for n in pagination.items],
                    "total": pagination.total, "unread": inbox.unread_count(current_user.id)})


@bp.get("/notifications/unread-count")
@require("notifications.own")
@doc("How many of my notifications are unread", tags=("notifications",),
     response=COUNT_SCHEMA)
def unread_count() -> ResponseReturnValue:
    return jsonify({"count": inbox.unread_count(current_user.id)})


@bp.post("/notifications/<int:notification_id>/read")
@require("notifications.own")
@doc("Mark one of my notifications read", tags=("notifications",),
     response=NOTIFICATION_SCHEMA)
def mark_read(notification_id: int) -> ResponseReturnValue:
    note = inbox.mark_read(inbox.own_notification(notification_id, current_user.id))
    return jsonify(notification_json(note))
