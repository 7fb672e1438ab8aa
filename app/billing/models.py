"""Fees and arrears (物业费与催缴): fee items, bills, readings, payments, balances, refunds,
bank statements, dunning cases and the door-access command log.

Money is integer fen (分) in every column; no floats anywhere. Rounding rules live in
:mod:`app.billing.money`.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.audit.recorder import Audited
from app.clock import utcnow
from app.extensions import db
from app.projects.models import Unit
from app.scoping import ProjectScoped
from app.sqltypes import UTCDateTime

#: How a fee item is charged.
FEE_KINDS = ("area", "fixed", "parking", "metered", "late_fee")
#: Billing cycles and the months one bill covers.
CYCLES = {"monthly": 1, "quarterly": 3, "yearly": 12}
PAYMENT_METHODS = ("cash", "pos", "bank_transfer", "wechat", "alipay", "balance")
BILL_STATUSES = ("open", "paid", "cancelled")
REFUND_STATUSES = ("requested", "approved", "rejected")
ROW_STATUSES = ("matched", "unmatched", "duplicate", "ignored")
CASE_STATUSES = ("open", "closed", "cancelled")


class BillingSettings(ProjectScoped, Audited, db.Model):  # type: ignore[name-defined]
    """Per-project billing settings: late fee (滞纳金) rate and days until a bill is due."""

    __tablename__ = "billing_settings"
    __table_args__ = (UniqueConstraint("project_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Late fee per day in 1/10,000 of the overdue amount (万分之几); 0 = no late fee.
    late_fee_per_10k_daily: Mapped[int] = mapped_column(Integer, default=0)
    #: Days of grace after the due date before the late fee starts.
    late_fee_grace_days: Mapped[int] = mapped_column(Integer, default=0)


class FeeItem(ProjectScoped, Audited, db.Model):  # type: ignore[name-defined]
    """A charge of a project: per m² per month, fixed per month, parking, or metered."""

    __tablename__ = "fee_item"
    __table_args__ = (UniqueConstraint("project_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16))
    #: area: fen per m² per month; fixed/parking: fen per month; metered: fen per unit read.
    unit_price_fen: Mapped[int] = mapped_column(Integer)
    cycle: Mapped[str] = mapped_column(String(16), default="monthly")
    #: A bill is due this many days after its period starts.
    due_days: Mapped[int] = mapped_column(Integer, default=15)
    #: The units it applies to (None: every occupied unit; parking lists the renting units).
    unit_ids: Mapped[list[int] | None] = mapped_column(JSON)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DiscountRule(ProjectScoped, Audited, db.Model):  # type: ignore[name-defined]
    """Bills covering at least ``min_months`` get ``percent_bp`` / 100 % off (500 = 5 %)."""

    __tablename__ = "discount_rule"

    id: Mapped[int] = mapped_column(primary_key=True)
    fee_item_id: Mapped[int | None] = mapped_column(ForeignKey("fee_item.id"))
    name: Mapped[str] = mapped_column(String(100))
    min_months: Mapped[int] = mapped_column(Integer)
    percent_bp: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(default=True)


class MeterReading(ProjectScoped, Audited, db.Model):  # type: ignore[name-defined]
    """A water/electricity reading of a unit for one billing period (entered or imported)."""

    __tablename__ = "meter_reading"
    __table_args__ = (UniqueConstraint("unit_id", "fee_item_id", "period_start"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"))
    fee_item_id: Mapped[int] = mapped_column(ForeignKey("fee_item.id"), index=True)
    period_start: Mapped[date] = mapped_column(Date)
    previous: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    current: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    #: Hundredths of a unit read (current - previous), integer so bills are exact.
    quantity_c: Mapped[int] = mapped_column(BigInteger)
    source: Mapped[str] = mapped_column(String(16), default="manual")
    read_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Bill(ProjectScoped, db.Model):  # type: ignore[name-defined]
    """What a unit owes for one fee item and one period. Written set-based by the billing run,
    so not row-audited; the run itself is recorded in :class:`BillingRun`."""

    __tablename__ = "bill"
    __table_args__ = (
        UniqueConstraint("unit_id", "fee_item_id", "period_start"),
        UniqueConstraint("number"),
        Index("ix_bill_unit_status_due", "unit_id", "status", "due_date"),
        Index("ix_bill_project_status_due", "project_id", "status", "due_date"),
        Index("ix_bill_project_period", "project_id", "period_start"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(48))
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id"), index=True)
    fee_item_id: Mapped[int] = mapped_column(ForeignKey("fee_item.id"))
    period_start: Mapped[date] = mapped_column(Date)
    period_months: Mapped[int] = mapped_column(Integer)
    gross_fen: Mapped[int] = mapped_column(BigInteger)
    discount_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    paid_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    status: Mapped[str] = mapped_column(String(16), default="open")
    due_date: Mapped[date] = mapped_column(Date)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("billing_run.id"))

    unit: Mapped[Unit] = relationship()
    fee_item: Mapped[FeeItem] = relationship()
    lines: Mapped[list[BillLine]] = relationship(back_populates="bill", order_by="BillLine.id")

    @property
    def outstanding_fen(self) -> int:
        return self.amount_fen - self.paid_fen

    def __repr__(self) -> str:
        return f"<Bill {self.number} {self.amount_fen}/{self.paid_fen}>"


class BillLine(db.Model):  # type: ignore[name-defined]
    """How a bill's amount was computed: a charge line and, if any, a discount line.

    The lines of a bill always add up to ``bill.amount_fen``."""

    __tablename__ = "bill_line"

    id: Mapped[int] = mapped_column(primary_key=True)
    bill_id: Mapped[int] = mapped_column(ForeignKey("bill.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # charge | discount
    description: Mapped[str] = mapped_column(String(200))
    #: Quantity in hundredths (m² × months, units read, months).
    quantity_c: Mapped[int] = mapped_column(BigInteger)
    unit_price_fen: Mapped[int] = mapped_column(Integer)
    amount_fen: Mapped[int] = mapped_column(BigInteger)

    bill: Mapped[Bill] = relationship(back_populates="lines")


class BillingRun(ProjectScoped, db.Model):  # type: ignore[name-defined]
    """One execution of the billing run for a project and period (what it created)."""

    __tablename__ = "billing_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    period_start: Mapped[date] = mapped_column(Date)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    bills_created: Mapped[int] = mapped_column(Integer, default=0)
    amount_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    actor_label: Mapped[str | None] = mapped_column(String(100))


class Payment(ProjectScoped, Audited, db.Model):  # type: ignore[name-defined]
    """Money received for a unit (cashier, bank statement, portal). Its allocations to bills
    plus what went to the unit's balance always equal ``amount_fen``."""

    __tablename__ = "payment"
    __table_args__ = (
        UniqueConstraint("number"),
        Index("ix_payment_unit_received", "unit_id", "received_at"),
        Index("ix_payment_project_received", "project_id", "received_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32))
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id"))
    method: Mapped[str] = mapped_column(String(16))
    reference: Mapped[str | None] = mapped_column(String(100))
    payer: Mapped[str | None] = mapped_column(String(100))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    to_balance_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    source: Mapped[str] = mapped_column(String(16), default="cashier")
    note: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    unit: Mapped[Unit] = relationship()
    allocations: Mapped[list[Allocation]] = relationship(
        back_populates="payment", order_by="Allocation.id")


class Allocation(ProjectScoped, db.Model):  # type: ignore[name-defined]
    """Part of a payment (or of the unit's balance) applied to one bill."""

    __tablename__ = "payment_allocation"
    __table_args__ = (Index("ix_payment_allocation_bill", "bill_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payment.id"), index=True)
    balance_entry_id: Mapped[int | None] = mapped_column(ForeignKey("balance_entry.id"))
    bill_id: Mapped[int] = mapped_column(ForeignKey("bill.id"))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    at: Mapped[datetime] = mapped_column(UTCDateTime)

    payment: Mapped[Payment | None] = relationship(back_populates="allocations")
    bill: Mapped[Bill] = relationship()


class BalanceEntry(ProjectScoped, db.Model):  # type: ignore[name-defined]
    """The prepayment ledger of a unit: + money kept, − money used by a bill or refunded.
    A unit's balance is the sum of its entries and never goes below zero."""

    __tablename__ = "balance_entry"
    __table_args__ = (Index("ix_balance_entry_unit", "unit_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"))
    kind: Mapped[str] = mapped_column(String(16))  # prepayment | applied | refund
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payment.id"))
    refund_id: Mapped[int | None] = mapped_column(ForeignKey("refund.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class Refund(ProjectScoped, Audited, db.Model):  # type: ignore[name-defined]
    """Money paid back from a unit's balance; needs a second person's approval."""

    __tablename__ = "refund"

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), index=True)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    method: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="requested")
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decision_note: Mapped[str | None] = mapped_column(Text)

    unit: Mapped[Unit] = relationship()


class StatementImport(ProjectScoped, Audited, db.Model):  # type: ignore[name-defined]
    """A bank / finance-system statement imported from Excel."""

    __tablename__ = "statement_import"

    id: Mapped[int] = mapped_column(primary_key=True)
    filename: Mapped[str] = mapped_column(String(200))
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime)
    imported_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    rows_total: Mapped[int] = mapped_column(Integer, default=0)
    rows_matched: Mapped[int] = mapped_column(Integer, default=0)

    rows: Mapped[list[StatementRow]] = relationship(
        back_populates="statement", order_by="StatementRow.row_no")


class StatementRow(ProjectScoped, db.Model):  # type: ignore[name-defined]
    """One line of a statement: matched to a unit (and bill) or waiting for manual matching."""

    __tablename__ = "statement_row"
    __table_args__ = (Index("ix_statement_row_project_status", "project_id", "status"),
                      Index("ix_statement_row_reference", "project_id", "reference"))

    id: Mapped[int] = mapped_column(primary_key=True)
    statement_id: Mapped[int] = mapped_column(ForeignKey("statement_import.id"))
    row_no: Mapped[int] = mapped_column(Integer)
    booked_on: Mapped[date] = mapped_column(Date)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    reference: Mapped[str] = mapped_column(String(100))
    payer: Mapped[str | None] = mapped_column(String(100))
    bill_number: Mapped[str | None] = mapped_column(String(48))
    unit_text: Mapped[str | None] = mapped_column(String(64))
    method: Mapped[str] = mapped_column(String(16), default="bank_transfer")
    status: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(String(200))
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payment.id"))

    statement: Mapped[StatementImport] = relationship(back_populates="rows")


class DunningCase(ProjectScoped, db.Model):  # type: ignore[name-defined]
    """One arrears case of a unit (催缴), driven by a ``dunning`` process instance."""

    __tablename__ = "dunning_case"
    __table_args__ = (Index("ix_dunning_case_unit_status", "unit_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"))
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"),
                                                   index=True)
    status: Mapped[str] = mapped_column(String(16), default="open")
    oldest_due: Mapped[date] = mapped_column(Date)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reminders: Mapped[int] = mapped_column(Integer, default=0)
    last_reminder_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    restarts: Mapped[int] = mapped_column(Integer, default=0)
    freeze_state: Mapped[str | None] = mapped_column(String(16))  # asked|frozen|refused|lifted
    freeze_reason: Mapped[str | None] = mapped_column(Text)
    log: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)

    unit: Mapped[Unit] = relationship()


class DoorAccessCommand(ProjectScoped, db.Model):  # type: ignore[name-defined]
    """A freeze/unfreeze command sent to the door-access system and what it answered
    (written by the shipped recording adapter; a real adapter may write it too)."""

    __tablename__ = "door_access_command"
    __table_args__ = (UniqueConstraint("idempotency_key"),
                      Index("ix_door_access_command_unit", "unit_id", "id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"))
    action: Mapped[str] = mapped_column(String(16))  # freeze | unfreeze
    idempotency_key: Mapped[str] = mapped_column(String(255))
    adapter: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16))  # done | failed
    result: Mapped[str | None] = mapped_column(Text)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    executed_at: Mapped[datetime] = mapped_column(UTCDateTime)
