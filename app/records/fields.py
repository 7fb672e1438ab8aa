"""Custom fields that admins define per project: text, number, date, choice."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select

from app.errors import Conflict, FieldErrors
from app.extensions import db
from app.records.models import FIELD_KINDS, Customer, CustomFieldDef, CustomFieldValue
from app.records.validation import Invalid

CODE_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


def project_fields(project_id: int, active_only: bool = True) -> list[CustomFieldDef]:
    stmt = select(CustomFieldDef).where(CustomFieldDef.project_id == project_id)
    if active_only:
        stmt = stmt.where(CustomFieldDef.active.is_(True))
    return list(db.session.scalars(stmt.order_by(CustomFieldDef.position, CustomFieldDef.id)))


def define_field(project_id: int, code: str, label: str, kind: str,
                 choices: list[str] | None = None, required: bool = False) -> CustomFieldDef:
    """Add a custom field to a project's customers."""
    errors: dict[str, str] = {}
    if not CODE_RE.match(code):
        errors["code"] = "lower-case letters, digits and _ (start with a letter)"
    if not label.strip():
        errors["label"] = "required"
    if kind not in FIELD_KINDS:
        errors["kind"] = f"one of {', '.join(FIELD_KINDS)}"
    clean_choices = [c.strip() for c in choices or [] if c.strip()]
    if kind == "choice" and not clean_choices:
        errors["choices"] = "a choice field needs at least one choice"
    if errors:
        raise FieldErrors(errors)
    if db.session.scalar(select(CustomFieldDef.id).where(
            CustomFieldDef.project_id == project_id, CustomFieldDef.code == code)):
        raise Conflict(f"field {code} exists", field="code")
    position = len(project_fields(project_id, active_only=False))
    field = CustomFieldDef(project_id=project_id, code=code, label=label.strip(), kind=kind,
                           choices=clean_choices if kind == "choice" else None,
                           required=required, position=position)
    db.session.add(field)
    db.session.flush()
    return field


def normalise_value(field: CustomFieldDef, raw: Any) -> str | None:
    """The stored form of ``raw`` for ``field`` (None when empty), or :class:`Invalid`."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        if field.required:
            raise Invalid("required")
        return None
    if field.kind == "number":
        try:
            number = Decimal(str(raw).strip())
        except InvalidOperation as exc:
            raise Invalid("not a number") from exc
        if not number.is_finite():
            raise Invalid("not a number")
        return format(number.normalize(), "f")
    if field.kind == "date":
        if isinstance(raw, datetime):
            return raw.date().isoformat()
        if isinstance(raw, date):
            return raw.isoformat()
        try:
            return date.fromisoformat(str(raw).strip()).isoformat()
        except ValueError as exc:
            raise Invalid("use the form YYYY-MM-DD") from exc
    text = str(raw).strip()
    if field.kind == "choice" and text not in (field.choices or []):
        raise Invalid(f"one of: {', '.join(field.choices or [])}")
    if len(text) > 500:
        raise Invalid("at most 500 characters")
    return text


def set_values(customer: Customer, fields: list[CustomFieldDef], values: dict[str, str | None],
               existing: dict[int, CustomFieldValue] | None = None) -> None:
    """Write already-normalised values (code → value; None deletes)."""
    if existing is None:
        existing = {v.field_id: v for v in customer.field_values} if customer.id else {}
    by_code = {f.code: f for f in fields}
    for code, value in values.items():
        field = by_code[code]
        row = existing.get(field.id)
        if value is None:
            if row is not None:
                db.session.delete(row)
        elif row is None:
            db.session.add(CustomFieldValue(project_id=customer.project_id, customer=customer,
                                            field_id=field.id, value=value))
        elif row.value != value:
            row.value = value
