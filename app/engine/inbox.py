"""Inbox queries over human task rows: indexed, paged, and never touching workflow state.

Project scoping is applied by :mod:`app.scoping`, so these only say *which* tasks of the
visible projects a view shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    any_,
    case,
    false,
    func,
    or_,
    select,
    true,
)
from sqlalchemy.orm import aliased

from app.accounts.models import User
from app.accounts.permissions import can
from app.clock import clock
from app.engine.models import (
    HumanTask,
    InstanceStatus,
    ProcessInstance,
    TaskCandidate,
    TaskStatus,
)
from app.errors import FieldErrors
from app.extensions import db

VIEWS = ("mine", "roles", "unassigned", "overdue")

Assignee = aliased(User)


@dataclass(frozen=True)
class InboxFilter:
    view: str = "mine"
    flow: str = ""
    q: str = ""  # business key (prefix)

    def __post_init__(self) -> None:
        if self.view not in VIEWS:
            raise FieldErrors({"view": f"one of {', '.join(VIEWS)}"})


def _role_clause(user: User) -> ColumnElement[bool]:
    """Open to the user's roles (tasks restricted to candidates excepted); supervisors
    (tasks.reassign) see every role's tasks."""
    if can("tasks.reassign", user):
        return true()
    roles = sorted(r.value for r in user.roles)
    if not roles:
        return false()
    return and_(HumanTask.role.in_(roles), HumanTask.restricted.is_(False))


def _candidate_clause(user: User) -> ColumnElement[bool]:
    """Unassigned tasks restricted to a set of users that includes ``user``."""
    mine = select(TaskCandidate.task_id).where(TaskCandidate.user_id == user.id)
    if db.engine.dialect.name == "postgresql":
        # id = ANY(ARRAY(subquery)) is an index condition: PostgreSQL ORs it with the role
        # index (BitmapOr) instead of filtering every open task through a hashed subplan.
        return and_(HumanTask.assignee_id.is_(None),
                    HumanTask.id == any_(func.ARRAY(mine.scalar_subquery())))
    return and_(HumanTask.assignee_id.is_(None), HumanTask.id.in_(mine))


def _mine_clause(user: User) -> ColumnElement[bool]:
    return or_(HumanTask.assignee_id == user.id, _candidate_clause(user))


def _view_clause(view: str, user: User) -> ColumnElement[bool]:
    if view == "mine":
        return _mine_clause(user)
    if view == "roles":
        return or_(_role_clause(user), _candidate_clause(user))
    if view == "unassigned":
        return and_(HumanTask.assignee_id.is_(None),
                    or_(_role_clause(user), _candidate_clause(user)))
    # overdue: mine or my roles'
    return and_(
        HumanTask.due_at < clock.now(),
        or_(_mine_clause(user), _role_clause(user)),
    )


def _filters(flt: InboxFilter) -> list[ColumnElement[bool]]:
    clauses = [HumanTask.status == TaskStatus.OPEN.value]
    if flt.flow:
        clauses.append(HumanTask.flow == flt.flow)
    if flt.q:
        clauses.append(HumanTask.business_key.startswith(flt.q.strip(), autoescape=True))
    return clauses


def inbox_query(user: User, flt: InboxFilter) -> Select[Any]:
    """(HumanTask, assignee display name) rows of a view, nearest due date first."""
    return (
        select(HumanTask, Assignee.display_name)
        .outerjoin(Assignee, Assignee.id == HumanTask.assignee_id)
        .where(*_filters(flt), _view_clause(flt.view, user))
        .order_by(HumanTask.due_at.is_(None), HumanTask.due_at, HumanTask.id)
    )


def inbox_counts(user: User, flt: InboxFilter) -> dict[str, int]:
    """The number of tasks in every view (same flow/search filter), in one query."""
    columns = [
        func.coalesce(func.sum(case((_view_clause(view, user), 1), else_=0)), 0).label(view)
        for view in VIEWS
    ]
    row = (
        select(*columns)
        .select_from(HumanTask)
        .where(*_filters(InboxFilter(flow=flt.flow, q=flt.q)))
    )
    values = db.session.execute(row).one()
    return {view: int(values[i]) for i, view in enumerate(VIEWS)}


def flows_with_open_tasks() -> list[str]:
    return list(
        db.session.scalars(
            select(HumanTask.flow)
            .where(HumanTask.status == TaskStatus.OPEN.value)
            .distinct()
            .order_by(HumanTask.flow)
        )
    )


@dataclass(frozen=True)
class InstanceFilter:
    flow: str = ""
    status: str = ""
    project_id: int | None = None
    q: str = ""

    def __post_init__(self) -> None:
        if self.status and self.status not in {s.value for s in InstanceStatus}:
            raise FieldErrors({"status": "unknown status"})


def instance_query(flt: InstanceFilter) -> Select[tuple[ProcessInstance]]:
    """Instances, newest first (the serialized state stays unloaded)."""
    stmt = select(ProcessInstance).order_by(ProcessInstance.started_at.desc(),
                                            ProcessInstance.id.desc())
    if flt.flow:
        stmt = stmt.where(ProcessInstance.flow == flt.flow)
    if flt.status:
        stmt = stmt.where(ProcessInstance.status == flt.status)
    if flt.project_id is not None:
        stmt = stmt.where(ProcessInstance.project_id == flt.project_id)
    if flt.q:
        stmt = stmt.where(ProcessInstance.business_key.startswith(flt.q.strip(), autoescape=True))
    return stmt


