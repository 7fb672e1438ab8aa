"""Bank / finance-system statements from Excel, matched to bills.

Matching, in order: the bill number in the row (the payment goes to that bill first); else
the unit named in the row (``1号楼-101``) when the amount equals one of its open bills or its
whole outstanding total. A row with a reference already recorded as a payment is a duplicate.
Everything else waits as ``unmatched`` for a person to match it to a unit (and bill).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import select

from app.accounts.models import User
from app.clock import clock
from app.errors import Conflict, FieldErrors, NotFound
from app.extensions import db
from app.projects.models import Building, Unit

from .arrears import open_bills
from .models import PAYMENT_METHODS, Bill, Payment, StatementImport, StatementRow
from .money import parse_yuan
from .payments import record_payment
from .sheets import sheet_rows

COLUMNS = ("date", "amount", "reference")
OPTIONAL = ("payer", "bill_number", "unit", "method")


def _cell_date(value: Any, row: int) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value or "").strip()[:10])
    except ValueError as exc:
        raise FieldErrors({f"row {row}": f"date: not a date {value!r}"}) from exc


def _units_by_label(project_id: int) -> dict[str, Unit]:
    rows = db.session.execute(select(Unit, Building.name).join(Building)
                              .where(Unit.project_id == project_id)).tuples()
    return {f"{name}-{unit.number}": unit for unit, name in rows}


def _match(row: StatementRow, units: dict[str, Unit], user: User | None) -> None:
    if db.session.scalar(select(Payment.id).where(Payment.project_id == row.project_id,
                                                  Payment.reference == row.reference)):
        row.status, row.note = "duplicate", "a payment with this reference exists"
        return
    if db.session.scalar(select(StatementRow.id).where(
            StatementRow.project_id == row.project_id, StatementRow.id != row.id,
            StatementRow.reference == row.reference, StatementRow.amount_fen == row.amount_fen,
            StatementRow.booked_on == row.booked_on)):
        row.status, row.note = "duplicate", "imported before (same reference, amount, date)"
        return
    bill = None
    if row.bill_number:
        bill = db.session.scalar(select(Bill).where(Bill.project_id == row.project_id,
                                                    Bill.number == row.bill_number))
    if bill is not None:
        _pay(row, bill.unit, bill if bill.status == "open" else None, user, "bill number")
        return
    unit = units.get((row.unit_text or "").replace(" ", ""))
    if unit is not None:
        bills = open_bills(unit.id)
        same = [b for b in bills if b.outstanding_fen == row.amount_fen]
        total = sum(b.outstanding_fen for b in bills)
        if same or (bills and total == row.amount_fen):
            _pay(row, unit, same[0] if same else None, user, "unit + amount")
            return
    row.status, row.note = "unmatched", "no bill number or unit + amount match"


def _pay(row: StatementRow, unit: Unit, bill: Bill | None, user: User | None, how: str) -> None:
    payment = record_payment(unit, row.amount_fen, row.method, reference=row.reference,
                             payer=row.payer, bill=bill, user=user, source="statement",
                             received_at=datetime.combine(row.booked_on, datetime.min.time(),
                                                          clock.now().tzinfo),
                             note=f"statement row {row.row_no}")
    row.status, row.payment_id, row.note = "matched", payment.id, f"matched by {how}"


def import_statement(project_id: int, filename: str, content: bytes,
                     user: User | None = None) -> StatementImport:
    """Read every row first (any malformed row → nothing is imported), then match each."""
    rows = sheet_rows(content, COLUMNS, OPTIONAL)
    parsed: list[dict[str, Any]] = []
    errors: dict[str, str] = {}
    for number, cell in rows:
        try:
            booked = _cell_date(cell["date"], number)
            amount = parse_yuan(cell["amount"], f"row {number}")
            if amount <= 0:
                raise FieldErrors({f"row {number}": "amount must be positive"})
            reference = str(cell["reference"] or "").strip()
            if not reference:
                raise FieldErrors({f"row {number}": "reference: required"})
            method = str(cell.get("method") or "bank_transfer").strip()
            if method not in PAYMENT_METHODS or method == "balance":
                raise FieldErrors({f"row {number}": f"method: unknown {method!r}"})
        except FieldErrors as exc:
            errors.update(exc.fields)
            continue
        parsed.append({"row_no": number, "booked_on": booked, "amount_fen": amount,
                       "reference": reference[:100], "method": method,
                       "payer": str(cell.get("payer") or "").strip()[:100] or None,
                       "bill_number": str(cell.get("bill_number") or "").strip() or None,
                       "unit_text": str(cell.get("unit") or "").strip()[:64] or None})
    if errors:
        raise FieldErrors(errors, "the statement was not imported")
    statement = StatementImport(project_id=project_id, filename=filename[:200],
                                imported_at=clock.now(),
                                imported_by_id=user.id if user else None,
                                rows_total=len(parsed), rows_matched=0)
    db.session.add(statement)
    db.session.flush()
    units = _units_by_label(project_id)
    for item in parsed:
        row = StatementRow(project_id=project_id, statement_id=statement.id, status="unmatched",
                           **item)
        db.session.add(row)
        db.session.flush()
        _match(row, units, user)
    statement.rows_matched = sum(1 for r in statement.rows if r.status == "matched")
    db.session.flush()
    return statement


def get_row(row_id: int) -> StatementRow:
    row = db.session.get(StatementRow, row_id)
    if row is None:
        raise NotFound(f"no statement row {row_id}")
    return row


def match_row(row: StatementRow, unit: Unit, bill: Bill | None, user: User) -> StatementRow:
    """A person matches an unmatched row to a unit (and optionally a bill)."""
    if row.status != "unmatched":
        raise Conflict(f"this row is {row.status}", field="status")
    if unit.project_id != row.project_id:
        raise FieldErrors({"unit_id": "the unit is in another project"})
    _pay(row, unit, bill, user, f"hand ({user.username})")
    row.statement.rows_matched += 1
    db.session.flush()
    return row


def ignore_row(row: StatementRow, note: str) -> StatementRow:
    """Mark a row as not ours (a transfer that is no payment for a unit)."""
    if row.status != "unmatched":
        raise Conflict(f"this row is {row.status}", field="status")
    if not (note or "").strip():
        raise FieldErrors({"note": "required"})
    row.status, row.note = "ignored", note.strip()[:200]
    db.session.flush()
    return row
