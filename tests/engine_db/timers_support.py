"""The timer BPMN fixtures as a deployable bundle (each user task gets a trivial form)."""

from __future__ import annotations

import re
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "bpmn"
TIMER_FLOWS = ("boundary_timers", "cycle_timer", "event_gateway", "intermediate_timer",
               "monthly_start")
_USER_TASK = re.compile(rb"(<bpmn:userTask [^>]*>)")
_FORM = (b'<bpmn:extensionElements><spiffworkflow:properties>'
         b'<spiffworkflow:property name="formJsonSchemaFilename" value="timers/any.json" />'
         b'</spiffworkflow:properties></bpmn:extensionElements>')


def timer_bundle() -> dict[str, bytes]:
    """processes/<fixture>.bpmn for every timer fixture plus forms/timers/any.json."""
    files = {"forms/timers/any.json": b'{"type": "object"}'}
    for name in TIMER_FLOWS:
        xml = (FIXTURES / f"{name}.bpmn").read_bytes()
        files[f"processes/{name}.bpmn"] = _USER_TASK.sub(lambda m: m.group(1) + _FORM, xml)
    return files
