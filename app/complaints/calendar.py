"""Business calendars: working hours per weekday, public holidays and make-up working days.

A time limit such as "24 working hours" becomes an absolute instant with
:func:`add_business_hours`; :func:`business_hours_between` measures working time between two
instants (what a pause consumed). Both walk the project's calendar in the project's time zone.
``around_the_clock`` (urgent safety complaints) counts every hour of every day.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from app.errors import FieldErrors
from app.extensions import db
from app.projects.models import Project

from .models import BusinessCalendar, CalendarDay

Interval = tuple[time, time]
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_HOURS: list[list[str]] = [["09:00", "18:00"]]
#: A limit that finds no working time within this many days is refused (an empty calendar).
MAX_DAYS = 800
_HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$|^24:00$")


class CalendarError(ValueError):
    """The calendar has no working time to place a limit in."""


def parse_hhmm(text: str) -> time:
    text = text.strip()
    if not _HHMM.match(text):
        raise ValueError(f"{text!r} is not a time like 09:00")
    if text == "24:00":
        return time.max
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def parse_intervals(value: Iterable[Iterable[str]] | str) -> list[Interval]:
    """``[["09:00","12:00"], …]`` or ``"09:00-12:00, 13:00-18:00"`` as sorted intervals."""
    if isinstance(value, str):
        pairs = [p.split("-") for p in value.replace("，", ",").split(",") if p.strip()]
    else:
        pairs = [list(p) for p in value]
    intervals: list[Interval] = []
    for pair in pairs:
        if len(pair) != 2:
            raise ValueError("write each interval as start-end, e.g. 09:00-18:00")
        start, end = parse_hhmm(pair[0]), parse_hhmm(pair[1])
        if end <= start:
            raise ValueError(f"{pair[0]}-{pair[1]}: the end must be after the start")
        intervals.append((start, end))
    intervals.sort()
    for (_a, b), (c, _d) in zip(intervals, intervals[1:], strict=False):
        if c < b:
            raise ValueError("intervals overlap")
    return intervals


def format_intervals(intervals: Iterable[Iterable[str]]) -> str:
    return ", ".join(f"{a}-{b}" for a, b in intervals)


@dataclass(frozen=True)
class WorkingTime:
    """A calendar ready for arithmetic."""

    tz: ZoneInfo
    week: tuple[list[Interval], ...]  # index 0 = Monday
    makeup: list[Interval]
    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()
    around_the_clock: bool = False
    _cache: dict[date, list[Interval]] = field(default_factory=dict, compare=False)

    def intervals(self, day: date) -> list[Interval]:
        if self.around_the_clock:
            return [(time.min, time.max)]
        if day in self.holidays:
            return []
        if day in self.workdays:
            return self.makeup
        return self.week[day.weekday()]

    def spans(self, day: date) -> Iterator[tuple[datetime, datetime]]:
        """The working spans of a local day as aware datetimes (24:00 is the next midnight)."""
        for start, end in self.intervals(day):
            a = datetime.combine(day, start, self.tz)
            b = (datetime.combine(day + timedelta(days=1), time.min, self.tz)
                 if end == time.max else datetime.combine(day, end, self.tz))
            yield a, b


def working_time(week: Mapping[str, Any] | None, makeup: Iterable[Any] | None,
                 days: Iterable[tuple[date, str]], tz: str,
                 around_the_clock: bool = False) -> WorkingTime:
    weekly = tuple(parse_intervals((week or {}).get(str(i), DEFAULT_HOURS if i < 5 else []))
                   for i in range(7))
    makeup_intervals = parse_intervals(makeup) if makeup else weekly[0] or parse_intervals(
        DEFAULT_HOURS)
    day_list = list(days)
    return WorkingTime(
        tz=ZoneInfo(tz), week=weekly, makeup=makeup_intervals,
        holidays=frozenset(d for d, kind in day_list if kind == "holiday"),
        workdays=frozenset(d for d, kind in day_list if kind == "workday"),
        around_the_clock=around_the_clock,
    )


def _aware(value: datetime | str) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def add_working_hours(wt: WorkingTime, start: datetime | str, hours: float) -> datetime:
    """The instant ``hours`` working hours after ``start`` (UTC)."""
    begin = _aware(start)
    remaining = timedelta(hours=float(hours))
    if remaining <= timedelta(0):
        return begin.astimezone(UTC)
    day = begin.astimezone(wt.tz).date()
    for _ in range(MAX_DAYS):
        for a, b in wt.spans(day):
            a = max(a, begin)
            if b <= a:
                continue
            if remaining <= b - a:
                return (a + remaining).astimezone(UTC)
            remaining -= b - a
        day += timedelta(days=1)
    raise CalendarError("the business calendar has no working hours")


def working_hours_between(wt: WorkingTime, start: datetime | str, end: datetime | str) -> float:
    """Working hours from ``start`` to ``end`` (0 when end is not after start)."""
    a0, b0 = _aware(start), _aware(end)
    if b0 <= a0:
        return 0.0
    total = timedelta(0)
    day = a0.astimezone(wt.tz).date()
    last = b0.astimezone(wt.tz).date()
    while day <= last:
        for a, b in wt.spans(day):
            lo, hi = max(a, a0), min(b, b0)
            if hi > lo:
                total += hi - lo
        day += timedelta(days=1)
    return total.total_seconds() / 3600


# --- loading and editing ---------------------------------------------------------------------


def calendar_of(project_id: int) -> BusinessCalendar | None:
    return db.session.scalar(select(BusinessCalendar).where(
        BusinessCalendar.project_id == project_id))


def project_working_time(project_id: int, around_the_clock: bool = False) -> WorkingTime:
    """The project's calendar (Mon–Fri 09:00–18:00 when none was set up)."""
    project = db.session.get(Project, project_id)
    tz = project.timezone if project is not None else "Asia/Shanghai"
    calendar = calendar_of(project_id)
    if calendar is None:
        return working_time(None, None, [], tz, around_the_clock)
    days = db.session.execute(select(CalendarDay.day, CalendarDay.kind).where(
        CalendarDay.calendar_id == calendar.id)).all()
    return working_time(calendar.week, calendar.makeup_hours,
                        [(d, k) for d, k in days], tz, around_the_clock)


def add_business_hours(project_id: int, start: datetime | str, hours: float,
                       around_the_clock: bool = False) -> str:
    """Script helper: ISO instant ``hours`` working hours after ``start`` in the project."""
    wt = project_working_time(int(project_id), bool(around_the_clock))
    return add_working_hours(wt, start, hours).isoformat()


def business_hours_between(project_id: int, start: datetime | str, end: datetime | str,
                           around_the_clock: bool = False) -> float:
    """Script helper: working hours between two instants in the project."""
    wt = project_working_time(int(project_id), bool(around_the_clock))
    return working_hours_between(wt, start, end)


def ensure_calendar(project_id: int) -> BusinessCalendar:
    """The project's calendar, created with the default week if missing (flushes)."""
    calendar = calendar_of(project_id)
    if calendar is None:
        calendar = BusinessCalendar(
            project_id=project_id, makeup_hours=[],
            week={str(i): (DEFAULT_HOURS if i < 5 else []) for i in range(7)})
        db.session.add(calendar)
        db.session.flush()
    return calendar


def set_week_hours(project_id: int, texts: Mapping[str, str], makeup: str = "") -> BusinessCalendar:
    """Set the working hours of each weekday (``{"0": "09:00-18:00", …}``) and of make-up days."""
    week: dict[str, list[list[str]]] = {}
    errors: dict[str, str] = {}
    for i, name in enumerate(WEEKDAYS):
        raw = texts.get(str(i), "") or ""
        try:
            week[str(i)] = [[a.strftime("%H:%M"), "24:00" if b == time.max else b.strftime("%H:%M")]
                            for a, b in parse_intervals(raw)]
        except ValueError as exc:
            errors[name] = str(exc)
    try:
        makeup_hours = [[a.strftime("%H:%M"), b.strftime("%H:%M")]
                        for a, b in parse_intervals(makeup or "")]
    except ValueError as exc:
        errors["makeup"] = str(exc)
    if errors:
        raise FieldErrors(errors)
    if not any(week.values()) and not makeup_hours:
        raise FieldErrors({"mon": "a calendar needs some working hours"})
    calendar = ensure_calendar(project_id)
    calendar.week = week
    calendar.makeup_hours = makeup_hours
    db.session.flush()
    return calendar


def add_calendar_day(project_id: int, day: date, kind: str, name: str = "") -> CalendarDay:
    """Add (or change) a holiday or make-up working day."""
    if kind not in ("holiday", "workday"):
        raise FieldErrors({"kind": "holiday or workday"})
    calendar = ensure_calendar(project_id)
    row = db.session.scalar(select(CalendarDay).where(
        CalendarDay.calendar_id == calendar.id, CalendarDay.day == day))
    if row is None:
        row = CalendarDay(project_id=project_id, calendar_id=calendar.id, day=day)
        db.session.add(row)
    row.kind = kind
    row.name = (name or "").strip()[:100]
    db.session.flush()
    return row


def remove_calendar_day(project_id: int, day_id: int) -> None:
    row = db.session.get(CalendarDay, day_id)
    if row is None or row.project_id != project_id:
        raise FieldErrors({"day": "no such calendar day"})
    db.session.delete(row)
    db.session.flush()


#: China's 2026 public holidays and make-up working days (国务院办公厅 2026 年部分节假日安排).
CHINA_2026: tuple[tuple[str, str, str, str], ...] = (
    ("2026-01-01", "2026-01-03", "holiday", "元旦"),
    ("2026-01-04", "2026-01-04", "workday", "元旦调休"),
    ("2026-02-14", "2026-02-14", "workday", "春节调休"),
    ("2026-02-15", "2026-02-23", "holiday", "春节"),
    ("2026-02-28", "2026-02-28", "workday", "春节调休"),
    ("2026-04-04", "2026-04-06", "holiday", "清明节"),
    ("2026-05-01", "2026-05-05", "holiday", "劳动节"),
    ("2026-05-09", "2026-05-09", "workday", "劳动节调休"),
    ("2026-06-19", "2026-06-21", "holiday", "端午节"),
    ("2026-09-20", "2026-09-20", "workday", "国庆节调休"),
    ("2026-09-25", "2026-09-27", "holiday", "中秋节"),
    ("2026-10-01", "2026-10-07", "holiday", "国庆节"),
    ("2026-10-10", "2026-10-10", "workday", "国庆节调休"),
)


def seed_china_2026(project_id: int) -> int:
    """Add China's 2026 public holidays and make-up days to a project's calendar; the count."""
    count = 0
    for first, last, kind, name in CHINA_2026:
        day, end = date.fromisoformat(first), date.fromisoformat(last)
        while day <= end:
            add_calendar_day(project_id, day, kind, name)
            count += 1
            day += timedelta(days=1)
    return count
