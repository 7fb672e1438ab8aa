"""Re-encrypting protected values under the current key (after a key rotation)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from app.audit.recorder import record_audit
from app.extensions import db
from app.records.crypto import keyring
from app.records.models import Customer, FamilyMember

#: (model, ciphertext column, associated-data label)
ENCRYPTED: list[tuple[Any, str, str]] = [
    (Customer, "id_number_enc", "customer.id_number"),
    (Customer, "phone_enc", "customer.phone"),
    (Customer, "bank_account_enc", "customer.bank_account"),
    (Customer, "emergency_phone_enc", "customer.emergency_phone"),
    (FamilyMember, "phone_enc", "customer_family_member.phone"),
]


def rotate_keys(batch: int = 1000) -> int:
    """Re-encrypt every value not under the current key; returns how many changed.

    Writes with plain UPDATEs (one summary audit event instead of one per row; the values are
    redacted from the trail anyway).
    """
    ring = keyring()
    prefix = f"{ring.current_id}:"
    changed = 0
    for model, column, label in ENCRYPTED:
        col = getattr(model, column)
        last_id = 0
        while True:
            rows = db.session.execute(
                select(model.id, col).where(col.is_not(None), ~col.startswith(prefix),
                                            model.id > last_id)
                .order_by(model.id).limit(batch).execution_options(all_projects=True)).all()
            if not rows:
                break
            for row_id, token in rows:
                value = ring.decrypt(token, label)
                db.session.execute(update(model).where(model.id == row_id).values(
                    {column: ring.encrypt(value, label)}))
            changed += len(rows)
            last_id = rows[-1][0]
    record_audit("records.rotate_key", record_type="customer", after={
        "key_id": ring.current_id, "values": changed})
    db.session.flush()
    return changed
