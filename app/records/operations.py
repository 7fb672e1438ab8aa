"""Customer operations: create, update, link units, family, vehicles, tags, portal account.

Operations validate, change rows and flush; they never commit. Changes to a customer's
satellites (units, family, vehicles, tags, custom fields) also write a summary event on the
customer itself, so its history is one audit query (``record_type='customer'``).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import func, or_, select

from app.audit.recorder import record_audit
from app.errors import Conflict, FieldErrors
from app.extensions import db
from app.projects.models import Unit
from app.records import fields as cf
from app.records import protect, tags
from app.records import validation as v
from app.records.models import (
    CHANNELS,
    CUSTOMER_KINDS,
    RELATIONS,
    Customer,
    CustomerTag,
    CustomFieldDef,
    FamilyMember,
    Occupancy,
    Tag,
    Vehicle,
)

PLAIN_FIELDS = ("kind", "name", "email", "preferred_channel", "emergency_name",
                "emergency_relation", "note")


class DuplicateCustomer(Conflict):
    """The new customer looks like existing ones; the caller may merge or insist."""

    code = "duplicate_customer"

    def __init__(self, duplicates: list[Customer]) -> None:
        numbers = ", ".join(c.number for c in duplicates)
        super().__init__(f"possible duplicate of {numbers} (same ID number, or same name and "
                         "phone)", field="duplicates")
        self.duplicates = duplicates


def _note(customer: Customer, action: str, details: dict[str, Any]) -> None:
    record_audit(f"records.{action}", record_type="customer", record_id=customer.id,
                 project_id=customer.project_id, after=details)


def _check(errors: dict[str, str], field: str, func_: Any, *args: Any) -> Any:
    try:
        return func_(*args)
    except v.Invalid as exc:
        errors[field] = str(exc)
        return None


def clean_customer(data: dict[str, Any], fields: list[CustomFieldDef],
                   partial: bool = False) -> tuple[dict[str, Any], dict[str, str]]:
    """Validate submitted customer data; returns normalised values and field errors.

    Protected values come back normalised (not yet encrypted) under their own names.
    """
    errors: dict[str, str] = {}
    clean: dict[str, Any] = {}

    def given(key: str) -> bool:
        return not partial or key in data

    def text(key: str, limit: int) -> str | None:
        value = (data.get(key) or "").strip() if isinstance(data.get(key, ""), str) else str(
            data[key])
        if len(value) > limit:
            errors[key] = f"at most {limit} characters"
        return value or None

    if given("name"):
        clean["name"] = text("name", 200)
        if not clean["name"]:
            errors["name"] = "required"
    if given("number"):
        clean["number"] = (text("number", 32) or "").upper() or None
    if given("kind"):
        clean["kind"] = data.get("kind") or "person"
        if clean["kind"] not in CUSTOMER_KINDS:
            errors["kind"] = f"one of {', '.join(CUSTOMER_KINDS)}"
    if given("preferred_channel"):
        clean["preferred_channel"] = data.get("preferred_channel") or "phone"
        if clean["preferred_channel"] not in CHANNELS:
            errors["preferred_channel"] = f"one of {', '.join(CHANNELS)}"
    for key, limit in (("email", 200), ("emergency_name", 100), ("emergency_relation", 50),
                       ("note", 2000)):
        if given(key):
            clean[key] = text(key, limit)
    if clean.get("email") and "@" not in clean["email"]:
        errors["email"] = "not an e-mail address"
    if given("id_number") or given("id_type"):
        id_type = data.get("id_type") or ("uscc" if clean.get("kind") == "company" else "ric")
        raw = (data.get("id_number") or "").strip()
        if id_type not in v.ID_TYPES:
            errors["id_type"] = f"one of {', '.join(v.ID_TYPES)}"
        clean["id_type"] = id_type
        clean["id_number"] = _check(errors, "id_number", v.normalise_id, id_type, raw) \
            if raw and "id_type" not in errors else None
    if given("phone"):
        raw = str(data.get("phone") or "").strip()
        clean["phone"] = _check(errors, "phone", v.normalise_phone, raw) if raw else None
    if given("emergency_phone"):
        raw = str(data.get("emergency_phone") or "").strip()
        clean["emergency_phone"] = _check(errors, "emergency_phone", v.normalise_phone,
                                          raw) if raw else None
    if given("bank_account"):
        raw = str(data.get("bank_account") or "").strip()
        clean["bank_account"] = _check(errors, "bank_account", v.normalise_bank_account,
                                       raw) if raw else None
    custom = data.get("custom") or {}
    values: dict[str, str | None] = {}
    for field in fields:
        if partial and field.code not in custom:
            continue
        values[field.code] = _check(errors, f"custom.{field.code}", cf.normalise_value, field,
                                    custom.get(field.code))
    unknown = set(custom) - {f.code for f in fields}
    for code in unknown:
        errors[f"custom.{code}"] = "no such field in this project"
    clean["custom"] = values
    return clean, errors


def next_number(project_id: int) -> str:
    """The next free automatic customer number (C000001, …)."""
    count = db.session.scalar(select(func.count(Customer.id)).where(
        Customer.project_id == project_id)) or 0
    n = count + 1
    while db.session.scalar(select(Customer.id).where(
            Customer.project_id == project_id, Customer.number == f"C{n:06d}")):
        n += 1
    return f"C{n:06d}"


def find_duplicates(project_id: int, *, id_number: str | None = None, name: str | None = None,
                    phone: str | None = None, exclude: int | None = None) -> list[Customer]:
    """Active customers with the same ID number, or the same name and phone (normalised)."""
    conditions = []
    if id_number:
        conditions.append(Customer.id_number_bidx == protect.id_index("", id_number))
    if name and phone:
        conditions.append((Customer.name_key == v.normalise_name(name))
                          & (Customer.phone_bidx == protect.phone_index(v.normalise_phone(phone))))
    if not conditions:
        return []
    stmt = select(Customer).where(Customer.project_id == project_id, Customer.status == "active",
                                  or_(*conditions))
    if exclude is not None:
        stmt = stmt.where(Customer.id != exclude)
    return list(db.session.scalars(stmt.order_by(Customer.id)))


def _apply(customer: Customer, clean: dict[str, Any], fields: list[CustomFieldDef]) -> None:
    for key in PLAIN_FIELDS:
        if key in clean:
            setattr(customer, key, clean[key] if key != "kind" else clean[key] or "person")
    if "name" in clean:
        customer.name_key = v.normalise_name(clean["name"])
    if "id_number" in clean:
        protect.set_id_number(customer, clean.get("id_type"), clean["id_number"])
    if "phone" in clean:
        protect.set_phone(customer, clean["phone"])
    if "bank_account" in clean:
        protect.set_bank_account(customer, clean["bank_account"])
    if "emergency_phone" in clean:
        protect.set_emergency_phone(customer, clean["emergency_phone"])
    if clean.get("custom"):
        cf.set_values(customer, fields, clean["custom"])


def create_customer(project_id: int, data: dict[str, Any],
                    allow_duplicate: bool = False) -> Customer:
    """Create a customer; :class:`DuplicateCustomer` (409) unless ``allow_duplicate``."""
    fields = cf.project_fields(project_id)
    clean, errors = clean_customer(data, fields)
    if errors:
        raise FieldErrors(errors)
    number = clean.get("number") or next_number(project_id)
    if db.session.scalar(select(Customer.id).where(Customer.project_id == project_id,
                                                   Customer.number == number)):
        raise Conflict(f"customer number {number} is taken in this project", field="number")
    if not allow_duplicate:
        duplicates = find_duplicates(project_id, id_number=clean.get("id_number"),
                                     name=clean["name"], phone=clean.get("phone"))
        if duplicates:
            raise DuplicateCustomer(duplicates)
    customer = Customer(project_id=project_id, number=number, status="active")
    _apply(customer, {k: v_ for k, v_ in clean.items() if k != "custom"}, fields)
    db.session.add(customer)
    db.session.flush()
    if clean.get("custom"):
        cf.set_values(customer, fields, clean["custom"], existing={})
        db.session.flush()
    tags.schedule_recompute(project_id)
    return customer


def update_customer(customer: Customer, data: dict[str, Any]) -> Customer:
    """Change the given fields of a customer (others stay as they are)."""
    if customer.status != "active":
        raise Conflict(f"customer {customer.number} is {customer.status}")
    fields = cf.project_fields(customer.project_id)
    clean, errors = clean_customer(data, fields, partial=True)
    if errors:
        raise FieldErrors(errors)
    number = clean.pop("number", None)
    if number and number != customer.number:
        if db.session.scalar(select(Customer.id).where(
                Customer.project_id == customer.project_id, Customer.number == number)):
            raise Conflict(f"customer number {number} is taken in this project", field="number")
        customer.number = number
    _apply(customer, clean, fields)
    db.session.flush()
    tags.schedule_recompute(customer.project_id)
    return customer


def _date(value: Any, field: str) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError as exc:
        raise FieldErrors({field: "use the form YYYY-MM-DD"}) from exc


def link_unit(customer: Customer, unit: Unit, relation: str, move_in: Any = None,
              move_out: Any = None) -> Occupancy:
    """Link a customer to a unit as owner, tenant or family member."""
    if relation not in RELATIONS:
        raise FieldErrors({"relation": f"one of {', '.join(RELATIONS)}"})
    if unit.project_id != customer.project_id:
        raise FieldErrors({"unit": "the unit belongs to another project"})
    start, end = _date(move_in, "move_in"), _date(move_out, "move_out")
    if start and end and end < start:
        raise FieldErrors({"move_out": "move-out is before move-in"})
    occupancy = Occupancy(project_id=customer.project_id, customer=customer, unit=unit,
                          relation=relation, move_in=start, move_out=end)
    db.session.add(occupancy)
    db.session.flush()
    _note(customer, "unit_linked", {"unit": unit.label, "relation": relation,
                                    "move_in": start and start.isoformat()})
    tags.schedule_recompute(customer.project_id)
    return occupancy


def end_occupancy(occupancy: Occupancy, move_out: Any) -> Occupancy:
    """Record the move-out date of a customer from a unit."""
    end = _date(move_out, "move_out")
    if end is None:
        raise FieldErrors({"move_out": "required"})
    if occupancy.move_in and end < occupancy.move_in:
        raise FieldErrors({"move_out": "move-out is before move-in"})
    occupancy.move_out = end
    db.session.flush()
    _note(occupancy.customer, "moved_out", {"unit": occupancy.unit.label,
                                            "move_out": end.isoformat()})
    tags.schedule_recompute(occupancy.project_id)
    return occupancy


def add_family_member(customer: Customer, name: str, relation: str,
                      phone: str | None = None) -> FamilyMember:
    """Add a household member (name, relation, optional phone) to a customer."""
    errors = {k: "required" for k, val in (("name", name), ("relation", relation))
              if not (val or "").strip()}
    if phone:
        _check(errors, "phone", v.normalise_phone, phone)
    if errors:
        raise FieldErrors(errors)
    member = FamilyMember(project_id=customer.project_id, customer=customer,
                          name=name.strip()[:100], relation=relation.strip()[:50])
    protect.set_family_phone(member, phone)
    db.session.add(member)
    db.session.flush()
    _note(customer, "family_added", {"name": member.name, "relation": member.relation})
    return member


def remove_family_member(member: FamilyMember) -> None:
    _note(member.customer, "family_removed", {"name": member.name})
    db.session.delete(member)
    db.session.flush()


def add_vehicle(customer: Customer, plate: str, parking_space: str | None = None) -> Vehicle:
    try:
        normalised = v.normalise_plate(plate or "")
    except v.Invalid as exc:
        raise FieldErrors({"plate": str(exc)}) from exc
    if any(x.plate == normalised for x in customer.vehicles):
        raise Conflict(f"{normalised} is already registered", field="plate")
    vehicle = Vehicle(project_id=customer.project_id, customer=customer, plate=normalised,
                      parking_space=(parking_space or "").strip()[:32] or None)
    db.session.add(vehicle)
    db.session.flush()
    _note(customer, "vehicle_added", {"plate": normalised, "parking_space": vehicle.parking_space})
    return vehicle


def remove_vehicle(vehicle: Vehicle) -> None:
    _note(vehicle.customer, "vehicle_removed", {"plate": vehicle.plate})
    db.session.delete(vehicle)
    db.session.flush()


def tag_customer(customer: Customer, tag: Tag) -> None:
    """Put a manual tag on a customer (rule tags are computed, not set)."""
    if tag.kind != "manual":
        raise Conflict(f"{tag.label} is computed by a rule: {tag.rule_text}")
    if db.session.scalar(select(CustomerTag.id).where(CustomerTag.customer_id == customer.id,
                                                      CustomerTag.tag_id == tag.id)):
        return
    db.session.add(CustomerTag(project_id=customer.project_id, customer_id=customer.id,
                               tag_id=tag.id))
    db.session.flush()
    _note(customer, "tagged", {"tag": tag.code})


def untag_customer(customer: Customer, tag: Tag) -> None:
    if tag.kind != "manual":
        raise Conflict(f"{tag.label} is computed by a rule: {tag.rule_text}")
    link = db.session.scalar(select(CustomerTag).where(CustomerTag.customer_id == customer.id,
                                                       CustomerTag.tag_id == tag.id))
    if link is not None:
        db.session.delete(link)
        db.session.flush()
        _note(customer, "untagged", {"tag": tag.code})


def link_user(customer: Customer, user_id: int | None) -> None:
    """Let a portal account act as this customer (self-service); ``None`` unlinks."""
    if user_id is not None and db.session.scalar(select(Customer.id).where(
            Customer.user_id == user_id, Customer.id != customer.id).execution_options(
            all_projects=True)):
        raise Conflict("this account is already linked to another customer", field="user_id")
    customer.user_id = user_id
    db.session.flush()
