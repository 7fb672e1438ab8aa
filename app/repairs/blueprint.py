"""The repairs blueprint and what its page modules share."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from werkzeug.datastructures import FileStorage

from app.accounts.roles import STAFF_ROLES
from app.errors import DomainError, FieldErrors
from app.extensions import db
from app.repairs.models import Ticket
from app.uploads.operations import store_upload
from app.uploads.refs import upload_ref

bp = Blueprint("repairs", __name__, url_prefix="/repairs")


def is_staff(user: Any) -> bool:
    return bool(user.roles & STAFF_ROLES)


def visible_ticket(ticket_id: int) -> Ticket:
    """A ticket the signed-in user may see: residents only their own (404 otherwise)."""
    ticket = db.session.get(Ticket, ticket_id)
    if ticket is None or (not is_staff(current_user) and ticket.requester_id != current_user.id):
        abort(404)
    return ticket


def file_store(project_id: int) -> Callable[[str, FileStorage], str]:
    """parse_form's ``store``: files sent without JavaScript become uploads."""
    def store(path: str, file: FileStorage) -> str:
        return upload_ref(store_upload(file, project_id, current_user, field=path).id)
    return store


def act(ticket: Ticket, action: Callable[[], object], done: str) -> ResponseReturnValue:
    """Run one operation; on a refusal roll back and show why on the ticket page."""
    try:
        action()
    except DomainError as exc:
        db.session.rollback()
        message = exc.message
        if isinstance(exc, FieldErrors):
            message = "; ".join(f"{k}: {v}" for k, v in exc.fields.items())
        flash(message, "error")
        return redirect(url_for("repairs.show", ticket_id=ticket.id)), 303
    flash(done, "success")
    return redirect(url_for("repairs.show", ticket_id=ticket.id)), 303


def project_id_of_user() -> int:
    ids = sorted(current_user.project_ids)
    if not ids:
        abort(403)
    wanted = request.values.get("project_id", type=int)
    return wanted if wanted is not None and wanted in ids else ids[0]


