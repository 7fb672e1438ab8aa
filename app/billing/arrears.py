"""What a unit owes: open and overdue bills, balance, accrued late fees (read-only queries)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import joinedload

from app.extensions import db

from .models import BalanceEntry, Bill, BillingSettings, FeeItem
from .money import late_fee_fen, period_label, yuan


def _open_bills_statement(lock: bool, fee_items: bool) -> Any:
    stmt = (select(Bill).where(Bill.unit_id == bindparam("unit_id"), Bill.status == "open")
            .order_by(Bill.due_date, Bill.id))
    if lock:
        stmt = stmt.with_for_update()
    if fee_items:
        stmt = stmt.options(joinedload(Bill.fee_item))
    return stmt


#: Built once per variant: every payment and every reminder asks for them.
_OPEN_BILLS = {(lock, items): _open_bills_statement(lock, items)
               for lock in (False, True) for items in (False, True)}


def open_bills(unit_id: int, *, lock: bool = False, fee_items: bool = False) -> list[Bill]:
    """The unit's unpaid bills, oldest due first (locked for the transaction if asked;
    ``fee_items``: with their fee items, in the same query)."""
    return list(db.session.scalars(_OPEN_BILLS[lock, fee_items], {"unit_id": unit_id}))


def overdue_bills(unit_id: int, today: date, *, fee_items: bool = False) -> list[Bill]:
    """Unpaid bills whose due date has passed (a bill due today is not overdue yet)."""
    return [b for b in open_bills(unit_id, fee_items=fee_items) if b.due_date < today]


def balance_fen(unit_id: int) -> int:
    """The unit's prepayment balance (sum of its ledger)."""
    return int(db.session.scalar(select(func.coalesce(func.sum(BalanceEntry.amount_fen), 0))
                                 .where(BalanceEntry.unit_id == unit_id)) or 0)


def late_fee_rate(project_id: int) -> tuple[int, int]:
    row = db.session.scalar(select(BillingSettings).where(
        BillingSettings.project_id == project_id))
    return (row.late_fee_per_10k_daily, row.late_fee_grace_days) if row else (0, 0)


def accrued_late_fee(bill: Bill, today: date, rate: tuple[int, int]) -> int:
    """Late fee accrued on a bill's outstanding amount up to ``today`` (0 if none)."""
    per_10k, grace = rate
    days = (today - bill.due_date).days - grace
    return late_fee_fen(bill.outstanding_fen, per_10k, days)


def bill_json(bill: Bill, today: date | None = None,
              rate: tuple[int, int] | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": bill.id, "number": bill.number, "unit_id": bill.unit_id,
        "fee_item": bill.fee_item.name, "fee_item_id": bill.fee_item_id,
        "period": period_label(bill.period_start, bill.period_months),
        "period_start": bill.period_start.isoformat(), "gross_fen": bill.gross_fen,
        "discount_fen": bill.discount_fen, "amount_fen": bill.amount_fen,
        "paid_fen": bill.paid_fen, "outstanding_fen": bill.outstanding_fen,
        "status": bill.status, "due_date": bill.due_date.isoformat(),
        "paid_at": bill.paid_at.isoformat() if bill.paid_at else None,
    }
    if today is not None:
        data["days_overdue"] = max((today - bill.due_date).days, 0) if bill.status == "open" \
            else 0
        data["late_fee_fen"] = accrued_late_fee(bill, today, rate or (0, 0)) \
            if bill.status == "open" else 0
    return data


def _overdue_rows(units: Any, *leading: Any) -> Any:
    """The overdue bills (open, due before ``:today``) of ``units`` as a reminder lists them,
    oldest first; ``leading``: columns put first and sorted on first."""
    return (
        select(*leading, Bill.number, FeeItem.name, Bill.period_start, Bill.period_months,
               Bill.due_date, Bill.amount_fen - Bill.paid_fen)
        .join(FeeItem, FeeItem.id == Bill.fee_item_id)
        .where(units, Bill.status == "open", Bill.due_date < bindparam("today"))
        .order_by(*leading, Bill.due_date, Bill.id))


#: Built once: a dunning pass asks for every case's arrears. Plain rows, not ORM objects — a
#: reminder only reads them, and loading 50,000 units' bills as objects cost more than the rest
#: of the look-up. The second reads many units at once, their id first.
_OVERDUE_ROWS = _overdue_rows(Bill.unit_id == bindparam("unit_id"))
_OVERDUE_ROWS_OF_UNITS = _overdue_rows(Bill.unit_id.in_(bindparam("unit_ids", expanding=True)),
                                       Bill.unit_id)

#: One overdue bill as a reminder lists it: number, item, period start, months, due date,
#: outstanding fen.
OverdueRow = Sequence[Any]


def overdue_rows_of(unit_ids: Iterable[int], today: date) -> dict[int, list[OverdueRow]]:
    """What :func:`reminder_arrears` reads, for many units in one query: {unit id: its
    overdue bills} with every unit asked for (same rules as there)."""
    found: dict[int, list[OverdueRow]] = {unit_id: [] for unit_id in unit_ids}
    if found:
        for unit_id, *bill in db.session.connection().execute(
                _OVERDUE_ROWS_OF_UNITS, {"unit_ids": list(found), "today": today}):
            found[unit_id].append(bill)
    return found


def reminder_arrears(unit_id: int, today: date, label: str,
                     bills: Sequence[OverdueRow] | None = None) -> dict[str, Any]:
    """What the reminder says: the overdue amount and bills, and the oldest due date
    (``bills``: the unit's rows read before by :func:`overdue_rows_of`).

    The dunning pass runs it for every case, so it reads on the transaction's connection, past
    the ORM's per-statement work — only for a unit its caller reached through a scoped path
    (the case of the instance being stepped), after a flush."""
    if bills is None:
        bills = db.session.connection().execute(
            _OVERDUE_ROWS, {"unit_id": unit_id, "today": today}).all()
    return _summary(unit_id, bills, label)


def _summary(unit_id: int, bills: Sequence[OverdueRow], label: str) -> dict[str, Any]:
    total = sum(bill[5] for bill in bills)
    return {
        "unit_id": unit_id,
        "unit_label": label,
        "amount_fen": total,
        "amount_text": f"¥{yuan(total)}",
        "count": len(bills),
        "oldest_due": bills[0][4].isoformat() if bills else None,
        "bills": [{"number": number, "item": item,
                   "period": period_label(start, months),
                   "due_date": due.isoformat(),
                   "outstanding": f"¥{yuan(outstanding)}"}
                  for number, item, start, months, due, outstanding in bills[:20]],
    }
