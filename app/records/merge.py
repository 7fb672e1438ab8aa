"""Merging duplicate customers: everything moves to the kept record, history is kept."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app.audit.actor import current_actor
from app.audit.recorder import record_audit
from app.errors import Conflict
from app.extensions import db
from app.records import tags
from app.records.models import (
    Customer,
    CustomerTag,
    CustomFieldValue,
    FamilyMember,
    MergeRecord,
    Occupancy,
    Vehicle,
)

#: Columns copied from the source when the target has no value.
FILL_COLUMNS = (
    ("id_number", ("id_number_enc", "id_type", "id_number_bidx", "birth_date")),
    ("phone", ("phone_enc", "phone_bidx")),
    ("bank_account", ("bank_account_enc", "bank_account_bidx")),
    ("emergency_phone", ("emergency_phone_enc",)),
    ("email", ("email",)),
    ("emergency_name", ("emergency_name", "emergency_relation")),
)  # the first column of each group says whether the value is present
WIPED = ("id_type", "id_number_enc", "id_number_bidx", "birth_date", "phone_enc", "phone_bidx",
         "bank_account_enc", "bank_account_bidx", "emergency_phone_enc", "email",
         "emergency_name", "emergency_relation")


def merge_customers(source: Customer, target: Customer) -> MergeRecord:
    """Merge ``source`` into ``target``: units, family, vehicles, tags and custom values move;
    empty fields of the target are filled from the source; the source stays as a tombstone
    (status ``merged``, pointing at the target) without personal data."""
    if source.id == target.id:
        raise Conflict("a customer cannot be merged into itself")
    if source.project_id != target.project_id:
        raise Conflict("customers of different projects cannot be merged")
    for c in (source, target):
        if c.status != "active":
            raise Conflict(f"customer {c.number} is {c.status}")
    moved: dict[str, int] = {}
    models: tuple[Any, ...] = (Occupancy, FamilyMember, Vehicle)
    for model in models:
        rows = list(db.session.scalars(select(model).where(model.customer_id == source.id)))
        for row in rows:
            row.customer_id = target.id
        moved[model.__tablename__] = len(rows)
    have_plates = {x.plate for x in target.vehicles}
    have_tags = set(db.session.scalars(select(CustomerTag.tag_id).where(
        CustomerTag.customer_id == target.id)))
    for link in list(db.session.scalars(select(CustomerTag).where(
            CustomerTag.customer_id == source.id))):
        if link.tag_id in have_tags:
            db.session.delete(link)
        else:
            link.customer_id = target.id
    have_fields = set(db.session.scalars(select(CustomFieldValue.field_id).where(
        CustomFieldValue.customer_id == target.id)))
    for value in list(db.session.scalars(select(CustomFieldValue).where(
            CustomFieldValue.customer_id == source.id))):
        if value.field_id in have_fields:
            db.session.delete(value)
        else:
            value.customer_id = target.id
    filled: list[str] = []
    discarded: list[str] = []
    for name, columns in FILL_COLUMNS:
        if getattr(source, columns[0]) is None:
            continue
        if getattr(target, columns[0]) is None:
            for column in columns:
                setattr(target, column, getattr(source, column))
            filled.append(name)
        else:
            discarded.append(name)
    if target.user_id is None and source.user_id is not None:
        user_id, source.user_id = source.user_id, None
        db.session.flush()
        target.user_id = user_id
    details: dict[str, Any] = {
        "source_number": source.number, "source_name": source.name,
        "target_number": target.number, "moved": moved, "filled": filled,
        "discarded": discarded, "duplicate_plates": sorted(
            x.plate for x in source.vehicles if x.plate in have_plates),
    }
    for column in WIPED:
        setattr(source, column, None)
    source.status = "merged"
    source.merged_into_id = target.id
    source.user_id = None
    record = MergeRecord(project_id=target.project_id, source_id=source.id,
                         target_id=target.id, user_id=current_actor().user_id, details=details)
    db.session.add(record)
    db.session.flush()
    db.session.expire(target)
    db.session.expire(source)
    for customer, action in ((target, "merged_from"), (source, "merged_into")):
        record_audit(f"records.{action}", record_type="customer", record_id=customer.id,
                     project_id=customer.project_id,
                     after={"source": details["source_number"],
                            "target": details["target_number"], "filled": filled})
    tags.schedule_recompute(target.project_id)
    return record


def merge_history(customer: Customer) -> list[MergeRecord]:
    """Merges into or out of this customer, newest first."""
    stmt = select(MergeRecord).where((MergeRecord.target_id == customer.id)
                                     | (MergeRecord.source_id == customer.id))
    return list(db.session.scalars(stmt.order_by(MergeRecord.merged_at.desc(),
                                                 MergeRecord.id.desc())))
