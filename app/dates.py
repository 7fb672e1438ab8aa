"""Dates typed by people: a day in the local time zone as an instant range."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context

from app.errors import FieldErrors

DEFAULT_TIMEZONE = "Asia/Shanghai"


def local_zone() -> ZoneInfo:
    name = current_app.config["BABEL_DEFAULT_TIMEZONE"] if has_app_context() else DEFAULT_TIMEZONE
    return ZoneInfo(name)


def day_bound(field: str, value: str, *, end: bool) -> datetime | None:
    """The first (or, with ``end``, last) instant of a YYYY-MM-DD day in the local time zone,
    in UTC; None for an empty value; 422 naming ``field`` for anything else."""
    if not value:
        return None
    try:
        day = datetime.strptime(value.strip(), "%Y-%m-%d").date()
    except ValueError as exc:
        raise FieldErrors({field: "use the form YYYY-MM-DD"}) from exc
    local = datetime.combine(day, time.max if end else time.min, tzinfo=local_zone())
    return local.astimezone(UTC)
