"""Messages and signals: what a workflow waits for, and delivering them.

A message catch event declares its correlation with ``spiffworkflow:processVariableCorrelation``
(property id + expression over the process data, e.g. the ticket number) and the
collaboration's ``bpmn:correlationProperty`` says where the same property sits in a message
payload. :func:`waiting_messages` gives the values the instance expects, which the persistence
layer indexes; :func:`send_message` delivers a payload. Neither advances the workflow: call
:func:`app.engine.spiff.advance` afterwards.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import SignalEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.util.event import BpmnEvent
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import WorkflowException
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState


@dataclass(frozen=True)
class WaitingEvent:
    """A catch event (message or signal) the workflow waits on."""

    task_id: UUID
    element_id: str
    kind: str  # message | signal
    name: str
    #: correlation property → expected value (messages; empty = accepts any message of name)
    correlations: dict[str, Any] = field(default_factory=dict)


def _definitions(task: Task) -> Iterator[Any]:
    definition = getattr(task.task_spec, "event_definition", None)
    if isinstance(definition, MultipleEventDefinition):
        yield from definition.event_definitions
    elif definition is not None:
        yield definition


def _waiting_tasks(workflow: BpmnWorkflow) -> list[Task]:
    return [
        task
        for task in list(workflow.event_manager.tasks.values())
        if task.has_state(TaskState.WAITING)
    ]


def _evaluate_properties(
    workflow: BpmnWorkflow, properties: Iterable[Any], context: Any
) -> dict[str, Any]:
    """{property name: value} for the properties whose expression evaluates in context."""
    environment = workflow.script_engine.environment
    values: dict[str, Any] = {}
    # evaluate() reads the context without changing it: no copy needed for a dict.
    scope = context if isinstance(context, dict) else (
        dict(context) if isinstance(context, Mapping) else {})
    for prop in properties:
        try:
            values[prop.name] = environment.evaluate(prop.retrieval_expression, scope)
        except Exception:  # noqa: S112 - a missing variable means "not correlated on this"
            continue
    return values


def _expected_correlations(task: Task, definition: MessageEventDefinition) -> dict[str, Any]:
    """The correlation values this waiting catch expects.

    Computed from the catch's processVariableCorrelation over the task data (Spiff applies them
    only to plain catch events, not to the branches of an event-based gateway), falling back
    to the correlations the instance already established.
    """
    process_props = getattr(definition, "process_correlations", None) or []
    expected = _evaluate_properties(task.workflow, process_props, task.data)
    if expected:
        return expected
    for key_values in task.workflow.correlations.values():
        for prop in definition.correlation_properties:
            if prop.name in key_values:
                expected[prop.name] = key_values[prop.name]
    return expected


def waiting_events(workflow: BpmnWorkflow) -> list[WaitingEvent]:
    """Every message and signal catch the workflow currently waits on."""
    result = []
    for task in _waiting_tasks(workflow):
        for definition in _definitions(task):
            if isinstance(definition, MessageEventDefinition):
                result.append(
                    WaitingEvent(
                        task.id,
                        task.task_spec.bpmn_id,
                        "message",
                        definition.name,
                        _expected_correlations(task, definition),
                    )
                )
            elif isinstance(definition, SignalEventDefinition):
                result.append(
                    WaitingEvent(task.id, task.task_spec.bpmn_id, "signal", definition.name)
                )
    return result


def waiting_messages(workflow: BpmnWorkflow) -> list[WaitingEvent]:
    return [e for e in waiting_events(workflow) if e.kind == "message"]


def _find(workflow: BpmnWorkflow, cls: type, name: str) -> list[tuple[Task, Any]]:
    return [
        (task, definition)
        for task in _waiting_tasks(workflow)
        for definition in _definitions(task)
        if isinstance(definition, cls) and getattr(definition, "name", None) == name
    ]


def send_message(workflow: BpmnWorkflow, name: str, payload: Any = None) -> bool:
    """Deliver a message; True when a waiting catch event with matching correlation took it.

    The payload's correlation properties (the collaboration's retrieval expressions evaluated
    over the payload) must equal every value the catch expects.
    """
    for task, definition in _find(workflow, MessageEventDefinition, name):
        values = _evaluate_properties(workflow, definition.correlation_properties, payload)
        expected = _expected_correlations(task, definition)
        if any(values.get(prop) != value for prop, value in expected.items()):
            continue
        correlations: dict[str, dict[str, Any]] = {}
        for prop in definition.correlation_properties:
            if prop.name in values:
                for key in prop.correlation_keys:
                    correlations.setdefault(key, {})[prop.name] = values[prop.name]
        event = BpmnEvent(definition, payload=payload, correlations=correlations)
        try:
            workflow.send_event(event)
        except WorkflowException:
            continue
        return True
    return False


def broadcast_signal(workflow: BpmnWorkflow, name: str, payload: Any = None) -> bool:
    """Throw a signal into this workflow; True when something caught it."""
    found = _find(workflow, SignalEventDefinition, name)
    if not found:
        return False
    _task, definition = found[0]
    try:
        workflow.send_event(BpmnEvent(definition, payload=payload))
    except WorkflowException:
        return False
    return True
