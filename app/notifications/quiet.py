"""Quiet hours: non-urgent SMS wait until the morning (per project, local time)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from app.errors import FieldErrors
from app.extensions import db
from app.notifications.models import (
    DEFAULT_QUIET_END,
    DEFAULT_QUIET_START,
    DEFAULT_TIMEZONE,
    NotificationSettings,
)


@dataclass(frozen=True)
class QuietHours:
    enabled: bool
    start: time
    end: time
    timezone: str

    def until(self, at: datetime) -> datetime | None:
        """The end of the quiet period ``at`` falls in (aware), or None outside quiet hours."""
        if not self.enabled or self.start == self.end:
            return None
        zone = ZoneInfo(self.timezone)
        local = at.astimezone(zone)
        now = local.time()
        if self.start > self.end:  # over midnight, e.g. 22:00–08:00
            if now >= self.start:
                day = local.date() + timedelta(days=1)
            elif now < self.end:
                day = local.date()
            else:
                return None
        elif self.start <= now < self.end:
            day = local.date()
        else:
            return None
        return datetime.combine(day, self.end, tzinfo=zone)


def parse_hhmm(value: str, field: str) -> time:
    try:
        hours, minutes = value.strip().split(":")
        return time(int(hours), int(minutes))
    except ValueError as exc:
        raise FieldErrors({field: "use the form HH:MM"}) from exc


def settings_for(project_id: int | None) -> NotificationSettings | None:
    if project_id is None:
        return None
    # Looked up as the system: the dispatcher and callbacks act for no user.
    return db.session.scalar(select(NotificationSettings)
                             .where(NotificationSettings.project_id == project_id)
                             .execution_options(all_projects=True))


#: session.info key: (the transaction, {project id: QuietHours}) — a notification pass asks
#: for the same project's quiet hours for every SMS it queues.
_CACHE = "estateflow.quiet_hours"


def quiet_hours(project_id: int | None) -> QuietHours:
    """The project's quiet hours (read once per transaction)."""
    transaction = db.session().get_transaction()
    cached: tuple[object, dict[int | None, QuietHours]] | None = db.session.info.get(_CACHE)
    if cached is None or cached[0] is not transaction:
        cached = (transaction, {})
        db.session.info[_CACHE] = cached
    hours = cached[1].get(project_id)
    if hours is None:
        hours = cached[1][project_id] = _read_quiet_hours(project_id)
    return hours


def _read_quiet_hours(project_id: int | None) -> QuietHours:
    row = settings_for(project_id)
    if row is None:
        return QuietHours(True, parse_hhmm(DEFAULT_QUIET_START, "quiet_start"),
                          parse_hhmm(DEFAULT_QUIET_END, "quiet_end"), DEFAULT_TIMEZONE)
    return QuietHours(row.quiet_enabled, parse_hhmm(row.quiet_start, "quiet_start"),
                      parse_hhmm(row.quiet_end, "quiet_end"), row.timezone)


def set_quiet_hours(project_id: int, *, enabled: bool, start: str, end: str,
                    timezone: str = DEFAULT_TIMEZONE) -> NotificationSettings:
    """Set a project's quiet hours (local ``HH:MM``; start after end spans midnight)."""
    db.session.info.pop(_CACHE, None)
    parse_hhmm(start, "quiet_start")
    parse_hhmm(end, "quiet_end")
    try:
        ZoneInfo(timezone)
    except (KeyError, ValueError) as exc:
        raise FieldErrors({"timezone": f"unknown time zone {timezone!r}"}) from exc
    row = settings_for(project_id) or NotificationSettings(project_id=project_id)
    row.quiet_enabled, row.quiet_start, row.quiet_end = enabled, start.strip(), end.strip()
    row.timezone = timezone
    db.session.add(row)
    db.session.flush()
    return row
