"""Read side shared by pages and API: lists and JSON shapes of billing records."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app.accounts.models import User
from app.errors import NotFound
from app.extensions import db
from app.projects.models import Unit
from app.records.models import Customer, Occupancy

from .arrears import balance_fen, bill_json, late_fee_rate
from .models import (
    Allocation,
    Bill,
    DunningCase,
    FeeItem,
    Payment,
    Refund,
    StatementImport,
    StatementRow,
)
from .money import local_today, yuan


def fee_items(project_id: int) -> list[FeeItem]:
    return list(db.session.scalars(select(FeeItem).where(FeeItem.project_id == project_id)
                                   .order_by(FeeItem.code)))


def fee_json(item: FeeItem) -> dict[str, Any]:
    return {"id": item.id, "project_id": item.project_id, "code": item.code, "name": item.name,
            "kind": item.kind, "unit_price_fen": item.unit_price_fen, "cycle": item.cycle,
            "due_days": item.due_days, "unit_ids": item.unit_ids, "active": item.active}


def unit_bills(unit_id: int, limit: int = 200) -> list[Bill]:
    return list(db.session.scalars(select(Bill).where(Bill.unit_id == unit_id)
                                   .order_by(Bill.due_date.desc(), Bill.id.desc()).limit(limit)))


def unit_payments(unit_id: int, limit: int = 100) -> list[Payment]:
    return list(db.session.scalars(select(Payment).where(Payment.unit_id == unit_id)
                                   .order_by(Payment.received_at.desc(), Payment.id.desc())
                                   .limit(limit)))


def payment_json(payment: Payment) -> dict[str, Any]:
    return {"id": payment.id, "number": payment.number, "unit_id": payment.unit_id,
            "unit": payment.unit.label, "method": payment.method,
            "reference": payment.reference, "payer": payment.payer,
            "amount_fen": payment.amount_fen, "amount": yuan(payment.amount_fen),
            "to_balance_fen": payment.to_balance_fen, "source": payment.source,
            "received_at": payment.received_at.isoformat(),
            "allocations": [{"bill_id": a.bill_id, "bill_number": a.bill.number,
                             "amount_fen": a.amount_fen} for a in payment.allocations]}


def account_json(unit: Unit, resident: bool = False) -> dict[str, Any]:
    today = local_today()
    rate = late_fee_rate(unit.project_id)
    bills = unit_bills(unit.id)
    open_ = [b for b in bills if b.status == "open"]
    overdue = [b for b in open_ if b.due_date < today]
    case = db.session.scalar(select(DunningCase).where(DunningCase.unit_id == unit.id,
                                                       DunningCase.status == "open"))
    data = {
        "unit_id": unit.id, "unit": unit.label, "balance_fen": balance_fen(unit.id),
        "outstanding_fen": sum(b.outstanding_fen for b in open_),
        "overdue_fen": sum(b.outstanding_fen for b in overdue),
        "late_fee_fen": sum(bill_json(b, today, rate)["late_fee_fen"] for b in overdue),
        "bills": [bill_json(b, today, rate) for b in bills],
        "payments": [payment_json(p) for p in unit_payments(unit.id)],
        "dunning": case_json(case) if case is not None else None,
    }
    if resident and data["dunning"] is not None:
        data["dunning"] = {"status": case.status, "since": case.oldest_due.isoformat(),  # type: ignore[union-attr]
                           "access_frozen": case.freeze_state == "frozen"}  # type: ignore[union-attr]
    return data


def bill_detail(bill: Bill) -> dict[str, Any]:
    data = bill_json(bill, local_today(), late_fee_rate(bill.project_id))
    data["lines"] = [{"kind": li.kind, "description": li.description,
                      "quantity_c": li.quantity_c, "unit_price_fen": li.unit_price_fen,
                      "amount_fen": li.amount_fen} for li in bill.lines]
    data["allocations"] = [{"payment_id": a.payment_id, "amount_fen": a.amount_fen,
                            "from_balance": a.payment_id is None, "at": a.at.isoformat()}
                           for a in db.session.scalars(select(Allocation).where(
                               Allocation.bill_id == bill.id).order_by(Allocation.id))]
    return data


def refund_json(refund: Refund) -> dict[str, Any]:
    return {"id": refund.id, "unit_id": refund.unit_id, "amount_fen": refund.amount_fen,
            "method": refund.method, "reason": refund.reason, "status": refund.status,
            "requested_by_id": refund.requested_by_id, "decided_by_id": refund.decided_by_id,
            "decision_note": refund.decision_note}


def refunds(project_id: int, status: str | None = "requested") -> list[Refund]:
    stmt = select(Refund).where(Refund.project_id == project_id).order_by(Refund.id.desc())
    if status:
        stmt = stmt.where(Refund.status == status)
    return list(db.session.scalars(stmt.limit(200)))


def row_json(row: StatementRow) -> dict[str, Any]:
    return {"id": row.id, "row_no": row.row_no, "booked_on": row.booked_on.isoformat(),
            "amount_fen": row.amount_fen, "reference": row.reference, "payer": row.payer,
            "bill_number": row.bill_number, "unit": row.unit_text, "status": row.status,
            "note": row.note, "payment_id": row.payment_id}


def statement_json(statement: StatementImport) -> dict[str, Any]:
    return {"id": statement.id, "filename": statement.filename,
            "rows_total": statement.rows_total, "rows_matched": statement.rows_matched,
            "rows": [row_json(r) for r in statement.rows]}


def unmatched_rows(project_id: int) -> list[StatementRow]:
    return list(db.session.scalars(select(StatementRow).where(
        StatementRow.project_id == project_id, StatementRow.status == "unmatched")
        .order_by(StatementRow.booked_on, StatementRow.id).limit(500)))


def case_json(case: DunningCase) -> dict[str, Any]:
    return {"id": case.id, "unit_id": case.unit_id, "unit": case.unit.label,
            "status": case.status, "instance_id": case.instance_id,
            "oldest_due": case.oldest_due.isoformat(), "reminders": case.reminders,
            "restarts": case.restarts, "freeze_state": case.freeze_state,
            "freeze_reason": case.freeze_reason, "opened_at": case.opened_at.isoformat(),
            "closed_at": case.closed_at.isoformat() if case.closed_at else None}


# --- residents ------------------------------------------------------------------------------


def my_units(user: User) -> list[Unit]:
    """Units the signed-in resident is (or was) linked to through their customer record."""
    return list(db.session.scalars(
        select(Unit).join(Occupancy, Occupancy.unit_id == Unit.id)
        .join(Customer, Customer.id == Occupancy.customer_id)
        .where(Customer.user_id == user.id, Occupancy.move_out.is_(None))
        .order_by(Unit.id).distinct()))


def my_bill(user: User, bill_id: int) -> Bill:
    bill = db.session.get(Bill, bill_id)
    if bill is None or bill.unit_id not in {u.id for u in my_units(user)}:
        raise NotFound(f"no bill {bill_id}")
    return bill


def my_payment(user: User, payment_id: int) -> Payment:
    payment = db.session.get(Payment, payment_id)
    if payment is None or payment.unit_id not in {u.id for u in my_units(user)}:
        raise NotFound(f"no payment {payment_id}")
    return payment
