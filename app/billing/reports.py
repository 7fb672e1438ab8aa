"""Arrears reports: ageing buckets, top owners, by building, collection rate per month, and
their Excel export. Aggregated in SQL per bill; ages are days past the due date."""

from __future__ import annotations

from datetime import date, timedelta
from io import BytesIO
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font
from sqlalchemy import case, func, select

from app.extensions import db
from app.projects.models import Building, Unit
from app.records.models import Customer

from .models import Bill
from .money import yuan

#: (label, lowest days overdue, highest or None)
BUCKETS = (("0-30", 0, 30), ("31-90", 31, 90), ("91-180", 91, 180), ("180+", 181, None))


def _outstanding() -> Any:
    return Bill.amount_fen - Bill.paid_fen


def _open_overdue(project_id: int, today: date) -> Any:
    return (Bill.project_id == project_id) & (Bill.status == "open") & (Bill.due_date < today)


def ageing(project_id: int, today: date) -> list[dict[str, Any]]:
    """Outstanding overdue amounts per age bucket (0–30 / 31–90 / 91–180 / 180+ days)."""
    rows = []
    for label, low, high in BUCKETS:
        cond = _open_overdue(project_id, today) & (Bill.due_date <= today - timedelta(days=low))
        if high is not None:
            cond = cond & (Bill.due_date >= today - timedelta(days=high))
        amount, count = db.session.execute(select(
            func.coalesce(func.sum(_outstanding()), 0), func.count(Bill.id)).where(cond)).one()
        rows.append({"bucket": label, "amount_fen": int(amount), "bills": int(count)})
    return rows


def top_owners(project_id: int, today: date, limit: int = 20) -> list[dict[str, Any]]:
    """Units (with their owner at billing time) owing the most, with the oldest due date."""
    stmt = (select(Bill.unit_id, func.min(Bill.customer_id), func.sum(_outstanding()),
                   func.min(Bill.due_date), func.count(Bill.id))
            .where(_open_overdue(project_id, today)).group_by(Bill.unit_id)
            .order_by(func.sum(_outstanding()).desc(), func.min(Bill.due_date)).limit(limit))
    result = []
    for unit_id, customer_id, amount, oldest, count in db.session.execute(stmt):
        unit = db.session.get(Unit, unit_id)
        customer = db.session.get(Customer, customer_id) if customer_id else None
        result.append({"unit_id": unit_id, "unit": unit.label if unit else str(unit_id),
                       "owner": customer.name if customer else None,
                       "amount_fen": int(amount), "bills": int(count),
                       "oldest_due": oldest.isoformat(), "days": (today - oldest).days})
    return result


def by_building(project_id: int, today: date) -> list[dict[str, Any]]:
    stmt = (select(Building.name, func.sum(_outstanding()), func.count(func.distinct(Bill.unit_id)))
            .join(Unit, Unit.id == Bill.unit_id).join(Building, Building.id == Unit.building_id)
            .where(_open_overdue(project_id, today)).group_by(Building.name)
            .order_by(func.sum(_outstanding()).desc()))
    return [{"building": name, "amount_fen": int(amount), "units": int(units)}
            for name, amount, units in db.session.execute(stmt)]


def collection_rate(project_id: int, months: int = 12) -> list[dict[str, Any]]:
    """Per billing month: billed, collected so far, rate in ‰ (integer, no float)."""
    stmt = (select(Bill.period_start, func.sum(Bill.amount_fen), func.sum(Bill.paid_fen),
                   func.sum(case((Bill.status == "paid", 1), else_=0)), func.count(Bill.id))
            .where(Bill.project_id == project_id, Bill.status != "cancelled")
            .group_by(Bill.period_start).order_by(Bill.period_start.desc()).limit(months))
    rows = []
    for start, billed, paid, paid_bills, count in db.session.execute(stmt):
        billed, paid = int(billed or 0), int(paid or 0)
        rows.append({"month": f"{start:%Y-%m}", "billed_fen": billed, "collected_fen": paid,
                     "rate_permille": paid * 1000 // billed if billed else 0,
                     "bills": int(count), "bills_paid": int(paid_bills)})
    return list(reversed(rows))


def arrears_report(project_id: int, today: date) -> dict[str, Any]:
    return {"as_of": today.isoformat(), "ageing": ageing(project_id, today),
            "top_owners": top_owners(project_id, today),
            "by_building": by_building(project_id, today),
            "collection": collection_rate(project_id)}


def report_workbook(report: dict[str, Any]) -> bytes:
    """The arrears report as an .xlsx (one sheet per part; amounts in yuan with 2 decimals)."""
    book = Workbook()
    sheets: list[tuple[str, list[str], list[list[Any]]]] = [
        ("ageing", ["bucket (days)", "bills", "amount (yuan)"],
         [[r["bucket"], r["bills"], yuan(r["amount_fen"])] for r in report["ageing"]]),
        ("top owners", ["unit", "owner", "bills", "amount (yuan)", "oldest due", "days"],
         [[r["unit"], r["owner"], r["bills"], yuan(r["amount_fen"]), r["oldest_due"], r["days"]]
          for r in report["top_owners"]]),
        ("by building", ["building", "units", "amount (yuan)"],
         [[r["building"], r["units"], yuan(r["amount_fen"])] for r in report["by_building"]]),
        ("collection", ["month", "billed (yuan)", "collected (yuan)", "rate %", "bills",
                        "bills paid"],
         [[r["month"], yuan(r["billed_fen"]), yuan(r["collected_fen"]),
           f"{r['rate_permille'] / 10:.1f}", r["bills"], r["bills_paid"]]
          for r in report["collection"]]),
    ]
    first = True
    for title, header, rows in sheets:
        sheet = book.active if first else book.create_sheet()
        first = False
        assert sheet is not None
        sheet.title = title
        sheet.append(header)
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for row in rows:
            sheet.append(row)
    buffer = BytesIO()
    book.save(buffer)
    return buffer.getvalue()
