"""Time limits of a complaint as task data, and the script helpers the diagram calls.

A limit is a plain dict kept in the workflow's data (``sla``)::

    {"project_id": 1, "hours": 24, "around": false, "start": "…", "used": 0.0,
     "paused_at": null, "passed": ["warn"], "warn": "…", "due": "…", "pm": "…", "hq": "…",
     "due_local": "2026-11-24 12:00"}

``start`` is when the clock last (re)started and ``used`` the working hours consumed before
it, so every instant is ``add_business_hours(start, fraction × hours − used)``. Pausing adds
the working time since ``start`` to ``used``; resuming moves ``start`` to now and recomputes.
``passed`` lists the thresholds already reached, whose timers must not fire a second time when
the handling task is entered again: :func:`sla_timer` answers :data:`NEVER` for them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from app.clock import clock

from .calendar import add_working_hours, project_working_time, working_hours_between

#: Thresholds as fractions of the limit: warning, supervisor, project manager, HQ.
FRACTIONS = {"warn": 0.8, "due": 1.0, "pm": 1.5, "hq": 2.0}
#: The level recorded on the complaint for each threshold.
LEVEL_OF = {"warn": 0, "due": 1, "pm": 2, "hq": 3}
#: A timeDate that never comes (a threshold already passed).
NEVER = "9999-12-31T00:00:00+00:00"


def _now() -> datetime:
    return clock.now()


def _parse(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _compute(sla: dict[str, Any]) -> dict[str, Any]:
    wt = project_working_time(int(sla["project_id"]), bool(sla["around"]))
    start = _parse(sla["start"])
    for key, fraction in FRACTIONS.items():
        if key in sla["passed"] and sla.get(key):
            continue
        remaining = max(fraction * float(sla["hours"]) - float(sla["used"]), 0.0)
        sla[key] = add_working_hours(wt, start, remaining).isoformat()
    sla["due_local"] = _parse(sla["due"]).astimezone(wt.tz).strftime("%Y-%m-%d %H:%M")
    return sla


def sla_new(project_id: int, hours: float, around_the_clock: bool = False) -> dict[str, Any]:
    """A limit of ``hours`` working hours starting now."""
    if float(hours) <= 0:
        raise ValueError("a time limit needs a positive number of hours")
    return _compute({"project_id": int(project_id), "hours": float(hours),
                     "around": bool(around_the_clock), "start": _now().isoformat(),
                     "used": 0.0, "paused_at": None, "passed": []})


def sla_mark(sla: dict[str, Any]) -> dict[str, Any]:
    """Note the thresholds reached by now (their timers have fired)."""
    result = dict(sla)
    now = _now()
    result["passed"] = sorted(set(sla.get("passed") or [])
                              | {k for k in FRACTIONS if sla.get(k) and _parse(sla[k]) <= now})
    return result


def sla_pause(sla: dict[str, Any]) -> dict[str, Any]:
    """Stop the clock (waiting for the complainant)."""
    if sla.get("paused_at"):
        return dict(sla)
    result = sla_mark(sla)
    wt = project_working_time(int(sla["project_id"]), bool(sla["around"]))
    now = _now()
    result["used"] = float(sla["used"]) + working_hours_between(wt, sla["start"], now)
    result["paused_at"] = now.isoformat()
    return result


def sla_resume(sla: dict[str, Any]) -> dict[str, Any]:
    """Restart the clock: the remaining working time counts from now."""
    if not sla.get("paused_at"):
        return dict(sla)
    result = dict(sla)
    result["paused_at"] = None
    result["start"] = _now().isoformat()
    return _compute(result)


def sla_extend(sla: dict[str, Any], extra_hours: float) -> dict[str, Any]:
    """Lengthen the limit by ``extra_hours`` working hours (an approved extension)."""
    result = dict(sla)
    result["hours"] = float(sla["hours"]) + max(float(extra_hours or 0), 0.0)
    return _compute(result)


def sla_timer(sla: dict[str, Any], key: str) -> str:
    """The timeDate of a threshold's timer (:data:`NEVER` once it was passed)."""
    if key in (sla.get("passed") or []):
        return NEVER
    return str(sla[key])


def sla_due_in(sla: dict[str, Any]) -> timedelta:
    """Time left until the limit (for a task's dueIn); zero when it passed."""
    return max(_parse(sla["due"]) - _now(), timedelta(0))

