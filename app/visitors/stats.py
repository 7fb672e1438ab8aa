"""The visit log and its figures: visits per day, unit and purpose; Excel exports.

A visit is an entry at the gate. Days are the estate's local days.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from io import BytesIO
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from app.extensions import db
from app.projects.models import Unit
from app.visitors import passes
from app.visitors.gate import mask_phone
from app.visitors.models import GateEvent, VisitBatch, VisitorPass
from app.visitors.operations import pass_token, project_zone

LOG_HEADERS = ["time", "kind", "reason", "code", "visitor", "phone", "plate", "party_size",
               "unit", "purpose", "pass_kind"]
EXPORT_LIMIT = 100_000


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # inclusive

    def bounds(self, project_id: int) -> tuple[datetime, datetime]:
        zone = project_zone(project_id)
        return (datetime.combine(self.start, time(), zone),
                datetime.combine(self.end + timedelta(days=1), time(), zone))


def log_events(project_id: int, period: Period, limit: int = 200,
               offset: int = 0) -> list[GateEvent]:
    """Gate events of a period, newest first."""
    begin, finish = period.bounds(project_id)
    return list(db.session.scalars(
        select(GateEvent).options(joinedload(GateEvent.visitor_pass).joinedload(VisitorPass.unit))
        .where(GateEvent.project_id == project_id, GateEvent.at >= begin, GateEvent.at < finish)
        .order_by(GateEvent.at.desc(), GateEvent.id.desc()).limit(limit).offset(offset)))


def statistics(project_id: int, period: Period) -> dict[str, Any]:
    """Entries per local day, per unit and per purpose; refusals per reason."""
    begin, finish = period.bounds(project_id)
    zone = project_zone(project_id)
    rows = db.session.execute(
        select(GateEvent.at, GateEvent.kind, GateEvent.reason, VisitorPass.purpose,
               VisitorPass.unit_id, VisitorPass.party_size)
        .outerjoin(VisitorPass, VisitorPass.id == GateEvent.pass_id)
        .where(GateEvent.project_id == project_id, GateEvent.at >= begin, GateEvent.at < finish)
    ).all()
    per_day: Counter[str] = Counter()
    per_unit: Counter[int] = Counter()
    per_purpose: Counter[str] = Counter()
    refused: Counter[str] = Counter()
    people = 0
    for at, kind, reason, purpose, unit_id, party in rows:
        if kind == "entry":
            per_day[at.astimezone(zone).date().isoformat()] += 1
            per_unit[unit_id] += 1
            per_purpose[purpose] += 1
            people += party or 1
        elif kind == "refused":
            refused[reason] += 1
    labels = {u.id: u.label for u in db.session.scalars(
        select(Unit).where(Unit.id.in_(list(per_unit))))} if per_unit else {}
    days = [(period.start + timedelta(days=i)).isoformat()
            for i in range((period.end - period.start).days + 1)]
    return {
        "visits": sum(per_day.values()), "people": people,
        "per_day": [{"day": d, "visits": per_day.get(d, 0)} for d in days],
        "per_unit": [{"unit": labels.get(uid, str(uid)), "visits": n}
                     for uid, n in per_unit.most_common()],
        "per_purpose": [{"purpose": p, "visits": n} for p, n in per_purpose.most_common()],
        "refused": [{"reason": r, "count": n} for r, n in refused.most_common()],
    }


def _save(workbook: Workbook) -> bytes:
    for sheet in workbook.worksheets:
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        sheet.freeze_panes = "A2"
    buffer = BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def export_log(project_id: int, period: Period) -> bytes:
    """The visit log and the figures of a period as a workbook (phones masked)."""
    zone = project_zone(project_id)
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "log"
    sheet.append(LOG_HEADERS)
    for e in reversed(log_events(project_id, period, limit=EXPORT_LIMIT)):
        p = e.visitor_pass
        sheet.append([e.at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S"), e.kind, e.reason,
                      passes.display_code(p.code) if p else "", p.visitor_name if p else "",
                      mask_phone(p.visitor_phone) if p else "", p.plate if p else "",
                      p.party_size if p else "", p.unit.label if p else "",
                      p.purpose if p else "", p.kind if p else ""])
    figures = statistics(project_id, period)
    days = workbook.create_sheet("per_day")
    days.append(["day", "visits"])
    for row in figures["per_day"]:
        days.append([row["day"], row["visits"]])
    units = workbook.create_sheet("per_unit")
    units.append(["unit", "visits"])
    for row in figures["per_unit"]:
        units.append([row["unit"], row["visits"]])
    purposes = workbook.create_sheet("per_purpose")
    purposes.append(["purpose", "visits"])
    for row in figures["per_purpose"]:
        purposes.append([row["purpose"], row["visits"]])
    return _save(workbook)


def export_batch(batch: VisitBatch) -> bytes:
    """A batch's passes: number, code, window and the token its QR code holds."""
    zone = project_zone(batch.project_id)
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = batch.number[:31]
    sheet.append(["no", "name", "code", "valid_from", "valid_until", "entries", "status",
                  "token"])
    for n, p in enumerate(batch.passes, start=1):
        sheet.append([n, p.visitor_name, passes.display_code(p.code),
                      p.valid_from.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
                      p.valid_until.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
                      "multi" if p.multi_entry else "single",
                      "revoked" if p.revoked_at else "issued", pass_token(p)])
    return _save(workbook)
