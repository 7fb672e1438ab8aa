"""Filtering and exporting the audit trail."""

from __future__ import annotations

from dataclasses import dataclass
from io import BytesIO

from openpyxl import Workbook
from sqlalchemy import Select, select

from app.audit.models import AuditEvent
from app.dates import day_bound


@dataclass(frozen=True)
class AuditFilter:
    user: str = ""
    record_type: str = ""
    record_id: str = ""
    action: str = ""
    since: str = ""
    until: str = ""

    def query(self) -> Select[tuple[AuditEvent]]:
        stmt = select(AuditEvent).order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
        if self.user:
            stmt = stmt.where(AuditEvent.actor_label == self.user)
        if self.record_type:
            stmt = stmt.where(AuditEvent.record_type == self.record_type)
        if self.record_id:
            stmt = stmt.where(AuditEvent.record_id == self.record_id)
        if self.action:
            stmt = stmt.where(AuditEvent.action == self.action)
        since = day_bound("since", self.since, end=False)
        until = day_bound("until", self.until, end=True)
        if since:
            stmt = stmt.where(AuditEvent.at >= since)
        if until:
            stmt = stmt.where(AuditEvent.at <= until)
        return stmt


HEADERS = ["time (UTC)", "user", "action", "record type", "record id", "project", "before",
           "after", "IP"]


def export_xlsx(events: list[AuditEvent]) -> bytes:
    """An Excel workbook of the given events."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "audit"
    sheet.append(HEADERS)
    for event in events:
        sheet.append([
            event.at.replace(tzinfo=None), event.actor_label, event.action, event.record_type,
            event.record_id, event.project_id,
            None if event.before is None else str(event.before),
            None if event.after is None else str(event.after), event.ip,
        ])
    for column, width in zip("ABCDEFGHI", [20, 16, 18, 16, 10, 8, 50, 50, 16], strict=True):
        sheet.column_dimensions[column].width = width
    sheet.freeze_panes = "A2"
    buffer = BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
