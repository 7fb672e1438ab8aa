"""Reading and moving the adjustable clock's offset."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta

import isodate
from flask import Flask, current_app
from sqlalchemy import select

from app.clock import clock
from app.errors import DomainError, FieldErrors
from app.extensions import db
from app.timetravel.models import ClockOffset

#: Called with the new "now" after the clock moved (the scheduler fires what became due).
_advance_listeners: list[Callable[[datetime], None]] = []

#: How long a process trusts its cached offset before reading it again (seconds of real time).
CACHE_SECONDS = 1.0


class ClockNotAdjustable(DomainError):
    status = 409
    code = "clock_not_adjustable"


def on_clock_advanced(listener: Callable[[datetime], None]) -> None:
    """Register work to run right after the clock moved forward."""
    if listener not in _advance_listeners:
        _advance_listeners.append(listener)


class OffsetCache:
    """Reads the offset from the database at most once per :data:`CACHE_SECONDS`."""

    def __init__(self, app: Flask) -> None:
        self._app = app
        self._lock = threading.Lock()
        self._value = timedelta(0)
        self._read_at = float("-inf")

    def set(self, value: timedelta) -> None:
        with self._lock:
            self._value = value
            self._read_at = time.monotonic()

    def __call__(self) -> timedelta:
        with self._lock:
            if time.monotonic() - self._read_at < CACHE_SECONDS:
                return self._value
        # Its own autocommit connection: never waits for, or joins, the caller's transaction.
        with self._app.app_context(), db.engine.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            seconds = conn.scalar(select(ClockOffset.offset_seconds).limit(1)) or 0
        with self._lock:
            self._value = timedelta(seconds=seconds)
            self._read_at = time.monotonic()
            return self._value


def parse_duration(text: str) -> timedelta:
    """An ISO 8601 duration such as ``P31D`` or ``PT2H`` (months and years are refused)."""
    try:
        value = isodate.parse_duration(text.strip().upper())
    except (isodate.ISO8601Error, ValueError) as exc:
        raise FieldErrors({"duration": "use an ISO 8601 duration such as P31D or PT2H"}) from exc
    if not isinstance(value, timedelta):
        raise FieldErrors({"duration": "use days, hours or minutes (P31D, PT2H), not months"})
    if value <= timedelta(0):
        raise FieldErrors({"duration": "time only moves forward"})
    return value


def _row() -> ClockOffset:
    row = db.session.scalar(select(ClockOffset).limit(1).with_for_update())
    if row is None:
        row = ClockOffset(offset_seconds=0)
        db.session.add(row)
    return row


def advance_clock(delta: timedelta) -> datetime:
    """Move the system's time forward by ``delta``; returns the new now. Flushes."""
    if current_app.config["CLOCK_MODE"] != "adjustable":
        raise ClockNotAdjustable("the clock is not adjustable (set ESTATEFLOW_CLOCK=adjustable)")
    row = _row()
    row.offset_seconds = int(row.offset_seconds or 0) + int(delta.total_seconds())
    row.changed_at = clock.now()
    db.session.flush()
    _remember(timedelta(seconds=row.offset_seconds))
    return clock.now()


def reset_clock() -> None:
    """Back to real time."""
    if current_app.config["CLOCK_MODE"] != "adjustable":
        raise ClockNotAdjustable("the clock is not adjustable (set ESTATEFLOW_CLOCK=adjustable)")
    row = _row()
    row.offset_seconds = 0
    db.session.flush()
    _remember(timedelta(0))


def _remember(offset: timedelta) -> None:
    cache = current_app.extensions.get("estateflow_clock_offset")
    if cache is not None:
        cache.set(offset)


def current_offset() -> timedelta:
    seconds = db.session.scalar(select(ClockOffset.offset_seconds).limit(1)) or 0
    return timedelta(seconds=seconds)


def fire_advance_listeners(now: datetime) -> None:
    for listener in list(_advance_listeners):
        listener(now)


def init_app(app: Flask) -> None:
    """In adjustable mode, add the stored offset to every reading of the clock."""
    if app.config["CLOCK_MODE"] == "adjustable":
        cache = OffsetCache(app)
        app.extensions["estateflow_clock_offset"] = cache
        clock.use_offset(cache)
