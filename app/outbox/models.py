"""The outbox table: one row per side effect (an SMS, an e-mail, later a door-access command)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.clock import utcnow
from app.extensions import db
from app.sqltypes import UTCDateTime

QUEUED = "queued"
SENDING = "sending"
SENT = "sent"
FAILED = "failed"
HELD = "held"
STATUSES = (QUEUED, SENDING, SENT, FAILED, HELD)
#: Rows the dispatcher picks up once ``next_attempt_at`` has passed (``sending``: lease expired).
DUE_STATUSES = (QUEUED, HELD, SENDING)


class OutboxMessage(db.Model):  # type: ignore[name-defined]
    """A side effect waiting for, or done by, the dispatcher.

    Not :class:`app.scoping.ProjectScoped`: account messages belong to no project, and the
    dispatcher and provider callbacks run without a user. Admin views filter by scope.
    """

    __tablename__ = "outbox_message"
    __table_args__ = (Index("ix_outbox_message_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), index=True)
    idempotency_key: Mapped[str] = mapped_column(String(255), unique=True)
    event: Mapped[str | None] = mapped_column(String(100))
    project_id: Mapped[int | None] = mapped_column(ForeignKey("project.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), index=True)
    recipient: Mapped[str | None] = mapped_column(String(255), index=True)
    subject: Mapped[str | None] = mapped_column(String(255))
    body: Mapped[str | None] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    urgent: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(String(16), default=QUEUED)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: When the current/last attempt was claimed: the fencing token and the start of the window
    #: in which a provider lookup searches for a message this row may already have produced.
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: The last attempt may have reached the provider (timeout, 5xx, crash): check before resending.
    outcome_unknown: Mapped[bool] = mapped_column(default=False)
    last_error: Mapped[str | None] = mapped_column(Text)
    provider_id: Mapped[str | None] = mapped_column(String(64), index=True)
    provider_status: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def __repr__(self) -> str:
        return f"<OutboxMessage {self.id} {self.kind} {self.status}>"
