"""The one clock of EstateFlow.

Every piece of code that needs "now" — the engine, its timers inside SpiffWorkflow, the
scheduler, the domains — asks :data:`clock`. Tests replace its source with a
:class:`FrozenSource`; the *adjustable* mode (never in production) adds an offset stored in the
database so that every process (web, scheduler) sees the same shifted time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta


class FrozenSource:
    """A time source that only moves when told to (tests)."""

    def __init__(self, start: datetime) -> None:
        self._now = _aware(start)
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    def set(self, when: datetime) -> None:
        with self._lock:
            self._now = _aware(when)

    def advance(self, delta: timedelta) -> datetime:
        with self._lock:
            self._now = self._now + delta
            return self._now


def _system_now() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class Clock:
    """Returns timezone-aware UTC datetimes from a replaceable source plus an offset."""

    def __init__(self) -> None:
        self._source: Callable[[], datetime] = _system_now
        self._offset_loader: Callable[[], timedelta] | None = None

    def now(self) -> datetime:
        current = self._source()
        if self._offset_loader is not None:
            current = current + self._offset_loader()
        return current

    def use(self, source: Callable[[], datetime]) -> None:
        """Replace the time source (tests pass a :class:`FrozenSource`)."""
        self._source = source

    def use_offset(self, loader: Callable[[], timedelta] | None) -> None:
        """Add an offset read at every call (the adjustable mode reads it from the database)."""
        self._offset_loader = loader

    def reset(self) -> None:
        self._source = _system_now
        self._offset_loader = None


clock = Clock()


def utcnow() -> datetime:
    """Shorthand for ``clock.now()``, usable as a SQLAlchemy column default."""
    return clock.now()
