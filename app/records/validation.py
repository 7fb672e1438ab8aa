"""Validation and normalisation of identity documents, phone numbers and plates."""

from __future__ import annotations

import re
from datetime import date

import phonenumbers
from stdnum import exceptions as stdnum_errors
from stdnum.cn import ric, uscc

ID_TYPES = ("ric", "passport", "uscc", "other")
PASSPORT_RE = re.compile(r"^[A-Z0-9]{5,17}$")
PLATE_RE = re.compile(r"^[\u4e00-\u9fa5][A-Z][A-Z0-9]{5,6}$")


class Invalid(ValueError):
    """The value is not valid; the message says why."""


def normalise_id(id_type: str, value: str) -> str:
    """The canonical form of an identity number, or :class:`Invalid`."""
    text = value.strip().upper().replace(" ", "")
    if not text:
        raise Invalid("required")
    if id_type == "ric":
        try:
            return str(ric.validate(text))
        except stdnum_errors.InvalidChecksum as exc:
            raise Invalid("the check digit of this ID number is wrong") from exc
        except stdnum_errors.InvalidLength as exc:
            raise Invalid("a mainland ID number has 18 characters") from exc
        except stdnum_errors.ValidationError as exc:
            raise Invalid("not a valid mainland resident ID number") from exc
    if id_type == "passport":
        if not PASSPORT_RE.match(text):
            raise Invalid("a passport number has 5–17 letters and digits")
        return text
    if id_type == "uscc":
        try:
            return str(uscc.validate(text))
        except stdnum_errors.ValidationError as exc:
            raise Invalid("not a valid unified social credit code") from exc
    if id_type == "other":
        if len(text) > 40:
            raise Invalid("at most 40 characters")
        return text
    raise Invalid(f"unknown ID type {id_type!r}")


def birth_date_from_ric(number: str) -> date | None:
    """The birth date encoded in a mainland ID number (None when it has none)."""
    try:
        return ric.get_birth_date(number)  # type: ignore[no-any-return]
    except (stdnum_errors.ValidationError, ValueError):
        return None


def normalise_phone(value: str, region: str = "CN") -> str:
    """E.164 form of a valid phone number (mainland by default), or :class:`Invalid`."""
    text = value.strip()
    if not text:
        raise Invalid("required")
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise Invalid("not a phone number") from exc
    if not phonenumbers.is_valid_number(parsed):
        raise Invalid("not a valid phone number")
    return str(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))


def national_phone(e164: str) -> str:
    """The digits a person dials at home: ``13812345678`` for a mainland mobile."""
    parsed = phonenumbers.parse(e164, None)
    if parsed.country_code == 86:
        return str(parsed.national_number)
    return e164


def normalise_bank_account(value: str) -> str:
    text = re.sub(r"[\s-]", "", value)
    if not text.isdigit() or not 12 <= len(text) <= 30:
        raise Invalid("a bank account number has 12–30 digits")
    return text


def normalise_plate(value: str) -> str:
    text = value.strip().upper().replace(" ", "").replace("·", "").replace("-", "")
    if not PLATE_RE.match(text):
        raise Invalid("not a mainland plate number (e.g. 沪A12345)")
    return text


def normalise_name(value: str) -> str:
    """Names compared for duplicates: trimmed, inner whitespace collapsed, case-folded."""
    return " ".join(value.split()).casefold()
