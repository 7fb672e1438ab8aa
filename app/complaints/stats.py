"""Complaint statistics from the complaint rows alone (no workflow is read) and their export."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from io import BytesIO
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from sqlalchemy import select

from app.extensions import db
from app.projects.models import Building, Unit

from .models import Complaint

#: Complaints about the same place and category at least this often are a repeated issue.
REPEAT_THRESHOLD = 2
TZ = ZoneInfo("Asia/Shanghai")


@dataclass
class Stats:
    total: int = 0
    by_category: Counter[str] = field(default_factory=Counter)
    by_department: Counter[str] = field(default_factory=Counter)
    by_building: Counter[str] = field(default_factory=Counter)
    by_month: Counter[str] = field(default_factory=Counter)
    by_status: Counter[str] = field(default_factory=Counter)
    repeated: list[dict[str, Any]] = field(default_factory=list)
    resolved: int = 0
    avg_handling_hours: float | None = None
    within_limit: int = 0
    judged: int = 0
    escalated: int = 0
    disputed: int = 0
    avg_satisfaction: float | None = None

    @property
    def within_limit_share(self) -> float | None:
        return self.within_limit / self.judged if self.judged else None


def _bounds(start: date | None, end: date | None) -> tuple[datetime | None, datetime | None]:
    lo = datetime.combine(start, time.min, TZ).astimezone(UTC) if start else None
    hi = datetime.combine(end, time.max, TZ).astimezone(UTC) if end else None
    return lo, hi


def complaint_stats(project_id: int | None = None, start: date | None = None,
                    end: date | None = None) -> Stats:
    """Figures over the complaints registered between ``start`` and ``end`` (local dates)."""
    stmt = (select(Complaint.category, Complaint.department, Building.name, Unit.number,
                   Complaint.unit_id, Complaint.building_id, Complaint.created_at,
                   Complaint.resolved_at, Complaint.within_limit, Complaint.status,
                   Complaint.escalation_level, Complaint.disputes, Complaint.satisfaction)
            .outerjoin(Building, Complaint.building_id == Building.id)
            .outerjoin(Unit, Complaint.unit_id == Unit.id))
    if project_id:
        stmt = stmt.where(Complaint.project_id == project_id)
    lo, hi = _bounds(start, end)
    if lo:
        stmt = stmt.where(Complaint.created_at >= lo)
    if hi:
        stmt = stmt.where(Complaint.created_at <= hi)
    stats = Stats()
    hours: list[float] = []
    ratings: list[int] = []
    places: Counter[tuple[str, str]] = Counter()
    for (category, department, building, unit, unit_id, building_id, created, resolved,
         within, status, level, disputes, satisfaction) in db.session.execute(stmt):
        stats.total += 1
        stats.by_category[category] += 1
        stats.by_department[department or "—"] += 1
        stats.by_building[building or "—"] += 1
        stats.by_month[created.astimezone(TZ).strftime("%Y-%m")] += 1
        stats.by_status[status] += 1
        if resolved is not None:
            stats.resolved += 1
            hours.append((resolved - created).total_seconds() / 3600)
        if within is not None:
            stats.judged += 1
            stats.within_limit += int(bool(within))
        stats.escalated += int(level >= 1)
        stats.disputed += int(disputes > 0)
        if satisfaction:
            ratings.append(int(satisfaction))
        if unit_id is not None or building_id is not None:
            place = f"{building}-{unit}" if unit else (building or "—")
            places[(place, category)] += 1
    stats.avg_handling_hours = round(sum(hours) / len(hours), 1) if hours else None
    stats.avg_satisfaction = round(sum(ratings) / len(ratings), 2) if ratings else None
    stats.repeated = [{"place": p, "category": c, "count": n}
                      for (p, c), n in places.most_common() if n >= REPEAT_THRESHOLD]
    return stats


def stats_workbook(stats: Stats, title: str) -> bytes:
    """The figures as an .xlsx file: a summary sheet and one sheet per breakdown."""
    book = Workbook()
    summary = book.active
    summary.title = "Summary 汇总"
    share = stats.within_limit_share
    for row in (("", title), ("Complaints 投诉数", stats.total),
                ("Resolved 已处理", stats.resolved),
                ("Average handling hours 平均处理时长(小时)", stats.avg_handling_hours),
                ("Closed within the limit 时限内办结率", round(share, 4) if share is not None
                 else None),
                ("Escalated 升级数", stats.escalated), ("Disputed 有异议", stats.disputed),
                ("Average satisfaction 平均满意度", stats.avg_satisfaction)):
        summary.append(list(row))
    for name, counter in (("Category 类别", stats.by_category),
                          ("Department 部门", stats.by_department),
                          ("Building 楼栋", stats.by_building), ("Month 月份", stats.by_month),
                          ("Status 状态", stats.by_status)):
        sheet = book.create_sheet(name.split()[0])
        sheet.append([name, "Count 数量"])
        for key, count in sorted(counter.items()):
            sheet.append([key, count])
    sheet = book.create_sheet("Repeated")
    sheet.append(["Place 位置", "Category 类别", "Count 次数"])
    for item in stats.repeated:
        sheet.append([item["place"], item["category"], item["count"]])
    buffer = BytesIO()
    book.save(buffer)
    return buffer.getvalue()
