"""Complaints, their event log and the per-project business calendars their time limits use.

The :class:`Complaint` row mirrors what lists and statistics need (status, department, due
instants, escalation level, …) so that no page deserializes a workflow; the flow keeps it up
to date through the ``complaint_update`` service operator (:mod:`app.complaints.engine_hooks`).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.audit.recorder import Audited
from app.clock import utcnow
from app.extensions import db
from app.projects.models import Building, Unit
from app.scoping import ProjectScoped
from app.sqltypes import UTCDateTime

CHANNELS = ("portal", "phone", "front_desk")
SEVERITIES = ("low", "normal", "high", "urgent")
STATUSES = (
    "triage", "rejected", "handling", "waiting_complainant", "extension_requested",
    "feedback", "reopened", "pm_review", "closed", "revisited", "cancelled",
)
#: Statuses in which the complaint is finished for the complainant.
CLOSED_STATUSES = frozenset({"rejected", "closed", "revisited", "cancelled"})
#: Escalation levels: 0 = warning at 80 %, 1 = supervisor (100 %), 2 = project manager
#: (150 %), 3 = HQ (200 %).
LEVELS = {0: "warning", 1: "supervisor", 2: "project_manager", 3: "hq"}


class Complaint(ProjectScoped, Audited, db.Model):  # type: ignore[name-defined]
    """One complaint (投诉) and its process instance."""

    __tablename__ = "complaint"
    __table_args__ = (
        UniqueConstraint("project_id", "number"),
        Index("ix_complaint_project_status", "project_id", "status", "created_at"),
        Index("ix_complaint_project_created", "project_id", "created_at"),
        Index("ix_complaint_complainant", "complainant_id", "created_at"),
        Index("ix_complaint_instance", "instance_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(16), default="portal")
    category: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(16), default="normal")
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    photos: Mapped[list[str]] = mapped_column(JSON, default=list)
    anonymous: Mapped[bool] = mapped_column(default=False)
    complainant_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    complainant_name: Mapped[str | None] = mapped_column(String(100))
    complainant_phone: Mapped[str | None] = mapped_column(String(32))
    registered_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    building_id: Mapped[int | None] = mapped_column(ForeignKey("building.id"), index=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id"), index=True)
    department: Mapped[str | None] = mapped_column(String(32))
    handler_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    status: Mapped[str] = mapped_column(String(24), default="triage")
    in_scope: Mapped[bool | None]
    out_of_scope_reason: Mapped[str | None] = mapped_column(Text)
    disputes: Mapped[int] = mapped_column(Integer, default=0)
    escalation_level: Mapped[int] = mapped_column(Integer, default=-1)  # -1: none yet
    limit_hours: Mapped[float | None]
    around_the_clock: Mapped[bool] = mapped_column(default=False)
    paused: Mapped[bool] = mapped_column(default=False)
    warn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    pm_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    hq_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    extension_hours: Mapped[float | None]
    extension_status: Mapped[str | None] = mapped_column(String(16))  # requested/approved/refused
    extension_reason: Mapped[str | None] = mapped_column(Text)
    findings: Mapped[str | None] = mapped_column(Text)
    action_plan: Mapped[str | None] = mapped_column(Text)
    result: Mapped[str | None] = mapped_column(Text)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    within_limit: Mapped[bool | None]
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    satisfaction: Mapped[int | None]
    revisit_note: Mapped[str | None] = mapped_column(Text)
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    building: Mapped[Building | None] = relationship()
    unit: Mapped[Unit | None] = relationship()
    events: Mapped[list[ComplaintEvent]] = relationship(
        back_populates="complaint", order_by="ComplaintEvent.id")

    @property
    def is_closed(self) -> bool:
        return self.status in CLOSED_STATUSES

    def __repr__(self) -> str:
        return f"<Complaint {self.number} {self.status}>"


class ComplaintEvent(ProjectScoped, db.Model):  # type: ignore[name-defined]
    """What happened to a complaint: status changes, warnings and escalations (append-only)."""

    __tablename__ = "complaint_event"
    __table_args__ = (
        Index("ix_complaint_event_complaint", "complaint_id", "at"),
        Index("ix_complaint_event_kind", "kind", "level"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaint.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(16))  # status | escalation
    status: Mapped[str | None] = mapped_column(String(24))
    level: Mapped[int | None]
    round: Mapped[int] = mapped_column(Integer, default=1)
    note: Mapped[str | None] = mapped_column(Text)
    #: Escalations: the instant of the limit that was passed.
    due: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Whether the complainant sees this entry on their progress page.
    public: Mapped[bool] = mapped_column(default=True)

    complaint: Mapped[Complaint] = relationship(back_populates="events")


class BusinessCalendar(ProjectScoped, Audited, db.Model):  # type: ignore[name-defined]
    """Working hours of one project: intervals per weekday plus dated exceptions."""

    __tablename__ = "business_calendar"
    __table_args__ = (UniqueConstraint("project_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: {"0": [["09:00", "12:00"], ["13:00", "18:00"]], …, "6": []} — 0 is Monday.
    week: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: Hours of a make-up working day (调休上班); empty: Monday's hours.
    makeup_hours: Mapped[list[Any]] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    days: Mapped[list[CalendarDay]] = relationship(
        back_populates="calendar", order_by="CalendarDay.day", cascade="all, delete-orphan")


class CalendarDay(ProjectScoped, Audited, db.Model):  # type: ignore[name-defined]
    """A public holiday (no working hours) or a make-up working day (调休) of a calendar."""

    __tablename__ = "business_calendar_day"
    __table_args__ = (UniqueConstraint("calendar_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    calendar_id: Mapped[int] = mapped_column(ForeignKey("business_calendar.id"), index=True)
    day: Mapped[date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(16))  # holiday | workday
    name: Mapped[str] = mapped_column(String(100), default="")

    calendar: Mapped[BusinessCalendar] = relationship(back_populates="days")
