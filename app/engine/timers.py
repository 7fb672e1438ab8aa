"""ISO 8601 timer arithmetic and timer event definitions that read "now" from :data:`clock`.

SpiffWorkflow's own timer definitions call ``datetime.now()`` themselves and turn calendar
periods into fixed seconds (a monthly cycle drifts by days). The subclasses here take every
"now" from :mod:`app.clock` and step cycles with calendar arithmetic; the parser and the
serializer create them instead of Spiff's (see :mod:`app.engine.parsing`, :mod:`app.engine.spiff`).

Conventions: naive date-times are UTC; timer expressions are Python expressions (a literal is
quoted: ``"P30D"``) evaluated by the workflow's script engine.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from dateutil.relativedelta import relativedelta
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    DurationTimerEventDefinition,
    TimeDateEventDefinition,
    TimerEventDefinition,
)

from app.clock import clock

_NUMBER = r"(\d+(?:[.,]\d+)?)"
_DURATION_RE = re.compile(
    rf"^P(?!$)(?:{_NUMBER}Y)?(?:{_NUMBER}M)?(?:{_NUMBER}W)?(?:{_NUMBER}D)?"
    rf"(?:T(?=\d)(?:{_NUMBER}H)?(?:{_NUMBER}M)?(?:{_NUMBER}S)?)?$",
    re.IGNORECASE,
)
_DURATION_FIELDS = ("years", "months", "weeks", "days", "hours", "minutes", "seconds")
_CYCLE_RE = re.compile(r"^R(\d*)$", re.IGNORECASE)


class TimerValueError(ValueError):
    """A timer value is not a valid ISO 8601 date-time, duration or repeating interval."""


def parse_datetime(value: str | datetime, *, keep_offset: bool = False) -> datetime:
    """An ISO 8601 date or date-time (naive means UTC) as an aware datetime in UTC (or in its
    own offset with keep_offset, which calendar arithmetic needs: "the 1st at 00:00+08:00")."""
    if isinstance(value, datetime):
        parsed = value
    else:
        try:
            parsed = datetime.fromisoformat(str(value).strip())
        except ValueError as exc:
            raise TimerValueError(f"{value!r} is not an ISO 8601 date-time") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed if keep_offset else parsed.astimezone(UTC)


def parse_duration(value: str | timedelta) -> relativedelta:
    """An ISO 8601 duration (``P30D``, ``PT1H``, ``P1M``) as a calendar-aware relativedelta.

    A timedelta (what the ``duration()`` script helper returns) is accepted as well.
    """
    if isinstance(value, timedelta):
        return relativedelta(
            days=value.days, seconds=value.seconds, microseconds=value.microseconds
        )
    match = _DURATION_RE.match(str(value).strip()) if isinstance(value, str) else None
    if match is None:
        raise TimerValueError(f"{value!r} is not an ISO 8601 duration")
    parts: dict[str, float] = {}
    for field, raw in zip(_DURATION_FIELDS, match.groups(), strict=True):
        if raw is not None:
            parts[field] = float(raw.replace(",", "."))
    for field in ("years", "months"):
        if not float(parts.get(field, 0)).is_integer():
            raise TimerValueError(f"{value!r}: fractional {field} are ambiguous")
    seconds = parts.pop("seconds", 0.0)
    whole = {k: int(v) if v.is_integer() else v for k, v in parts.items()}
    return relativedelta(
        years=int(whole.pop("years", 0)),
        months=int(whole.pop("months", 0)),
        **whole,  # type: ignore[arg-type]
        seconds=int(seconds),
        microseconds=round((seconds - int(seconds)) * 1_000_000),
    )


def add_duration(start: datetime, duration: str | timedelta) -> datetime:
    return start + parse_duration(duration)


@dataclass(frozen=True)
class Cycle:
    """``R[n]/[start/]period``; repetitions is -1 when unbounded."""

    repetitions: int
    period: str
    start: datetime | None

    def occurrence(self, anchor: datetime, index: int) -> datetime:
        """The index-th occurrence counted from anchor (in UTC), without cumulative drift.

        Calendar periods are added in the anchor's own offset, so a monthly cycle anchored at
        ``2026-01-31T00:00+08:00`` lands on the last day of each month there.
        """
        return (anchor + parse_duration(self.period) * index).astimezone(UTC)


def parse_cycle(value: str) -> Cycle:
    """Parse ``R3/PT1H`` or ``R/2026-01-01T00:00:00+08:00/P1M``."""
    if not isinstance(value, str):
        raise TimerValueError(f"{value!r} is not an ISO 8601 repeating interval")
    parts = value.strip().split("/")
    match = _CYCLE_RE.match(parts[0])
    if match is None or len(parts) not in (2, 3):
        raise TimerValueError(
            f"{value!r} is not an ISO 8601 repeating interval (R[n]/[start/]period)"
        )
    repetitions = int(match.group(1)) if match.group(1) else -1
    if len(parts) == 2:
        parse_duration(parts[1])
        return Cycle(repetitions, parts[1], None)
    start = parse_datetime(parts[1], keep_offset=True)
    parse_duration(parts[2])
    return Cycle(repetitions, parts[2], start)


def check_timer_value(kind: str, value: Any) -> None:
    """Raise TimerValueError unless value suits a timer of kind timeDate/timeDuration/timeCycle."""
    if kind == "timeDate":
        parse_datetime(value)
    elif kind == "timeDuration":
        parse_duration(value)
    elif kind == "timeCycle":
        parse_cycle(value)
    else:
        raise TimerValueError(f"unknown timer kind {kind!r}")


def timer_kind(definition: TimerEventDefinition) -> str:
    if isinstance(definition, TimeDateEventDefinition):
        return "timeDate"
    if isinstance(definition, CycleTimerEventDefinition):
        return "timeCycle"
    return "timeDuration"


def _first_index(cycle: Cycle, anchor: datetime, after: datetime, *, strict: bool) -> int:
    """The first occurrence index after ``after`` (at or after unless strict)."""
    index = 0
    # Jump close to the answer first so a daily cycle anchored years ago stays cheap.
    step = cycle.occurrence(anchor, 1) - anchor
    if step > timedelta(0) and after > anchor:
        index = max(0, int((after - anchor) / step) - 2)
    while True:
        when = cycle.occurrence(anchor, index)
        if when > after or (when == after and not strict):
            return index
        index += 1


def next_cycle_start(cycle: Cycle, after: datetime) -> datetime | None:
    """The first occurrence of a cycle strictly after ``after`` (None when exhausted).

    An unanchored cycle (``R/P1D``) counts from ``after`` itself.
    """
    if cycle.start is None:
        return cycle.occurrence(after, 1) if cycle.repetitions != 0 else None
    index = _first_index(cycle, cycle.start, after, strict=True)
    if 0 <= cycle.repetitions <= index:
        return None
    return cycle.occurrence(cycle.start, index)


def _evaluate(my_task: Any, expression: str) -> Any:
    return my_task.workflow.script_engine.evaluate(my_task, expression)


class ClockTimeDateEventDefinition(TimeDateEventDefinition):
    """A timeDate timer; event_value is the due date-time as ISO text."""

    def has_fired(self, my_task: Any) -> bool:
        event_value = my_task._get_internal_data("event_value")
        if event_value is None:
            event_value = parse_datetime(_evaluate(my_task, self.expression)).isoformat()
            my_task._set_internal_data(event_value=event_value)
        if parse_datetime(event_value) <= clock.now():
            my_task._set_internal_data(event_fired=True)
        return bool(my_task._get_internal_data("event_fired", False))


class ClockDurationTimerEventDefinition(DurationTimerEventDefinition):
    """A timeDuration timer; event_value is the due date-time (start + duration) as ISO text."""

    def has_fired(self, my_task: Any) -> bool:
        event_value = my_task._get_internal_data("event_value")
        if event_value is None:
            duration = _evaluate(my_task, self.expression)
            event_value = add_duration(clock.now(), duration).isoformat()
            my_task._set_internal_data(event_value=event_value)
        if parse_datetime(event_value) <= clock.now():
            my_task._set_internal_data(event_fired=True)
        return bool(my_task._get_internal_data("event_fired", False))


class ClockCycleTimerEventDefinition(CycleTimerEventDefinition):
    """A timeCycle timer.

    event_value keeps Spiff's keys (cycles left, next due) plus the anchor, period and index so
    every occurrence is computed from the anchor with calendar arithmetic. Occurrences already
    past when the timer starts waiting are skipped.
    """

    def cycle_complete(self, my_task: Any) -> bool:
        now = clock.now()
        event_value = my_task._get_internal_data("event_value")
        if event_value is None:
            cycle = parse_cycle(_evaluate(my_task, self.expression))
            if cycle.start is None:
                anchor, index, cycles = now, 1, cycle.repetitions
            else:
                anchor = cycle.start
                index = _first_index(cycle, anchor, now, strict=True)
                cycles = max(cycle.repetitions - index, 0) if cycle.repetitions >= 0 else -1
            event_value = {
                "cycles": cycles,
                "next": cycle.occurrence(anchor, index).isoformat(),
                "anchor": anchor.isoformat(),
                "period": cycle.period,
                "index": index,
            }
        if event_value["cycles"] == 0:
            my_task.internal_data.pop("event_value", None)
            my_task._set_internal_data(event_fired=True)
            return False
        ready = False
        if parse_datetime(event_value["next"]) <= now:
            cycle = Cycle(event_value["cycles"], event_value["period"], None)
            event_value["index"] += 1
            anchor = parse_datetime(event_value["anchor"], keep_offset=True)
            event_value["next"] = cycle.occurrence(anchor, event_value["index"]).isoformat()
            if event_value["cycles"] > 0:
                event_value["cycles"] -= 1
            ready = True
        my_task._set_internal_data(event_value=event_value)
        return ready


def timer_due(definition: TimerEventDefinition, internal_data: dict[str, Any]) -> datetime | None:
    """When a waiting timer fires next, from the value Spiff keeps in the task's internal data."""
    if internal_data.get("event_fired"):
        return None
    value = internal_data.get("event_value")
    if value is None:
        return None
    if isinstance(definition, CycleTimerEventDefinition):
        if not isinstance(value, dict) or value.get("cycles") == 0:
            return None
        return parse_datetime(value["next"])
    try:
        return parse_datetime(value)
    except TimerValueError:
        return None
