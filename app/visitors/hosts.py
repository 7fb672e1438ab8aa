"""Who hosts a unit: the residents linked to it in customer records (app.records).

A user hosts a unit when their account is linked to an active customer record with a current
occupancy of the unit (no move-out, or one still ahead). While a tenant lives there the owner
is not a host: the tenant's household receives the visitors.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import or_, select

from app.extensions import db
from app.projects.models import Building, Unit
from app.records.models import Customer, Occupancy


def _current(today: date) -> object:
    return or_(Occupancy.move_out.is_(None), Occupancy.move_out >= today)


def host_user_ids(unit_id: int, today: date) -> list[int]:
    """The accounts that may invite for, and answer requests to, this unit."""
    rows = db.session.execute(
        select(Customer.user_id, Occupancy.relation)
        .join(Occupancy, Occupancy.customer_id == Customer.id)
        .where(Occupancy.unit_id == unit_id, Customer.status == "active",
               Customer.user_id.is_not(None), _current(today))  # type: ignore[arg-type]
    ).all()
    tenanted = any(relation == "tenant" for _uid, relation in rows) or bool(
        db.session.scalar(select(Occupancy.id).where(
            Occupancy.unit_id == unit_id, Occupancy.relation == "tenant",
            _current(today)).limit(1)))  # type: ignore[arg-type]
    return sorted({uid for uid, relation in rows
                   if uid is not None and not (tenanted and relation == "owner")})


def hosted_units(user_id: int, today: date) -> list[Unit]:
    """The units this account hosts, by building and number."""
    candidates = db.session.scalars(
        select(Unit).join(Occupancy, Occupancy.unit_id == Unit.id)
        .join(Customer, Customer.id == Occupancy.customer_id)
        .join(Building, Building.id == Unit.building_id)
        .where(Customer.user_id == user_id, Customer.status == "active",
               _current(today))  # type: ignore[arg-type]
        .order_by(Building.name, Unit.number)
    ).unique().all()
    return [unit for unit in candidates if user_id in host_user_ids(unit.id, today)]


def hosts(user_id: int, unit_id: int, today: date) -> bool:
    return user_id in host_user_ids(unit_id, today)
