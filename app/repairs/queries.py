"""Ticket lists and statistics: indexed queries on repair_ticket (and the task index for the
pool), never a workflow. Project scoping applies as everywhere."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, and_, case, func, or_, select

from app.accounts.models import User
from app.engine.models import HumanTask, TaskCandidate, TaskStatus
from app.extensions import db
from app.repairs.models import OPEN_STATUSES, STATUSES, Ticket


def my_tickets(user: User, limit: int = 100) -> list[Ticket]:
    """The repairs a resident reported, newest first."""
    return list(db.session.scalars(
        select(Ticket).where(Ticket.requester_id == user.id)
        .order_by(Ticket.submitted_at.desc(), Ticket.id.desc()).limit(limit)))


def _pool_tasks(user: User) -> Select[Any]:
    candidate = select(TaskCandidate.task_id).where(TaskCandidate.user_id == user.id)
    return select(HumanTask.instance_id).where(
        HumanTask.status == TaskStatus.OPEN, HumanTask.element_id == "Accept",
        HumanTask.assignee_id.is_(None),
        or_(HumanTask.id.in_(candidate), HumanTask.restricted.is_(False)))


def pool_jobs(user: User) -> list[Ticket]:
    """Jobs in the pools of the user's teams, waiting to be grabbed, most urgent first."""
    return list(db.session.scalars(
        select(Ticket).where(Ticket.instance_id.in_(_pool_tasks(user)))
        .order_by(Ticket.urgency.desc(), Ticket.respond_by, Ticket.id)))


def my_jobs(user: User) -> list[Ticket]:
    """Open jobs dispatched to or accepted by the user, nearest deadline first."""
    mine = select(HumanTask.instance_id).where(HumanTask.status == TaskStatus.OPEN,
                                               HumanTask.assignee_id == user.id)
    return list(db.session.scalars(
        select(Ticket).where(or_(and_(Ticket.technician_id == user.id,
                                      Ticket.status.in_(OPEN_STATUSES)),
                                 Ticket.instance_id.in_(mine)))
        .order_by(Ticket.finish_by, Ticket.id)))


@dataclass
class TicketFilter:
    status: str = ""
    flag: str = ""  # late | escalated | not_rated | bad
    q: str = ""

    def query(self) -> Select[Any]:
        stmt = select(Ticket)
        if self.status == "open":
            stmt = stmt.where(Ticket.status.in_(OPEN_STATUSES))
        elif self.status in STATUSES:
            stmt = stmt.where(Ticket.status == self.status)
        if self.flag == "late":
            stmt = stmt.where(or_(Ticket.late_response.is_(True),
                                  Ticket.late_completion.is_(True)))
        elif self.flag == "escalated":
            stmt = stmt.where(Ticket.escalation_level >= 2)
        elif self.flag == "not_rated":
            stmt = stmt.where(Ticket.not_rated.is_(True))
        elif self.flag == "bad":
            stmt = stmt.where(Ticket.rating <= 2)
        if self.q:
            stmt = stmt.where(Ticket.number.contains(self.q.strip().upper()))
        return stmt.order_by(Ticket.submitted_at.desc(), Ticket.id.desc())


def staff_tickets(flt: TicketFilter, limit: int = 200) -> list[Ticket]:
    return list(db.session.scalars(flt.query().limit(limit)))


@dataclass
class Stats:
    total: int = 0
    open: int = 0
    closed: int = 0
    cancelled: int = 0
    rated: int = 0
    not_rated: int = 0
    average_rating: float | None = None
    bad_ratings: int = 0
    late_response: int = 0
    late_completion: int = 0
    escalated: int = 0
    by_status: dict[str, int] = field(default_factory=dict)

    @property
    def satisfaction(self) -> float | None:
        """Share of rated jobs with 4 or 5 stars (not-rated ones are counted apart)."""
        return None if not self.rated else round(self.good / self.rated, 3)

    good: int = 0


def statistics(project_id: int | None = None) -> Stats:
    """Figures over the visible tickets (optionally one project): one grouped query."""
    def count(condition: Any) -> Any:
        return func.sum(case((condition, 1), else_=0))

    stmt = select(
        Ticket.status, func.count(), count(Ticket.rating.is_not(None)),
        count(Ticket.not_rated.is_(True)), func.sum(func.coalesce(Ticket.rating, 0)),
        count(Ticket.rating <= 2), count(Ticket.rating >= 4),
        count(Ticket.late_response.is_(True)), count(Ticket.late_completion.is_(True)),
        count(Ticket.escalation_level >= 2),
    ).group_by(Ticket.status)
    if project_id is not None:
        stmt = stmt.where(Ticket.project_id == project_id)
    stats = Stats()
    rating_sum = 0
    for row in db.session.execute(stmt):
        status, n, rated, not_rated, rating_total, bad, good, late_r, late_c, escalated = row
        stats.by_status[status] = int(n)
        stats.total += int(n)
        stats.rated += int(rated or 0)
        stats.not_rated += int(not_rated or 0)
        rating_sum += int(rating_total or 0)
        stats.bad_ratings += int(bad or 0)
        stats.good += int(good or 0)
        stats.late_response += int(late_r or 0)
        stats.late_completion += int(late_c or 0)
        stats.escalated += int(escalated or 0)
        if status in OPEN_STATUSES:
            stats.open += int(n)
        elif status == "cancelled":
            stats.cancelled += int(n)
        else:
            stats.closed += int(n)
    if stats.rated:
        stats.average_rating = round(rating_sum / stats.rated, 2)
    return stats
