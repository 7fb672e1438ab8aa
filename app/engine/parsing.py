"""The BPMN/DMN parser of EstateFlow: SpiffWorkflow's spiff parser with our own specs.

Differences from ``SpiffBpmnParser``:

* timer events create the clock-aware definitions of :mod:`app.engine.timers`;
* service tasks create :class:`ExternalServiceTask`, which the engine never runs by itself:
  the runtime lists ready service tasks, a Python handler does the work (writing to the
  outbox) and hands the result back with :func:`app.engine.spiff.complete_service_task`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import full_tag
from SpiffWorkflow.bpmn.parser.util import first
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.defaults import (
    BoundaryEvent,
    IntermediateCatchEvent,
    IntermediateThrowEvent,
    StartEvent,
)
from SpiffWorkflow.spiff.parser.event_parsers import (
    SpiffBoundaryEventParser,
    SpiffIntermediateCatchEventParser,
    SpiffIntermediateThrowEventParser,
    SpiffStartEventParser,
)
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser
from SpiffWorkflow.spiff.parser.task_spec import ServiceTaskParser
from SpiffWorkflow.spiff.specs.defaults import ServiceTask

from app.engine.timers import (
    ClockCycleTimerEventDefinition,
    ClockDurationTimerEventDefinition,
    ClockTimeDateEventDefinition,
)

#: Namespace of the spiffworkflow extension elements.
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"


class ExternalServiceTask(ServiceTask):
    """A service task completed from outside the engine with its handler's result."""

    def __init__(self, wf_spec: Any, name: str, *args: Any, **kwargs: Any) -> None:
        kwargs["manual"] = True
        super().__init__(wf_spec, name, *args, **kwargs)

    def _execute(self, task: Any) -> bool:
        # The handler's result was stored in task.data by complete_service_task.
        return True


class _ClockTimerMixin:
    """Replaces Spiff's timer parsing so the clock-aware definitions are created."""

    # Provided by Spiff's NodeParser / EventDefinitionParser (annotations only).
    node: Any
    filename: str
    xpath: Callable[[str], list[Any]]
    get_event_description: Callable[[Any], str]

    def parse_timer_event(self, event: Any) -> Any:
        description = self.get_event_description(event)
        name = self.node.get("name", self.node.get("id"))
        kinds = (
            ("timeDate", ClockTimeDateEventDefinition),
            ("timeDuration", ClockDurationTimerEventDefinition),
            ("timeCycle", ClockCycleTimerEventDefinition),
        )
        for tag, cls in kinds:
            element = first(self.xpath(f".//bpmn:{tag}"))
            if element is not None:
                if not (element.text or "").strip():
                    raise ValidationException(
                        f"Empty timer {tag}", node=self.node, file_name=self.filename
                    )
                return cls(name, element.text.strip(), description=description)
        raise ValidationException(
            "Timer without timeDate, timeDuration or timeCycle",
            node=self.node,
            file_name=self.filename,
        )


class StartEventParser(_ClockTimerMixin, SpiffStartEventParser):
    pass


class IntermediateCatchEventParser(_ClockTimerMixin, SpiffIntermediateCatchEventParser):
    pass


class IntermediateThrowEventParser(_ClockTimerMixin, SpiffIntermediateThrowEventParser):
    pass


class BoundaryEventParser(_ClockTimerMixin, SpiffBoundaryEventParser):
    pass


class EstateFlowParser(SpiffBpmnParser):
    """SpiffBpmnParser (DMN included) creating EstateFlow's timer and service task specs."""

    OVERRIDE_PARSER_CLASSES = {
        **SpiffBpmnParser.OVERRIDE_PARSER_CLASSES,
        full_tag("startEvent"): (StartEventParser, StartEvent),
        full_tag("intermediateCatchEvent"): (IntermediateCatchEventParser, IntermediateCatchEvent),
        full_tag("intermediateThrowEvent"): (IntermediateThrowEventParser, IntermediateThrowEvent),
        full_tag("boundaryEvent"): (BoundaryEventParser, BoundaryEvent),
        full_tag("serviceTask"): (ServiceTaskParser, ExternalServiceTask),
    }


def parse_xml(content: bytes) -> Any:
    """Parse XML bytes safely (no entities, no network) with line numbers kept."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, remove_comments=True)
    return etree.fromstring(content, parser=parser)


def create_parser(files: Mapping[str, bytes], *, validate_xsd: bool = True) -> EstateFlowParser:
    """A parser loaded with every ``*.bpmn`` and ``*.dmn`` of ``files`` ({name: bytes}).

    Raises ValidationException (or lxml's XMLSyntaxError) on the first broken file; use
    :func:`app.engine.validation.validate_bundle` to collect every problem instead.
    """
    parser = EstateFlowParser(validator=VALIDATOR if validate_xsd else None)
    for name in sorted(files):
        if name.endswith(".dmn"):
            parser.add_dmn_xml(parse_xml(files[name]), filename=name)
    for name in sorted(files):
        if name.endswith(".bpmn"):
            parser.add_bpmn_xml(parse_xml(files[name]), filename=name)
    return parser
