"""Retention (PIPL): personal data is anonymised a configured time after the last move-out.

The row, its id and number, its unit links and their dates stay, so ticket statistics keep
working; names, identity, phone, bank, e-mail, emergency contact, family, vehicles, custom
values, tags and the portal link are wiped.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, func, select

from app.extensions import db
from app.records.models import (
    Customer,
    CustomerTag,
    CustomFieldValue,
    FamilyMember,
    MergeRecord,
    Occupancy,
    Vehicle,
)

DEFAULT_RETENTION_DAYS = 3 * 365
WIPE = ("id_type", "id_number_enc", "id_number_bidx", "birth_date", "phone_enc", "phone_bidx",
        "bank_account_enc", "bank_account_bidx", "email", "emergency_name",
        "emergency_relation", "emergency_phone_enc", "note", "user_id")


def retention_days() -> int:
    return int(current_app.config.get("RECORDS_RETENTION_DAYS", DEFAULT_RETENTION_DAYS))


def anonymise_customer(customer: Customer, now: datetime) -> None:
    """Wipe one customer's personal data, keeping the row, its unit links and dates."""
    for column in WIPE:
        setattr(customer, column, None)
    customer.name = customer.name_key = f"#{customer.id}"
    customer.status = "anonymised"
    customer.anonymised_at = now
    for model in (FamilyMember, Vehicle, CustomFieldValue, CustomerTag):
        db.session.execute(delete(model).where(model.customer_id == customer.id))
    for record in db.session.scalars(select(MergeRecord).where(
            (MergeRecord.source_id == customer.id) | (MergeRecord.target_id == customer.id))):
        record.details = {**record.details, "source_name": None}
    for tombstone in db.session.scalars(select(Customer).where(
            Customer.merged_into_id == customer.id, Customer.status == "merged")):
        tombstone.name = tombstone.name_key = f"#{tombstone.id}"
        tombstone.anonymised_at = now
    db.session.flush()


def expired_customer_ids(now: datetime, days: int | None = None) -> list[int]:
    """Customers without a current unit whose last move-out is older than the retention."""
    cutoff = (now - timedelta(days=retention_days() if days is None else days)).date()
    last_out = (select(Occupancy.customer_id).group_by(Occupancy.customer_id)
                .having(func.count(Occupancy.id) == func.count(Occupancy.move_out))
                .having(func.max(Occupancy.move_out) <= cutoff))
    stmt = select(Customer.id).where(Customer.status.in_(("active", "merged")),
                                     Customer.id.in_(last_out))
    return list(db.session.scalars(stmt.order_by(Customer.id)))


def anonymise_expired(now: datetime, days: int | None = None) -> list[int]:
    """Job: anonymise every customer whose retention ran out; returns their ids."""
    ids = expired_customer_ids(now, days)
    for customer_id in ids:
        customer = db.session.get(Customer, customer_id)
        if customer is not None:
            anonymise_customer(customer, now)
    return ids
