"""Helpers offered to BPMN scripts and expressions, and the registry domains extend.

The list of helpers is documented in :mod:`app.engine.scripting`. Every helper is pure and
deterministic apart from reading :data:`app.clock.clock`; none does I/O. A helper receives
script values and must return plain data (numbers, strings, dates, lists, dicts), never an
object that would give a script a way around the restrictions.
"""

from __future__ import annotations

import keyword
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import isodate

from app.clock import clock

MAX_PATTERN_LENGTH = 64


def now(tz: str | None = None) -> datetime:
    """The engine clock's current time: aware UTC, or in the IANA zone ``tz``."""
    current = clock.now()
    return current.astimezone(ZoneInfo(tz)) if tz else current


def today(tz: str | None = None) -> date:
    """Today's date by the engine clock, in UTC or in the IANA zone ``tz``."""
    return now(tz).date()


def add_days(value: date, days: float) -> date:
    """``value`` (a date or datetime) plus ``days`` days."""
    return value + timedelta(days=days)


def add_hours(value: datetime, hours: float) -> datetime:
    """``value`` (a datetime) plus ``hours`` hours."""
    if not isinstance(value, datetime):
        raise TypeError("add_hours() needs a datetime")
    return value + timedelta(hours=hours)


def parse_date(value: str | date) -> date:
    """An ISO 8601 date (``2024-05-01``) or datetime; naive datetimes are taken as UTC."""
    if isinstance(value, datetime):
        return _aware(value)
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        raise TypeError("parse_date() needs a string")
    text = value.strip()
    if len(text) == 10:
        return date.fromisoformat(text)
    return _aware(datetime.fromisoformat(text))


def iso(value: date | time | timedelta | isodate.Duration) -> str:
    """ISO 8601 text of a date, datetime, time or duration (``PT2H``)."""
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, timedelta | isodate.Duration):
        return str(isodate.duration_isoformat(value))
    raise TypeError("iso() needs a date, datetime, time or duration")


def days_between(start: date, end: date) -> int:
    """Calendar days from ``start`` to ``end`` (dates or datetimes; negative if end is earlier)."""
    return (_as_date(end) - _as_date(start)).days


def duration(text: str) -> timedelta | isodate.Duration:
    """An ISO 8601 duration: a timedelta, or an isodate Duration for months and years."""
    return isodate.parse_duration(text)


def fmt_money_fen(fen: int) -> str:
    """Format an amount in fen (分) as yuan: ``123450`` → ``¥1,234.50``."""
    if isinstance(fen, bool) or not isinstance(fen, int):
        raise TypeError("fmt_money_fen() needs an integer amount in fen")
    sign = "-" if fen < 0 else ""
    yuan, cents = divmod(abs(fen), 100)
    return f"{sign}¥{yuan:,}.{cents:02d}"


def fmt_date(value: date, pattern: str = "%Y-%m-%d", tz: str | None = None) -> str:
    """Format a date or datetime with a strftime ``pattern``, a datetime optionally in ``tz``."""
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise ValueError(f"fmt_date() pattern longer than {MAX_PATTERN_LENGTH} characters")
    if tz and isinstance(value, datetime):
        value = value.astimezone(ZoneInfo(tz))
    return value.strftime(pattern)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _as_date(value: date) -> date:
    return value.date() if isinstance(value, datetime) else value


BUILTIN_HELPERS: dict[str, Any] = {
    "now": now,
    "today": today,
    "add_days": add_days,
    "add_hours": add_hours,
    "parse_date": parse_date,
    "iso": iso,
    "days_between": days_between,
    "duration": duration,
    "timedelta": timedelta,
    "datetime": datetime,
    "date": date,
    "fmt_money_fen": fmt_money_fen,
    "fmt_date": fmt_date,
}

_registry: dict[str, Any] = dict(BUILTIN_HELPERS)
_version = 0


def register_helper(name: str, func: Callable[..., Any], *, replace: bool = False) -> None:
    """Offer ``func`` to every script as ``name`` (domains add e.g. ``add_business_hours``)."""
    global _version
    if not name.isidentifier() or keyword.iskeyword(name) or name.startswith("_"):
        raise ValueError(f"invalid helper name {name!r}")
    if not callable(func):
        raise TypeError(f"helper {name!r} must be callable")
    if not replace and name in _registry and _registry[name] is not func:
        raise ValueError(f"a helper named {name!r} is already registered")
    _registry[name] = func
    _version += 1


def unregister_helper(name: str) -> None:
    """Withdraw a helper registered with :func:`register_helper` (built-in ones stay)."""
    global _version
    if name in BUILTIN_HELPERS:
        raise ValueError(f"{name!r} is a built-in helper")
    if _registry.pop(name, None) is not None:
        _version += 1


def registered_helpers() -> tuple[int, dict[str, Any]]:
    """The registry's version (bumped on every change) and a copy of its helpers."""
    return _version, dict(_registry)
