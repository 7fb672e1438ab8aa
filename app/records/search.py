"""Searching customers: name, number, building, unit, phone, ID, plate, tag, custom field.

Every filter is an indexed lookup: names by prefix (a range on the (project, status, name)
index, so it works the same on SQLite and PostgreSQL), phone and ID numbers through their blind
index (never by decrypting), units through ``customer_unit(unit_id, customer_id)``, tags through
``customer_tag(tag_id, customer_id)``, custom fields through ``(field_id, value)``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import Select, exists, func, select

from app.errors import FieldErrors
from app.extensions import db
from app.pagination import Page
from app.projects.models import Building, Unit
from app.records import protect
from app.records import validation as v
from app.records.models import (
    STATUSES,
    Customer,
    CustomerTag,
    CustomFieldDef,
    CustomFieldValue,
    Occupancy,
    Tag,
    Vehicle,
)


@dataclass(frozen=True)
class CustomerFilter:
    q: str = ""  # name prefix or customer number
    building: str = ""  # building id or name
    unit: str = ""  # unit number (within the building if given)
    phone: str = ""
    id_number: str = ""
    plate: str = ""
    tag: str = ""  # tag code
    field: str = ""  # custom field code …
    value: str = ""  # … and its value
    relation: str = ""
    status: str = "active"

    @classmethod
    def from_args(cls, args: Any) -> CustomerFilter:
        return cls(**{f.name: (args.get(f.name) or "").strip() or str(f.default)
                      for f in fields(cls)})

    def as_args(self) -> dict[str, str]:
        return {f.name: getattr(self, f.name) for f in fields(self)
                if getattr(self, f.name) and getattr(self, f.name) != f.default}

    def query(self, project_id: int) -> Select[tuple[Customer]]:
        """The filtered customers of a project, ordered by name."""
        stmt = select(Customer).where(Customer.project_id == project_id)
        if self.status != "all":
            if self.status not in STATUSES:
                raise FieldErrors({"status": f"one of {', '.join(STATUSES)} or all"})
            stmt = stmt.where(Customer.status == self.status)
        if self.q:
            text = self.q.strip()
            by_name = (Customer.name >= text) & (Customer.name < text + "\U0010ffff")
            stmt = stmt.where(by_name | (Customer.number == text.upper()))
        if self.phone:
            try:
                phone = v.normalise_phone(self.phone)
            except v.Invalid as exc:
                raise FieldErrors({"phone": str(exc)}) from exc
            stmt = stmt.where(Customer.phone_bidx == protect.phone_index(phone))
        if self.id_number:
            stmt = stmt.where(Customer.id_number_bidx == protect.id_index(
                "", self.id_number.strip().upper().replace(" ", "")))
        if self.building or self.unit or self.relation:
            occ = select(Occupancy.customer_id).where(Occupancy.project_id == project_id,
                                                      Occupancy.move_out.is_(None))
            if self.building or self.unit:
                occ = occ.join(Unit, Unit.id == Occupancy.unit_id)
            if self.building:
                occ = occ.join(Building, Building.id == Unit.building_id)
                occ = occ.where(Building.id == int(self.building)) if self.building.isdigit() \
                    else occ.where(Building.name == self.building)
            if self.unit:
                occ = occ.where(Unit.number == self.unit)
            if self.relation:
                occ = occ.where(Occupancy.relation == self.relation)
            if self.building or self.unit:
                stmt = stmt.where(Customer.id.in_(occ))  # selective: drive from the units
            else:  # relation alone matches most rows: probe per candidate instead
                stmt = stmt.where(exists(occ.where(Occupancy.customer_id == Customer.id)))
        if self.plate:
            try:
                plate = v.normalise_plate(self.plate)
            except v.Invalid as exc:
                raise FieldErrors({"plate": str(exc)}) from exc
            stmt = stmt.where(exists().where(Vehicle.customer_id == Customer.id,
                                             Vehicle.project_id == project_id,
                                             Vehicle.plate == plate))
        if self.tag:
            tag_id = select(Tag.id).where(Tag.project_id == project_id, Tag.code == self.tag)
            stmt = stmt.where(Customer.id.in_(select(CustomerTag.customer_id).where(
                CustomerTag.tag_id.in_(tag_id.scalar_subquery()))))
        if self.field:
            field = db.session.scalar(select(CustomFieldDef).where(
                CustomFieldDef.project_id == project_id, CustomFieldDef.code == self.field))
            if field is None:
                raise FieldErrors({"field": "no such custom field"})
            stmt = stmt.where(Customer.id.in_(select(CustomFieldValue.customer_id).where(
                CustomFieldValue.field_id == field.id, CustomFieldValue.value == self.value)))
        return stmt.order_by(Customer.name, Customer.id)


def search(project_id: int, flt: CustomerFilter, page: int = 1, per_page: int = 20) -> Page:
    """One page of matching customers and the total count."""
    stmt = flt.query(project_id)
    total = db.session.scalar(select(func.count()).select_from(
        stmt.order_by(None).with_only_columns(Customer.id).subquery())) or 0
    items = list(db.session.scalars(stmt.limit(per_page).offset((page - 1) * per_page)))
    return Page(items, total, page, per_page)
