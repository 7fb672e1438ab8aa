"""Visitor passes, the requests and batches they come from, and what happened at the gate.

A pass is the one thing the gate checks; invitations create one at once, an approved request
creates one, an approved batch creates many. Personal data (name, phone, plate) sits on the
pass and the request only, so the retention sweep has two tables to wipe.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.clock import utcnow
from app.engine.models import HumanTask
from app.extensions import db
from app.projects.models import Unit
from app.scoping import ProjectScoped
from app.sqltypes import UTCDateTime

PASS_KINDS = ("invitation", "request", "batch")
PURPOSES = ("visit", "business", "delivery", "interview", "service", "other")
REQUEST_STATUSES = ("pending", "approved", "declined", "expired", "withdrawn")
GATE_KINDS = ("entry", "exit", "refused")


class VisitorPass(ProjectScoped, db.Model):  # type: ignore[name-defined]
    """A signed pass: valid in its window, for one entry (or several if ``max_entries`` is
    None), until its host revokes it."""

    __tablename__ = "visitor_pass"
    __table_args__ = (
        Index("ix_visitor_pass_code", "code", unique=True),
        Index("ix_visitor_pass_host", "host_user_id", "valid_until"),
        Index("ix_visitor_pass_project_from", "project_id", "valid_from"),
        Index("ix_visitor_pass_valid_until", "valid_until"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16), default="invitation")
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), index=True)
    host_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    request_id: Mapped[int | None] = mapped_column(ForeignKey("visit_request.id"), index=True)
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("visit_batch.id"), index=True)
    visitor_name: Mapped[str] = mapped_column(String(100))
    visitor_phone: Mapped[str | None] = mapped_column(String(20))  # E.164
    plate: Mapped[str | None] = mapped_column(String(16))
    party_size: Mapped[int] = mapped_column(Integer, default=1)
    purpose: Mapped[str] = mapped_column(String(16), default="visit")
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime)
    valid_until: Mapped[datetime] = mapped_column(UTCDateTime)
    #: None: any number of entries inside the window.
    max_entries: Mapped[int | None] = mapped_column(Integer)
    entries_used: Mapped[int] = mapped_column(Integer, default=0)
    #: The signing key the token was made with (rotation: old keys keep verifying).
    key_id: Mapped[str] = mapped_column(String(32))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    unit: Mapped[Unit] = relationship()

    @property
    def multi_entry(self) -> bool:
        return self.max_entries is None or self.max_entries > 1

    def status(self, now: datetime) -> str:
        """active | used | revoked | expired | upcoming, for lists."""
        if self.revoked_at is not None:
            return "revoked"
        if self.max_entries is not None and self.entries_used >= self.max_entries:
            return "used"
        if now > self.valid_until or self.purged_at is not None:
            return "expired"
        if now < self.valid_from:
            return "upcoming"
        return "active"

    def __repr__(self) -> str:
        return f"<VisitorPass {self.code}>"


class VisitRequest(ProjectScoped, db.Model):  # type: ignore[name-defined]
    """A visitor without an account asked the unit's host for a pass (process ``visitor``)."""

    __tablename__ = "visit_request"
    __table_args__ = (
        Index("ix_visit_request_number", "number", unique=True),
        Index("ix_visit_request_status_token", "status_token", unique=True),
        Index("ix_visit_request_project_created", "project_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32))
    #: The visitor's secret link to follow the request (and see the pass once approved).
    status_token: Mapped[str] = mapped_column(String(48))
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), index=True)
    visitor_name: Mapped[str] = mapped_column(String(100))
    visitor_phone: Mapped[str | None] = mapped_column(String(20))
    plate: Mapped[str | None] = mapped_column(String(16))
    party_size: Mapped[int] = mapped_column(Integer, default=1)
    purpose: Mapped[str] = mapped_column(String(16), default="visit")
    note: Mapped[str | None] = mapped_column(String(300))
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime)
    valid_until: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"))
    task_row_id: Mapped[int | None] = mapped_column(ForeignKey("human_task.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    decline_reason: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    unit: Mapped[Unit] = relationship()
    task: Mapped[HumanTask | None] = relationship()
    passes: Mapped[list[VisitorPass]] = relationship(
        primaryjoin="VisitorPass.request_id == VisitRequest.id", viewonly=True)


class VisitBatch(ProjectScoped, db.Model):  # type: ignore[name-defined]
    """A business tenant's group visit: N passes once a supervisor approves
    (process ``visitor_batch``)."""

    __tablename__ = "visit_batch"
    __table_args__ = (Index("ix_visit_batch_number", "number", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32))
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), index=True)
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    company: Mapped[str] = mapped_column(String(200))
    count: Mapped[int] = mapped_column(Integer)
    purpose: Mapped[str] = mapped_column(String(16), default="business")
    note: Mapped[str | None] = mapped_column(String(300))
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime)
    valid_until: Mapped[datetime] = mapped_column(UTCDateTime)
    multi_entry: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"))
    task_row_id: Mapped[int | None] = mapped_column(ForeignKey("human_task.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    decline_reason: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    unit: Mapped[Unit] = relationship()
    task: Mapped[HumanTask | None] = relationship()
    passes: Mapped[list[VisitorPass]] = relationship(
        primaryjoin="VisitorPass.batch_id == VisitBatch.id", viewonly=True,
        order_by="VisitorPass.id")


class GateEvent(ProjectScoped, db.Model):  # type: ignore[name-defined]
    """An entry, an exit or a refusal at the gate (append-only; the visit log)."""

    __tablename__ = "visitor_gate_event"
    __table_args__ = (
        Index("ix_visitor_gate_event_project_at", "project_id", "at"),
        Index("ix_visitor_gate_event_pass", "pass_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    pass_id: Mapped[int | None] = mapped_column(ForeignKey("visitor_pass.id"))
    kind: Mapped[str] = mapped_column(String(16))
    #: Why a pass was refused (app.visitors.gate.REASONS); "ok" for entries and exits.
    reason: Mapped[str] = mapped_column(String(32), default="ok")
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    guard_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    gate: Mapped[str | None] = mapped_column(String(64))

    visitor_pass: Mapped[VisitorPass | None] = relationship()
