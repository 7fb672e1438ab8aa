"""Excel and JSON exports: a filtered list (masked), and one customer's full data (PIPL)."""

from __future__ import annotations

from io import BytesIO
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.audit.recorder import record_audit
from app.extensions import db
from app.records import protect
from app.records.merge import merge_history
from app.records.models import Customer, CustomerTag, CustomFieldValue, Tag

LIST_HEADERS = ["number", "name", "kind", "units", "phone", "id_number", "tags", "status"]
EXPORT_LIMIT = 100_000


def _save(workbook: Workbook) -> bytes:
    for sheet in workbook.worksheets:
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        sheet.freeze_panes = "A2"
    buffer = BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def units_text(customer: Customer) -> str:
    return ", ".join(f"{o.unit.label} ({o.relation})" for o in customer.occupancies
                     if o.move_out is None)


def tag_labels(customer_ids: list[int]) -> dict[int, list[str]]:
    labels: dict[int, list[str]] = {}
    if not customer_ids:
        return labels
    rows = db.session.execute(select(CustomerTag.customer_id, Tag.label).join(
        Tag, Tag.id == CustomerTag.tag_id).where(CustomerTag.customer_id.in_(customer_ids)))
    for cid, label in rows:
        labels.setdefault(cid, []).append(label)
    return labels


def export_list(customers: list[Customer]) -> bytes:
    """A workbook of the given customers, protected values masked."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "customers"
    sheet.append(LIST_HEADERS)
    labels = tag_labels([c.id for c in customers])
    for c in customers:
        sheet.append([c.number, c.name, c.kind, units_text(c), protect.masked(c, "phone"),
                      protect.masked(c, "id_number"), ", ".join(labels.get(c.id, [])),
                      c.status])
    return _save(workbook)


def customer_data(customer: Customer) -> dict[str, Any]:
    """Everything held about one customer, protected values in full (audited)."""
    record_audit("records.export_customer", record_type="customer", record_id=customer.id,
                 project_id=customer.project_id)
    values = db.session.execute(select(CustomFieldValue).where(
        CustomFieldValue.customer_id == customer.id)).scalars()
    history = db.session.scalars(select(AuditEvent).where(
        AuditEvent.record_type == "customer", AuditEvent.record_id == str(customer.id))
        .order_by(AuditEvent.at, AuditEvent.id))
    return {
        "customer": {
            "number": customer.number, "kind": customer.kind, "name": customer.name,
            "id_type": customer.id_type, "id_number": protect.plain(customer, "id_number"),
            "birth_date": customer.birth_date and customer.birth_date.isoformat(),
            "phone": protect.plain(customer, "phone"),
            "bank_account": protect.plain(customer, "bank_account"),
            "email": customer.email, "preferred_channel": customer.preferred_channel,
            "emergency_contact": {"name": customer.emergency_name,
                                  "relation": customer.emergency_relation,
                                  "phone": protect.plain(customer, "emergency_phone")},
            "note": customer.note, "status": customer.status,
            "created_at": customer.created_at.isoformat(),
        },
        "units": [{"unit": o.unit.label, "relation": o.relation,
                   "move_in": o.move_in and o.move_in.isoformat(),
                   "move_out": o.move_out and o.move_out.isoformat()}
                  for o in customer.occupancies],
        "family": [{"name": m.name, "relation": m.relation, "phone": protect.family_phone(m)}
                   for m in customer.family],
        "vehicles": [{"plate": x.plate, "parking_space": x.parking_space}
                     for x in customer.vehicles],
        "custom_fields": {val.field.code: val.value for val in values},
        "tags": tag_labels([customer.id]).get(customer.id, []),
        "merges": [m.details for m in merge_history(customer)],
        "history": [{"at": e.at.isoformat(), "by": e.actor_label, "action": e.action,
                     "before": e.before, "after": e.after} for e in history],
    }


def customer_workbook(data: dict[str, Any]) -> bytes:
    """The same data as :func:`customer_data`, one sheet per section."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "customer"
    sheet.append(["field", "value"])
    for key, value in data["customer"].items():
        sheet.append([key, str(value) if isinstance(value, dict) else value])
    for section in ("units", "family", "vehicles", "history"):
        part = workbook.create_sheet(section)
        rows = data[section]
        keys = list(rows[0]) if rows else ["(none)"]
        part.append(keys)
        for row in rows:
            part.append([str(row[k]) if isinstance(row[k], dict) else row[k] for k in keys])
    extra = workbook.create_sheet("custom_fields")
    extra.append(["field", "value"])
    for key, value in data["custom_fields"].items():
        extra.append([key, value])
    extra.append(["tags", ", ".join(data["tags"])])
    return _save(workbook)
