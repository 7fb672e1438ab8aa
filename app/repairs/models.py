"""Repair tickets and the technician teams that repair jobs are routed to."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.audit.recorder import Audited
from app.clock import utcnow
from app.engine.models import ProcessInstance
from app.extensions import db
from app.scoping import ProjectScoped
from app.sqltypes import UTCDateTime

#: Ticket statuses, in the order a job normally goes through them.
OPEN_STATUSES = ("pending", "assigned", "accepted", "awaiting_fee", "in_progress",
                 "completed", "rectifying", "revisiting")
STATUSES = (*OPEN_STATUSES, "closed", "cancelled", "fee_declined")
#: Before a technician accepted: the owner may still cancel.
CANCELLABLE_STATUSES = ("pending", "assigned")
AREAS = ("unit", "public")
URGENCIES = ("normal", "emergency")
#: 0 none · 1 late, the team was reminded · 2 the supervisor · 3 the project manager.
ESCALATION_LEVELS = (0, 1, 2, 3)


class RepairTeam(ProjectScoped, Audited, db.Model):  # type: ignore[name-defined]
    """A team of technicians in one project (水电班, 土建班, …); ``code`` is what the routing
    table (``processes/repair_routing.dmn``) answers."""

    __tablename__ = "repair_team"
    __table_args__ = (UniqueConstraint("project_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(100))

    members: Mapped[list[RepairTeamMember]] = relationship(
        back_populates="team", order_by="RepairTeamMember.id", cascade="all, delete-orphan")

    @property
    def member_ids(self) -> list[int]:
        return [m.user_id for m in self.members]


class RepairTeamMember(Audited, db.Model):  # type: ignore[name-defined]
    __tablename__ = "repair_team_member"
    __table_args__ = (UniqueConstraint("team_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("repair_team.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)

    team: Mapped[RepairTeam] = relationship(back_populates="members")


class Ticket(ProjectScoped, Audited, db.Model):  # type: ignore[name-defined]
    """One repair request (报修单): what lists, the owner's page and statistics read.

    Written by the intake operation and then only by :mod:`app.repairs.projection`, from the
    workflow's state, in the same flush as the workflow: it never disagrees with the process.
    """

    __tablename__ = "repair_ticket"
    __table_args__ = (
        UniqueConstraint("project_id", "number"),
        Index("ix_repair_ticket_project_status", "project_id", "status", "submitted_at"),
        Index("ix_repair_ticket_requester", "requester_id", "submitted_at"),
        Index("ix_repair_ticket_technician", "technician_id", "status"),
        Index("ix_repair_ticket_team", "project_id", "team", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32))
    instance_id: Mapped[int | None] = mapped_column(
        ForeignKey("process_instance.id"), unique=True)
    #: Set instead of instance_id while the instance is being inserted in the same flush.
    instance: Mapped[ProcessInstance | None] = relationship()
    requester_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    #: Who typed it in: the owner, or customer service for an owner who phoned.
    registered_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    channel: Mapped[str] = mapped_column(String(16), default="portal")  # portal | phone | api
    category: Mapped[str] = mapped_column(String(32))
    area: Mapped[str] = mapped_column(String(16))  # unit | public
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id"), index=True)
    location: Mapped[str] = mapped_column(String(200), default="")
    description: Mapped[str] = mapped_column(Text)
    urgency: Mapped[str] = mapped_column(String(16), default="normal")
    preferred_time: Mapped[str | None] = mapped_column(String(40))
    photos: Mapped[list[str]] = mapped_column(JSON, default=list)

    # --- from the workflow --------------------------------------------------------------
    status: Mapped[str] = mapped_column(String(16), default="pending")
    team: Mapped[str | None] = mapped_column(String(32))
    dispatch_mode: Mapped[str | None] = mapped_column(String(16))  # pool | supervisor
    technician_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    respond_by: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finish_by: Mapped[datetime | None] = mapped_column(UTCDateTime)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    returns: Mapped[int] = mapped_column(Integer, default=0)
    fee_fen: Mapped[int] = mapped_column(Integer, default=0)
    fee_confirmed: Mapped[bool | None] = mapped_column()
    materials_fen: Mapped[int] = mapped_column(Integer, default=0)
    rating: Mapped[int | None] = mapped_column(Integer)
    rating_comment: Mapped[str | None] = mapped_column(Text)
    #: Closed after 3 days without the owner's rating; counted apart in statistics.
    not_rated: Mapped[bool] = mapped_column(default=False)
    revisit_result: Mapped[str | None] = mapped_column(String(16))
    late_response: Mapped[bool] = mapped_column(default=False)
    late_completion: Mapped[bool] = mapped_column(default=False)
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    #: [{"kind": "response_late" | ..., "level": n, "at": iso}] oldest first.
    escalations: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    urge_count: Mapped[int] = mapped_column(Integer, default=0)
    last_urged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancel_reason: Mapped[str | None] = mapped_column(String(500))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def cancellable(self) -> bool:
        return self.status in CANCELLABLE_STATUSES

    def __repr__(self) -> str:
        return f"<Ticket {self.number} {self.status}>"
