"""Fees, the billing run, payments and their allocation, balances, refunds, statements."""

from __future__ import annotations

import random
from datetime import date
from decimal import Decimal
from io import BytesIO

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from app.billing import fees, money, payments, statements
from app.billing.jobs import daily_billing
from app.billing.models import (
    Allocation,
    BalanceEntry,
    Bill,
    BillLine,
    DunningCase,
    Payment,
)
from app.billing.run import run_billing
from app.clock import clock
from app.errors import Conflict, FieldErrors, Forbidden
from app.extensions import db
from tests.billing.world import BillingWorld

NOV = date(2026, 11, 1)


def _xlsx(rows: list[list[object]]) -> bytes:
    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    out = BytesIO()
    book.save(out)
    return out.getvalue()


def _lines_add_up() -> None:
    for bill in db.session.scalars(select(Bill)):
        total = db.session.scalar(select(func.sum(BillLine.amount_fen))
                                  .where(BillLine.bill_id == bill.id))
        assert total == bill.amount_fen == bill.gross_fen - bill.discount_fen


def test_money_rules():
    assert money.charge_fen(235, 8937) == 21002  # 21001.95 → half up
    assert money.charge_fen(250, 8937) == 22343  # 22342.5 → half up
    assert money.discount_fen(252023, 500) == 12601  # 12601.15
    assert money.late_fee_fen(10000, 5, 30) == 150
    assert money.parse_yuan("1,234.5") == 123450 and money.parse_yuan(12.3) == 1230
    with pytest.raises(FieldErrors):
        money.parse_yuan("1.234")
    assert money.period_start(date(2026, 11, 22), 3) == date(2026, 10, 1)
    assert money.add_months(date(2026, 12, 1), 1) == date(2027, 1, 1)


def test_billing_run_bills_occupied_units_once(world: BillingWorld):
    world.units[2].status = "vacant"
    db.session.flush()
    assert world.bill(NOV) == 2
    assert world.bill(NOV) == 0  # a second run for the period creates nothing
    bills = list(db.session.scalars(select(Bill)))
    assert {b.amount_fen for b in bills} == {21002}
    assert all(b.due_date == date(2026, 11, 16) and b.customer_id for b in bills)
    _lines_add_up()


def test_yearly_bills_get_the_prepay_discount(world: BillingWorld):
    item = fees.create_fee_item(world.project.id, {
        "code": "WYF-Y", "name": "物业费(年)", "kind": "area", "unit_price_fen": 235,
        "cycle": "yearly", "due_days": 30})
    fees.update_fee_item(world.fee, {"active": False})
    fees.add_discount_rule(world.project.id, {"min_months": 12, "percent_bp": 500})
    assert world.bill(date(2027, 1, 5)) == 3
    bill = db.session.scalar(select(Bill).where(Bill.fee_item_id == item.id).limit(1))
    assert bill.gross_fen == money.charge_fen(235, 8937 * 12) == 252023
    assert bill.discount_fen == 12601 and bill.amount_fen == 239422
    assert bill.period_start == date(2027, 1, 1)
    _lines_add_up()


def test_fixed_parking_and_metered_fees(world: BillingWorld):
    fees.update_fee_item(world.fee, {"active": False})
    fees.create_fee_item(world.project.id, {"code": "CW", "name": "车位费", "kind": "parking",
                                            "unit_price_fen": 30000,
                                            "unit_ids": [world.units[1].id]})
    water = fees.create_fee_item(world.project.id, {"code": "SF", "name": "水费",
                                                    "kind": "metered", "unit_price_fen": 450})
    fees.record_reading(world.units[0], water, "2026-10", "100.5", "112.75")
    content = _xlsx([["building", "unit", "fee_code", "period", "previous", "current"],
                     ["2号楼", "202", "SF", "2026-10", 10, 20]])
    assert fees.import_readings(world.project.id, content) == {"imported": 1}
    with pytest.raises(FieldErrors):
        fees.import_readings(world.project.id, _xlsx([
            ["building", "unit", "fee_code", "period", "previous", "current"],
            ["2号楼", "999", "SF", "2026-10", 1, 2]]))
    assert world.bill(NOV) == 3  # parking for 202; water for 201 and 202 (October, read)
    by_unit = {(b.unit_id, b.fee_item.code): b for b in db.session.scalars(select(Bill))}
    assert by_unit[(world.units[1].id, "CW")].amount_fen == 30000
    assert by_unit[(world.units[0].id, "SF")].amount_fen == 5513  # 12.25 × 4.50 = 55.125
    assert by_unit[(world.units[0].id, "SF")].period_start == date(2026, 10, 1)
    assert by_unit[(world.units[0].id, "SF")].due_date == date(2026, 11, 16)
    _lines_add_up()


def test_payment_allocation_oldest_first_and_balance(world: BillingWorld):
    world.bill(NOV)
    world.bill(date(2026, 12, 1))
    nov, dec = world.bills()
    payment = world.pay(30000)
    assert [(a.bill_id, a.amount_fen) for a in payment.allocations] == [
        (nov.id, 21002), (dec.id, 8998)]
    world.pay(20000, bill=None)
    assert payment.to_balance_fen == 0
    db.session.expire_all()
    assert dec.paid_fen == 21002 and dec.status == "paid"
    from app.billing.arrears import balance_fen
    assert balance_fen(world.unit.id) == 7996
    # The prepayment pays January's bill when it is issued.
    world.bill(date(2027, 1, 1))
    jan = world.bills()[-1]
    assert jan.paid_fen == 7996 and jan.status == "open"
    assert balance_fen(world.unit.id) == 0


def test_allocation_sums_hold_for_random_payments(world: BillingWorld):
    rng = random.Random(20261122)
    for month in range(1, 7):
        world.bill(date(2026 + (10 + month) // 12, (10 + month) % 12 + 1, 1))
    for _ in range(40):
        unit = rng.choice(world.units)
        world.pay(rng.randint(1, 40000), unit=unit)
        if rng.random() < 0.2:
            payments.apply_balance(unit.id)
    db.session.expire_all()
    for payment in db.session.scalars(select(Payment)):
        assert sum(a.amount_fen for a in payment.allocations) + payment.to_balance_fen \
            == payment.amount_fen
    for bill in db.session.scalars(select(Bill)):
        allocated = db.session.scalar(select(func.coalesce(func.sum(Allocation.amount_fen), 0))
                                      .where(Allocation.bill_id == bill.id))
        assert allocated == bill.paid_fen <= bill.amount_fen
        assert (bill.status == "paid") == (bill.paid_fen == bill.amount_fen)
    for unit in world.units:
        entries = list(db.session.scalars(select(BalanceEntry).where(
            BalanceEntry.unit_id == unit.id)))
        assert sum(e.amount_fen for e in entries) >= 0
    received = db.session.scalar(select(func.sum(Payment.amount_fen)))
    paid = db.session.scalar(select(func.sum(Bill.paid_fen)))
    balance = db.session.scalar(select(func.sum(BalanceEntry.amount_fen)))
    assert received == paid + balance


def test_payment_validation(world: BillingWorld):
    with pytest.raises(FieldErrors):
        world.pay(0)
    with pytest.raises(FieldErrors) as info:
        world.pay(100, method="wechat")
    assert "reference" in info.value.fields


def test_refund_needs_a_second_person(world: BillingWorld):
    world.pay(50000)  # nothing billed: all balance
    with pytest.raises(FieldErrors):
        payments.request_refund(world.unit, 60000, "bank_transfer", "多缴", world.finance)
    refund = payments.request_refund(world.unit, 20000, "bank_transfer", "多缴", world.finance)
    with pytest.raises(FieldErrors):  # the rest not promised is 30000
        payments.request_refund(world.unit, 40000, "cash", "again", world.finance)
    with pytest.raises(Forbidden):
        payments.decide_refund(refund, True, world.finance)
    payments.decide_refund(refund, True, world.finance2)
    assert refund.status == "approved"
    from app.billing.arrears import balance_fen
    assert balance_fen(world.unit.id) == 30000
    with pytest.raises(Conflict):
        payments.decide_refund(refund, False, world.finance2, "late")


def test_statement_import_matches_bill_number_and_unit_amount(world: BillingWorld):
    world.bill(NOV)
    b1, b2, _b3 = (world.bills(u)[0] for u in world.units)
    content = _xlsx([
        ["date", "amount", "reference", "payer", "bill_number", "unit"],
        ["2026-11-20", "210.02", "BK-1", "业主1", b1.number, None],
        ["2026-11-20", 210.02, "BK-2", "业主2", None, "2号楼-202"],
        ["2026-11-21", "99.00", "BK-3", "某人", None, "2号楼-203"],
        ["2026-11-21", "5.00", "BK-4", "?", None, None],
    ])
    statement = statements.import_statement(world.project.id, "bank.xlsx", content,
                                            world.finance)
    assert [r.status for r in statement.rows] == ["matched", "matched", "unmatched",
                                                  "unmatched"]
    db.session.expire_all()
    assert b1.status == "paid" and b2.status == "paid"
    row = statement.rows[2]
    statements.match_row(row, world.units[2], None, world.finance)
    assert row.status == "matched" and statement.rows_matched == 3
    statements.ignore_row(statement.rows[3], "银行手续费退回")
    again = statements.import_statement(world.project.id, "bank.xlsx", content, world.finance)
    assert {r.status for r in again.rows} == {"duplicate"}


def test_statement_with_a_bad_row_imports_nothing(world: BillingWorld):
    content = _xlsx([["date", "amount", "reference"], ["2026-11-20", "abc", "X"],
                     ["nonsense", "1", "Y"]])
    with pytest.raises(FieldErrors) as info:
        statements.import_statement(world.project.id, "bad.xlsx", content)
    assert set(info.value.fields) == {"row 2", "row 3"}
    assert db.session.scalar(select(func.count(Payment.id))) == 0


def test_daily_job_bills_and_opens_cases(world: BillingWorld):
    result = daily_billing(clock.now())
    assert result == {"bills_created": 3, "cases_opened": 3}  # November's bills, due 16 Nov
    assert daily_billing(clock.now()) == {"bills_created": 0, "cases_opened": 0}
    assert db.session.scalar(select(func.count(DunningCase.id))) == 3


def test_unit_area_rounding_is_exact(world: BillingWorld):
    world.units[0].area_m2 = Decimal("100.01")
    db.session.flush()
    world.bill(NOV)
    assert world.bills()[0].amount_fen == money.charge_fen(235, 10001)
    assert run_billing(world.project.id, NOV).bills_created == 0
