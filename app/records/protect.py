"""Reading and writing protected values: encrypt, index, mask, reveal (audited)."""

from __future__ import annotations

from typing import Any

from app.audit.recorder import record_audit
from app.records import validation as v
from app.records.crypto import keyring
from app.records.models import Customer, FamilyMember

#: field name → (ciphertext column, blind-index column or None, index kind)
PROTECTED_FIELDS: dict[str, tuple[str, str | None]] = {
    "id_number": ("id_number_enc", "id_number_bidx"),
    "phone": ("phone_enc", "phone_bidx"),
    "bank_account": ("bank_account_enc", "bank_account_bidx"),
    "emergency_phone": ("emergency_phone_enc", None),
}


def column_label(model: type, column: str) -> str:
    return f"{model.__tablename__}.{column}"  # type: ignore[attr-defined]


def id_index(id_type: str, normalised: str) -> str:
    # Every document type shares one index kind so the same number is found whatever its type.
    return keyring().blind_index("id", normalised)


def phone_index(e164: str) -> str:
    return keyring().blind_index("phone", e164)


def bank_index(number: str) -> str:
    return keyring().blind_index("bank", number)


def set_id_number(customer: Customer, id_type: str | None, value: str | None) -> None:
    """Validate, encrypt and index an identity number (``None``/empty clears it)."""
    if not value or not id_type:
        customer.id_type = id_type or None
        customer.id_number_enc = customer.id_number_bidx = None
        customer.birth_date = None
        return
    normalised = v.normalise_id(id_type, value)
    customer.id_type = id_type
    customer.id_number_enc = keyring().encrypt(normalised, column_label(Customer, "id_number"))
    customer.id_number_bidx = id_index(id_type, normalised)
    customer.birth_date = v.birth_date_from_ric(normalised) if id_type == "ric" else None


def set_phone(customer: Customer, value: str | None) -> None:
    if not value:
        customer.phone_enc = customer.phone_bidx = None
        return
    e164 = v.normalise_phone(value)
    customer.phone_enc = keyring().encrypt(e164, column_label(Customer, "phone"))
    customer.phone_bidx = phone_index(e164)


def set_bank_account(customer: Customer, value: str | None) -> None:
    if not value:
        customer.bank_account_enc = customer.bank_account_bidx = None
        return
    number = v.normalise_bank_account(value)
    customer.bank_account_enc = keyring().encrypt(number, column_label(Customer, "bank_account"))
    customer.bank_account_bidx = bank_index(number)


def set_emergency_phone(customer: Customer, value: str | None) -> None:
    customer.emergency_phone_enc = keyring().encrypt(
        v.normalise_phone(value), column_label(Customer, "emergency_phone")) if value else None


def set_family_phone(member: FamilyMember, value: str | None) -> None:
    member.phone_enc = keyring().encrypt(
        v.normalise_phone(value), column_label(FamilyMember, "phone")) if value else None


def plain(customer: Customer, field: str) -> str | None:
    """The decrypted value (internal use: masking, exports that were audited)."""
    column = PROTECTED_FIELDS[field][0]
    token = getattr(customer, column)
    if token is None:
        return None
    text = keyring().decrypt(token, column_label(Customer, field))
    return v.national_phone(text) if field in {"phone", "emergency_phone"} else text


def phone_e164(phone_enc: str | None) -> str | None:
    """A customer's phone from its ciphertext, in E.164 as stored (for sending, not showing)."""
    if phone_enc is None:
        return None
    return keyring().decrypt(phone_enc, column_label(Customer, "phone"))


def family_phone(member: FamilyMember) -> str | None:
    if member.phone_enc is None:
        return None
    return v.national_phone(keyring().decrypt(member.phone_enc,
                                              column_label(FamilyMember, "phone")))


def mask(field: str, value: str | None) -> str | None:
    """138****5678; ID 310***********1234; bank 6222********1234; others keep 1+2."""
    if value is None:
        return None
    if field in {"phone", "emergency_phone"}:
        keep_start, keep_end = (3, 4) if len(value) >= 11 else (2, 2)
    elif field == "id_number":
        keep_start, keep_end = (3, 4) if len(value) >= 15 else (1, 2)
    elif field == "bank_account":
        keep_start, keep_end = 4, 4
    else:
        keep_start, keep_end = 1, 2
    if len(value) <= keep_start + keep_end:
        return "*" * len(value)
    return value[:keep_start] + "*" * (len(value) - keep_start - keep_end) + value[-keep_end:]


def masked(customer: Customer, field: str) -> str | None:
    return mask(field, plain(customer, field))


def shown(customer: Customer, field: str, full: bool) -> str | None:
    """Full value when ``full`` (the caller checked ``records.reveal``), else masked."""
    return plain(customer, field) if full else masked(customer, field)


def reveal(customer: Customer, field: str) -> str | None:
    """The full value, written to the audit trail as a reveal (caller checks permission)."""
    if field not in PROTECTED_FIELDS:
        raise KeyError(field)
    value = plain(customer, field)
    record_audit("records.reveal", record_type="customer", record_id=customer.id,
                 project_id=customer.project_id, after={"field": field})
    return value


def protected_view(customer: Customer) -> dict[str, Any]:
    """Every protected field masked (what any reader of the record may see)."""
    return {field: masked(customer, field) for field in PROTECTED_FIELDS}
