"""Demo data for repairs: the technician teams of the demo estate, a second technician, and the
demo owner's home. :func:`app.demo.seed_demo` calls :func:`seed_repair_demo` after it created
the estate and the accounts; running it twice changes nothing."""

from __future__ import annotations

from sqlalchemy import select

from app.accounts import operations as accounts
from app.accounts.models import User
from app.accounts.roles import Role
from app.extensions import db
from app.projects.models import Building, Project, Unit
from app.records import operations as records
from app.records.models import Customer
from app.repairs.models import RepairTeam
from app.repairs.people import add_member, create_team

#: Team codes as processes/repair_routing.dmn answers them.
DEMO_TEAMS = (("water_electric", "水电班 Plumbing & electrics"), ("civil", "土建班 Building works"),
              ("elevator", "电梯班 Elevators"), ("cleaning", "保洁班 Cleaning"),
              ("general", "综合维修班 General repairs"))
SECOND_TECHNICIAN = ("tech2", "李师傅 Li (technician)")


def _user(username: str) -> User | None:
    return db.session.scalar(select(User).where(User.username == username))


def seed_repair_demo(project: Project, password: str) -> None:
    """Teams with the demo technicians, and the demo owner living in 1号楼 101; flushes."""
    tech = _user("tech")
    tech2 = _user(SECOND_TECHNICIAN[0])
    if tech2 is None:
        tech2 = accounts.create_user(SECOND_TECHNICIAN[0], password, SECOND_TECHNICIAN[1],
                                     [Role.TECHNICIAN], [project.id])
    existing = {t.code: t for t in db.session.scalars(
        select(RepairTeam).where(RepairTeam.project_id == project.id))}
    for code, name in DEMO_TEAMS:
        team = existing.get(code) or create_team(project.id, code, name)
        for member in (tech, tech2):
            if member is not None and member.id not in team.member_ids:
                add_member(team, member.id)
    owner = _user("owner")
    if owner is None or db.session.scalar(
            select(Customer.id).where(Customer.user_id == owner.id)) is not None:
        return
    unit = db.session.scalar(
        select(Unit).join(Building).where(Building.project_id == project.id,
                                          Building.name == "1号楼", Unit.number == "101"))
    if unit is None:
        return
    customer = records.create_customer(project.id, {"name": "王业主"}, allow_duplicate=True)
    customer.user_id = owner.id
    records.link_unit(customer, unit, "owner")
    db.session.flush()
