"""Who is who for repairs: an owner's units, a project's technicians, owners and teams."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select

from app.accounts.models import ProjectGrant, User, UserRole
from app.accounts.roles import Role
from app.extensions import db
from app.projects.models import Unit
from app.records.models import Customer, Occupancy
from app.repairs.models import RepairTeam, RepairTeamMember


def owner_unit_ids(user_id: int, project_id: int) -> list[int]:
    """Units the user currently owns or rents in the project (from customer records)."""
    rows = db.session.scalars(
        select(Occupancy.unit_id).join(Customer, Customer.id == Occupancy.customer_id)
        .where(Customer.user_id == user_id, Customer.status == "active",
               Occupancy.project_id == project_id, Occupancy.move_out.is_(None),
               Occupancy.relation.in_(("owner", "tenant", "family")))
        .execution_options(all_projects=True))
    return sorted(set(rows))


def owner_units(user_id: int, project_id: int) -> list[Unit]:
    ids = owner_unit_ids(user_id, project_id)
    if not ids:
        return []
    return list(db.session.scalars(select(Unit).where(Unit.id.in_(ids)).order_by(Unit.id)
                                   .execution_options(all_projects=True)))


def _users_with_role(project_id: int, role: Role) -> list[User]:
    granted = select(ProjectGrant.user_id).where(ProjectGrant.project_id == project_id)
    return list(db.session.scalars(
        select(User).join(UserRole, UserRole.user_id == User.id)
        .where(UserRole.role == role.value, User.active.is_(True), User.id.in_(granted))
        .order_by(User.display_name)))


def technicians_of_project(project_id: int) -> list[User]:
    """Active technicians granted the project, by name."""
    return _users_with_role(project_id, Role.TECHNICIAN)


def owners_of_project(project_id: int) -> list[User]:
    """Active owners and tenants granted the project (customer service registers for them)."""
    return sorted(_users_with_role(project_id, Role.OWNER)
                  + _users_with_role(project_id, Role.TENANT), key=lambda u: u.display_name)


def teams_of(user_id: int, project_id: int | None = None) -> list[RepairTeam]:
    stmt = (select(RepairTeam).join(RepairTeamMember, RepairTeamMember.team_id == RepairTeam.id)
            .where(RepairTeamMember.user_id == user_id))
    if project_id is not None:
        stmt = stmt.where(RepairTeam.project_id == project_id)
    return list(db.session.scalars(stmt.order_by(RepairTeam.code)))


def create_team(project_id: int, code: str, name: str,
                member_ids: Iterable[int] = ()) -> RepairTeam:
    """A team of technicians (code as the routing table names it); flushes."""
    team = RepairTeam(project_id=project_id, code=code.strip(), name=name.strip())
    db.session.add(team)
    db.session.flush()
    for user_id in member_ids:
        add_member(team, user_id)
    return team


def add_member(team: RepairTeam, user_id: int) -> RepairTeamMember:
    member = RepairTeamMember(team_id=team.id, user_id=user_id)
    db.session.add(member)
    db.session.flush()
    db.session.expire(team, ["members"])
    return member
