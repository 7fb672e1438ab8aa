"""Twilio delivery-status callbacks: signed by Twilio, applied to the outbox row."""

from __future__ import annotations

from sqlalchemy import select

from app.clock import clock
from app.extensions import db
from app.outbox.models import FAILED, QUEUED, SENDING, SENT, OutboxMessage
from app.outbox.operations import find_by_key

#: Twilio's message states in the order they happen; callbacks may arrive out of order.
PROGRESS = {"accepted": 0, "queued": 0, "scheduled": 0, "sending": 1, "sent": 2,
            "delivered": 3, "read": 4, "undelivered": 3, "failed": 3, "canceled": 3}
TWILIO_FAILED = frozenset({"undelivered", "failed", "canceled"})


def apply_twilio_status(sid: str, status: str, key: str | None,
                        error_code: str | None = None) -> OutboxMessage | None:
    """Record a delivery status; a key whose row lost its SID (a crash) adopts the SID."""
    row = db.session.scalar(select(OutboxMessage).where(OutboxMessage.provider_id == sid))
    if row is None and key:
        candidate = find_by_key(key)
        if candidate is not None and candidate.kind == "sms" and candidate.provider_id is None:
            row = candidate
            row.provider_id = sid
            if row.status in (QUEUED, SENDING, FAILED):
                row.status, row.sent_at, row.outcome_unknown = SENT, clock.now(), False
                row.last_error = None
    if row is None:
        return None
    status = status.strip().lower()
    if PROGRESS.get(status, 0) >= PROGRESS.get(row.provider_status or "", 0):
        row.provider_status = status
        if status in TWILIO_FAILED:
            row.status = FAILED
            row.last_error = f"Twilio reports the message {status}" + (
                f" (error {error_code})" if error_code else "")
    db.session.flush()
    return row
