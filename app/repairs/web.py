"""The blueprints of repairs, registered by :func:`app.create_app`, and the rule that lets an
owner see the photos of their own repair (the technician's before/after photos included)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app.extensions import db
from app.repairs import api, staff_views, tech_views, views
from app.repairs.models import Ticket
from app.uploads.models import Upload
from app.uploads.operations import register_access_check

__all__ = ["BLUEPRINTS", "staff_views", "tech_views"]

BLUEPRINTS = (views.bp, api.bp)


@register_access_check
def requester_sees_ticket_uploads(upload: Upload, user: Any) -> bool:
    if upload.instance_id is None:
        return False
    return db.session.scalar(
        select(Ticket.id).where(Ticket.instance_id == upload.instance_id,
                                Ticket.requester_id == user.id)
        .execution_options(all_projects=True)) is not None
