"""Payments, their allocation to bills, the prepayment balance and refunds.

Allocation rule: a payment goes to the unit's open bills oldest due first (a named bill
first), whole fen by whole fen; what is left is kept as the unit's balance. So for every
payment ``sum(allocations) + to_balance_fen == amount_fen``, and every bill's ``paid_fen`` is
the sum of its allocations. Operations flush, never commit.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select

from app.accounts.models import User
from app.clock import clock
from app.errors import Conflict, FieldErrors, Forbidden, NotFound
from app.extensions import db
from app.projects.models import Unit
from app.records.models import Occupancy

from . import dunning
from .arrears import balance_fen, open_bills
from .models import PAYMENT_METHODS, Allocation, BalanceEntry, Bill, Payment, Refund
from .money import local_today


def get_unit(unit_id: int) -> Unit:
    unit = db.session.get(Unit, unit_id)
    if unit is None:
        raise NotFound(f"no unit {unit_id}")
    return unit


def owner_of(unit_id: int) -> int | None:
    """The unit's current owner (customer id), if recorded."""
    return db.session.scalar(
        select(Occupancy.customer_id).where(Occupancy.unit_id == unit_id,
                                            Occupancy.relation == "owner",
                                            Occupancy.move_out.is_(None))
        .order_by(Occupancy.customer_id).limit(1))


def _settle(bill: Bill, amount: int, now: datetime, *, payment: Payment | None = None,
            entry: BalanceEntry | None = None) -> Allocation:
    bill.paid_fen += amount
    if bill.paid_fen == bill.amount_fen:
        bill.status, bill.paid_at = "paid", now
    allocation = Allocation(project_id=bill.project_id, bill_id=bill.id, amount_fen=amount,
                            at=now, payment=payment,
                            balance_entry_id=entry.id if entry is not None else None)
    db.session.add(allocation)
    return allocation


def record_payment(
    unit: Unit,
    amount_fen: int,
    method: str,
    *,
    reference: str | None = None,
    payer: str | None = None,
    note: str | None = None,
    bill: Bill | None = None,
    user: User | None = None,
    source: str = "cashier",
    received_at: datetime | None = None,
    notify_dunning: bool = True,
) -> Payment:
    """Record money received for a unit and allocate it (a named bill first, then oldest
    due first; the rest becomes balance). A partial or full payment of overdue bills moves
    the unit's dunning case on."""
    if isinstance(amount_fen, bool) or not isinstance(amount_fen, int) or amount_fen <= 0:
        raise FieldErrors({"amount_fen": "a positive whole number of fen"})
    if method not in PAYMENT_METHODS or method == "balance":
        raise FieldErrors({"method": f"one of {', '.join(PAYMENT_METHODS[:-1])}"})
    if method in ("pos", "bank_transfer", "wechat", "alipay") and not (reference or "").strip():
        raise FieldErrors({"reference": "required for this method (transaction number)"})
    if bill is not None and (bill.unit_id != unit.id or bill.status != "open"):
        raise FieldErrors({"bill_id": "not an open bill of this unit"})
    now = clock.now()
    payment = Payment(
        project_id=unit.project_id, number=f"tmp-{uuid.uuid4().hex[:24]}", unit_id=unit.id,
        customer_id=owner_of(unit.id), method=method, reference=(reference or "").strip() or None,
        payer=(payer or "").strip() or None, amount_fen=amount_fen, source=source, note=note,
        received_at=received_at or now, received_by_id=user.id if user else None,
        to_balance_fen=0,
    )
    db.session.add(payment)
    db.session.flush()
    payment.number = f"SK{local_today(now):%Y%m%d}-{payment.id:07d}"
    remaining = amount_fen
    bills = open_bills(unit.id, lock=True)
    if bill is not None:
        bills = [bill] + [b for b in bills if b.id != bill.id]
    for target in bills:
        if remaining == 0:
            break
        take = min(remaining, target.outstanding_fen)
        if take > 0:
            _settle(target, take, now, payment=payment)
            remaining -= take
    if remaining:
        payment.to_balance_fen = remaining
        db.session.add(BalanceEntry(project_id=unit.project_id, unit_id=unit.id,
                                    kind="prepayment", amount_fen=remaining,
                                    payment_id=payment.id, at=now))
    db.session.flush()
    if notify_dunning:
        dunning.arrears_changed(unit.id)
    return payment


def apply_balance(unit_id: int) -> int:
    """Use the unit's balance for its open bills (oldest due first); fen applied."""
    available = balance_fen(unit_id)
    applied = 0
    if available <= 0:
        return 0
    now = clock.now()
    for bill in open_bills(unit_id, lock=True):
        take = min(available - applied, bill.outstanding_fen)
        if take <= 0:
            break
        entry = BalanceEntry(project_id=bill.project_id, unit_id=unit_id, kind="applied",
                             amount_fen=-take, at=now)
        db.session.add(entry)
        db.session.flush()
        _settle(bill, take, now, entry=entry)
        applied += take
    db.session.flush()
    return applied


def apply_balances_to_units(unit_ids: list[int]) -> int:
    """:func:`apply_balance` for each unit (after a billing run); total fen applied."""
    return sum(apply_balance(unit_id) for unit_id in unit_ids)


def get_payment(payment_id: int) -> Payment:
    payment = db.session.get(Payment, payment_id)
    if payment is None:
        raise NotFound(f"no payment {payment_id}")
    return payment


# --- refunds -----------------------------------------------------------------------------


def _pending_refunds(unit_id: int) -> int:
    return sum(r.amount_fen for r in db.session.scalars(
        select(Refund).where(Refund.unit_id == unit_id, Refund.status == "requested")))


def request_refund(unit: Unit, amount_fen: int, method: str, reason: str, user: User) -> Refund:
    """Ask to pay back part of a unit's balance; a second person approves."""
    reason = (reason or "").strip()
    errors: dict[str, str] = {}
    if isinstance(amount_fen, bool) or not isinstance(amount_fen, int) or amount_fen <= 0:
        errors["amount_fen"] = "a positive whole number of fen"
    elif amount_fen > balance_fen(unit.id) - _pending_refunds(unit.id):
        errors["amount_fen"] = "more than the unit's balance not yet promised to other refunds"
    if method not in PAYMENT_METHODS or method == "balance":
        errors["method"] = f"one of {', '.join(PAYMENT_METHODS[:-1])}"
    if not reason:
        errors["reason"] = "required"
    if errors:
        raise FieldErrors(errors)
    refund = Refund(project_id=unit.project_id, unit_id=unit.id, amount_fen=amount_fen,
                    method=method, reason=reason, status="requested", requested_by_id=user.id,
                    requested_at=clock.now())
    db.session.add(refund)
    db.session.flush()
    return refund


def get_refund(refund_id: int) -> Refund:
    refund = db.session.get(Refund, refund_id)
    if refund is None:
        raise NotFound(f"no refund {refund_id}")
    return refund


def decide_refund(refund: Refund, approve: bool, user: User, note: str | None = None) -> Refund:
    """Approve (the money leaves the balance) or reject a refund; never by its requester."""
    if refund.status != "requested":
        raise Conflict(f"this refund is already {refund.status}", field="status")
    if refund.requested_by_id == user.id:
        raise Forbidden("A refund must be approved by someone other than who requested it.")
    if not approve and not (note or "").strip():
        raise FieldErrors({"note": "say why the refund is rejected"})
    now = clock.now()
    if approve:
        if refund.amount_fen > balance_fen(refund.unit_id):
            raise Conflict("the unit's balance no longer covers this refund", field="amount_fen")
        db.session.add(BalanceEntry(project_id=refund.project_id, unit_id=refund.unit_id,
                                    kind="refund", amount_fen=-refund.amount_fen,
                                    refund_id=refund.id, at=now))
    refund.status = "approved" if approve else "rejected"
    refund.decided_by_id, refund.decided_at = user.id, now
    refund.decision_note = (note or "").strip() or None
    db.session.flush()
    return refund
