"""The billing run: bills for every occupied unit, set-based (INSERT … SELECT per fee item).

Running it twice for a period creates nothing the second time: each insert skips the
(unit, fee item, period) triples that already have a bill, and the unique constraint on them
stops a concurrent run. Amounts are computed in SQL with integer arithmetic only (areas and
readings as hundredths), by the rules of :mod:`app.billing.money`, so SQLite and PostgreSQL
produce the same fen.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    CursorResult,
    String,
    and_,
    cast,
    exists,
    func,
    insert,
    literal,
    text,
)
from sqlalchemy import select as sa_select
from sqlalchemy.sql.elements import ColumnElement

from app.audit.actor import current_actor
from app.clock import clock
from app.extensions import db
from app.projects.models import Project, Unit
from app.records.models import Occupancy

from .fees import discount_for
from .models import CYCLES, BalanceEntry, Bill, BillingRun, BillLine, FeeItem, MeterReading
from .money import add_months, local_today, period_label, period_start
from .payments import apply_balances_to_units


@dataclass
class RunResult:
    project_id: int
    bills_created: int = 0
    amount_fen: int = 0
    runs: int = 0
    balance_applied_fen: int = 0

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

#: Bills created by one run after which PostgreSQL's statistics of ``bill`` are refreshed.
ANALYZE_AFTER = 1000


def _half_up(numerator: ColumnElement[Any], denominator: int) -> ColumnElement[Any]:
    """(n * 2 + d) / (2 d) in integer SQL arithmetic: n / d rounded half up (n ≥ 0)."""
    return (numerator * 2 + denominator) // (denominator * 2)


def _owner_subquery() -> Any:
    return (sa_select(Occupancy.unit_id, func.min(Occupancy.customer_id).label("customer_id"))
            .where(Occupancy.relation == "owner", Occupancy.move_out.is_(None))
            .group_by(Occupancy.unit_id).subquery("owner"))


def cast_result(result: Any) -> CursorResult[Any]:
    """An INSERT's result (it carries ``rowcount``)."""
    assert isinstance(result, CursorResult)
    return result


def billed_period(item: FeeItem, day: date) -> date:
    """The period a run on ``day`` bills: the current one; metered fees the previous one
    (read at the end of the month)."""
    months = CYCLES[item.cycle]
    start = period_start(day, months)
    return add_months(start, -months) if item.kind == "metered" else start


def bill_fee_item(item: FeeItem, start: date, run: BillingRun) -> int:
    """Create the missing bills of one fee item for one period; how many were created."""
    months = CYCLES[item.cycle]
    bp = discount_for(item.project_id, item.id, months)
    due = (add_months(start, months) if item.kind == "metered" else start) + timedelta(
        days=item.due_days)
    price = cast(literal(item.unit_price_fen), BigInteger)
    owner = _owner_subquery()
    reading = None
    if item.kind == "area":
        area_c = cast(func.round(Unit.area_m2 * 100), BigInteger)
        quantity: ColumnElement[Any] = area_c * months
    elif item.kind == "metered":
        reading = MeterReading
        quantity = cast(MeterReading.quantity_c, BigInteger)
    else:
        quantity = literal(100 * months)
    gross = _half_up(price * quantity, 100)
    discount = _half_up(gross * bp, 10_000) if bp else literal(0)
    number = (literal(f"ZD{start:%Y%m}-") + cast(Unit.id, String) + literal("-")
              + cast(literal(item.id), String))
    select_stmt = (
        sa_select(
            literal(item.project_id).label("project_id"), number.label("number"),
            Unit.id.label("unit_id"), owner.c.customer_id,
            literal(item.id).label("fee_item_id"), literal(start).label("period_start"),
            literal(months).label("period_months"), gross.label("gross_fen"),
            discount.label("discount_fen"), (gross - discount).label("amount_fen"),
            literal(0).label("paid_fen"), literal("open").label("status"),
            literal(due).label("due_date"), literal(run.started_at).label("issued_at"),
            literal(run.id).label("run_id"),
        )
        .select_from(Unit)
        .outerjoin(owner, owner.c.unit_id == Unit.id)
        .where(Unit.project_id == item.project_id, Unit.status == "occupied")
        .where(~exists().where(Bill.unit_id == Unit.id, Bill.fee_item_id == item.id,
                               Bill.period_start == start))
    )
    if reading is not None:
        select_stmt = select_stmt.join(reading, and_(
            reading.unit_id == Unit.id, reading.fee_item_id == item.id,
            reading.period_start == start))
    if item.kind == "area":
        select_stmt = select_stmt.where(Unit.area_m2.is_not(None), Unit.area_m2 > 0)
    if item.unit_ids is not None:
        select_stmt = select_stmt.where(Unit.id.in_(item.unit_ids or [-1]))
    columns = ["project_id", "number", "unit_id", "customer_id", "fee_item_id", "period_start",
               "period_months", "gross_fen", "discount_fen", "amount_fen", "paid_fen", "status",
               "due_date", "issued_at", "run_id"]
    result = db.session.execute(
        insert(Bill).from_select(columns, select_stmt).execution_options(all_projects=True))
    created = cast_result(result).rowcount
    if created is None or created < 0:  # a driver that does not report it for INSERT … SELECT
        created = db.session.scalar(sa_select(func.count(Bill.id)).where(
            Bill.run_id == run.id, Bill.fee_item_id == item.id)) or 0
    if created:
        _insert_lines(item, start, months, run, bp)
    return int(created)


def _insert_lines(item: FeeItem, start: date, months: int, run: BillingRun, bp: int) -> None:
    label = f"{item.name} {period_label(start, months)}"
    if item.kind == "area":
        quantity: ColumnElement[Any] = cast(func.round(Unit.area_m2 * 100), BigInteger) * months
        source = sa_select(Bill.id, quantity).join(Unit, Unit.id == Bill.unit_id)
    elif item.kind == "metered":
        source = sa_select(Bill.id, cast(MeterReading.quantity_c, BigInteger)).join(
            MeterReading, and_(MeterReading.unit_id == Bill.unit_id,
                               MeterReading.fee_item_id == Bill.fee_item_id,
                               MeterReading.period_start == Bill.period_start))
    else:
        source = sa_select(Bill.id, literal(100 * months))
    # The charge line: quantity × price = gross (the rounding is on the line, once).
    charge = source.add_columns(literal("charge"), literal(label), literal(item.unit_price_fen),
                                Bill.gross_fen).where(Bill.run_id == run.id,
                                                      Bill.fee_item_id == item.id)
    db.session.execute(insert(BillLine).from_select(
        ["bill_id", "quantity_c", "kind", "description", "unit_price_fen", "amount_fen"],
        charge))
    if bp:
        discount = sa_select(
            Bill.id, literal(100), literal("discount"),
            literal(f"Discount {bp / 100:g} % ({months} months)"), -Bill.discount_fen,
            -Bill.discount_fen,
        ).where(Bill.run_id == run.id, Bill.fee_item_id == item.id, Bill.discount_fen > 0)
        db.session.execute(insert(BillLine).from_select(
            ["bill_id", "quantity_c", "kind", "description", "unit_price_fen", "amount_fen"],
            discount))


def run_billing(project_id: int, day: date | None = None,
                fee_item_ids: list[int] | None = None) -> RunResult:
    """Bill every occupied unit of a project for the period(s) containing ``day`` (default:
    today in Shanghai): one set-based insert per fee item, then prepayments are applied."""
    today = day or local_today()
    result = RunResult(project_id)
    stmt = sa_select(FeeItem).where(FeeItem.project_id == project_id,
                                    FeeItem.active.is_(True), FeeItem.kind != "late_fee")
    if fee_item_ids is not None:
        stmt = stmt.where(FeeItem.id.in_(fee_item_ids))
    runs: dict[date, BillingRun] = {}
    for item in db.session.scalars(stmt.order_by(FeeItem.id)).all():
        start = billed_period(item, today)
        run = runs.get(start)
        if run is None:
            run = BillingRun(project_id=project_id, period_start=start,
                             started_at=clock.now(), actor_label=current_actor().label)
            db.session.add(run)
            db.session.flush()
            runs[start] = run
        run.bills_created += bill_fee_item(item, start, run)
    for run in runs.values():
        run.amount_fen = int(db.session.scalar(
            sa_select(func.coalesce(func.sum(Bill.amount_fen), 0)).where(Bill.run_id == run.id)
        ) or 0)
        result.bills_created += run.bills_created
        result.amount_fen += run.amount_fen
        result.runs += 1
    run_ids = [r.id for r in runs.values() if r.bills_created]
    if result.bills_created >= ANALYZE_AFTER and db.session.get_bind().dialect.name == "postgresql":
        # Fresh statistics, or the next run's NOT EXISTS probe is planned as if the table were
        # still empty (a nested loop of seq scans: minutes instead of a second at 50,000).
        db.session.execute(text("ANALYZE bill"))
    if run_ids:
        with_balance = db.session.scalars(
            sa_select(BalanceEntry.unit_id)
            .where(BalanceEntry.project_id == project_id,
                   BalanceEntry.unit_id.in_(
                       sa_select(Bill.unit_id).where(Bill.run_id.in_(run_ids))))
            .group_by(BalanceEntry.unit_id)
            .having(func.sum(BalanceEntry.amount_fen) > 0)).all()
        result.balance_applied_fen = apply_balances_to_units(list(with_balance))
    db.session.flush()
    db.session.expire_all()
    return result


def run_all_projects(day: date | None = None) -> list[RunResult]:
    """Every active project's billing run (the daily scheduler job calls this)."""
    ids = db.session.scalars(sa_select(Project.id).where(Project.active.is_(True))
                             .order_by(Project.id)).all()
    return [run_billing(pid, day) for pid in ids]


