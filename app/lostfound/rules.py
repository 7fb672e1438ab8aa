"""Settings and small rules shared by the operations and the workflow sync."""

from __future__ import annotations

from datetime import datetime

from flask import current_app, has_app_context

from app.clock import clock
from app.engine.timers import add_duration
from app.lostfound.models import Item, ItemStatus

#: Durations (ISO 8601) the diagram's timers read from the instance data; override them in
#: the app config (LOSTFOUND_DISPOSAL_AFTER="P180D", ...).
DEFAULTS = {"LOSTFOUND_REMINDER_AFTER": "P30D", "LOSTFOUND_DISPOSAL_AFTER": "P90D",
            "LOSTFOUND_LOST_EXPIRY": "P30D"}


def setting(name: str) -> str:
    """A duration setting from the app config, or its default."""
    value = current_app.config.get(name) if has_app_context() else None
    return str(value or DEFAULTS[name])


def publish(item: Item, at: datetime | None = None) -> None:
    """Mark an item as listed; a lost report gets its expiry date."""
    now = at or clock.now()
    item.status = ItemStatus.PUBLISHED
    item.published_at = now
    if item.kind == "lost":
        item.expires_at = add_duration(now, setting("LOSTFOUND_LOST_EXPIRY"))
