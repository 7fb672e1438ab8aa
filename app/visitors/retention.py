"""Retention of visitor data (PIPL): names, phones, plates and notes are wiped
``VISITOR_RETENTION_DAYS`` (default 180) after a visit's window ended.

Rows stay, so the visit log and its figures (per day, unit, purpose) keep working.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select

from app.extensions import db
from app.visitors.models import VisitorPass, VisitRequest

DEFAULT_RETENTION_DAYS = 180
WIPED_NAME = "—"


def retention_days() -> int:
    return int(current_app.config.get("VISITOR_RETENTION_DAYS", DEFAULT_RETENTION_DAYS))


def purge_expired_visitors(now: datetime, days: int | None = None) -> dict[str, int]:
    """Wipe the personal data of passes and requests whose window ended before the
    retention period; returns how many of each were wiped. Flushes only."""
    cutoff = now - timedelta(days=retention_days() if days is None else days)
    unscoped = {"all_projects": True}
    wiped = {"passes": 0, "requests": 0}
    for visitor_pass in db.session.scalars(
            select(VisitorPass).where(VisitorPass.valid_until < cutoff,
                                      VisitorPass.purged_at.is_(None))
            .execution_options(**unscoped)):
        visitor_pass.visitor_name = WIPED_NAME
        visitor_pass.visitor_phone = visitor_pass.plate = None
        visitor_pass.purged_at = now
        wiped["passes"] += 1
    for request in db.session.scalars(
            select(VisitRequest).where(VisitRequest.valid_until < cutoff,
                                       VisitRequest.purged_at.is_(None))
            .execution_options(**unscoped)):
        request.visitor_name = WIPED_NAME
        request.visitor_phone = request.plate = request.note = request.decline_reason = None
        request.purged_at = now
        wiped["requests"] += 1
    db.session.flush()
    return wiped
