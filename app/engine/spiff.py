"""The SpiffWorkflow runtime: serializer, workflow creation, stepping and timers.

Pure engine code: no Flask, no database. The persistence layer stores what :func:`serialize`
returns plus the projections computed here (:func:`next_timer_due`, the human tasks, the
waiting messages of :mod:`app.engine.events`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.serializer.default.event_definition import (
    TimerConditionalEventDefinitionConverter,
)
from SpiffWorkflow.bpmn.serializer.default.workflow import (
    BpmnWorkflowConverter,
    WorkflowConverter,
)
from SpiffWorkflow.bpmn.serializer.helpers.bpmn_converter import BpmnConverter
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.specs import BpmnProcessSpec
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    DurationTimerEventDefinition,
    TimeDateEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from SpiffWorkflow.bpmn.util.subworkflow import BpmnSubWorkflow
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import TaskNotFoundException
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.spiff.serializer.task_spec import ServiceTaskConverter
from SpiffWorkflow.spiff.specs.defaults import ServiceTask
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from app.clock import clock
from app.engine.codec import (
    FastBpmnWorkflowConverter,
    FastSubWorkflowConverter,
    FastTaskConverter,
    FastWorkflowSerializer,
)
from app.engine.parsing import ExternalServiceTask
from app.engine.scripting import create_script_engine
from app.engine.timers import (
    ClockCycleTimerEventDefinition,
    ClockDurationTimerEventDefinition,
    ClockTimeDateEventDefinition,
    Cycle,
    add_duration,
    next_cycle_start,
    parse_cycle,
    parse_datetime,
    timer_due,
    timer_kind,
)

#: Written into every serialization; :func:`deserialize` refuses versions it does not know, so
#: a format change must come with a new constant (and reading the old one, or a migration).
#: estateflow-2 names the process specs instead of embedding them: they live in the
#: deployment, which every instance keeps (a state shrinks from ~29 KB to ~5 KB for dunning,
#: and restoring it no longer rebuilds the specs).
SERIALIZER_VERSION = "estateflow-2"
#: estateflow-1 states embedded their specs; they are still read (and saved as estateflow-2).
READABLE_VERSIONS = frozenset({"estateflow-1", SERIALIZER_VERSION})

#: A workflow's process spec and its called processes' specs (what a deployment holds).
Specs = tuple[BpmnProcessSpec, Mapping[str, BpmnProcessSpec]]

#: Rounds of refresh + engine steps one :func:`advance` may take (cycle timers catching up).
MAX_ADVANCE_ROUNDS = 100


class EngineError(Exception):
    """A request the workflow cannot honour (unknown task, task not ready, ...)."""


class SerializationVersionError(EngineError):
    """A serialized workflow was written by another serializer version."""


def _config() -> dict[type, type]:
    config = dict(SPIFF_CONFIG)
    # Ours replace Spiff's classes but keep their typenames, so a serialization always
    # restores into the clock-aware / externally completed specs.
    for spiff_class in (
        TimeDateEventDefinition,
        DurationTimerEventDefinition,
        CycleTimerEventDefinition,
        ServiceTask,
    ):
        config.pop(spiff_class)
    return config


class SpecsRequired(EngineError):
    """An estateflow-2 state names its specs: deserialize needs them (from the deployment)."""


class SpecRef:
    """Stands for a process spec in a state: restored from the specs passed to deserialize."""


_restoring_specs: ContextVar[Specs | None] = ContextVar("estateflow_restoring_specs",
                                                        default=None)
SPEC_REF = "EstateFlowSpecRef"


class SpecRefConverter(BpmnConverter):  # type: ignore[misc]
    """``{"typename": "EstateFlowSpecRef", "name": ...}`` → the spec of that name."""

    def to_dict(self, spec: Any) -> dict[str, Any]:
        return {"name": spec.name}

    def from_dict(self, dct: Mapping[str, Any]) -> BpmnProcessSpec:
        specs = _restoring_specs.get()
        if specs is None:
            raise SpecsRequired("this state names its process specs: pass the deployment's")
        top, called = specs
        name = dct["name"]
        spec = top if top.name == name else called.get(name)
        if spec is None:
            raise SpecsRequired(f"the deployment has no process spec {name!r} for this state")
        return spec


def _spec_refs(workflow: BpmnWorkflow) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """The ``spec`` and ``subprocess_specs`` entries of a state: references by name."""
    return ({"typename": SPEC_REF, "name": workflow.spec.name},
            {name: {"typename": SPEC_REF, "name": name} for name in workflow.subprocess_specs})


class SpecRefWorkflowConverter(BpmnWorkflowConverter):  # type: ignore[misc]
    """Writes references to the workflow's specs instead of the specs themselves (with the
    library's task conversion: ``create_serializer(fast=False)``, the reference)."""

    def to_dict(self, workflow: BpmnWorkflow) -> dict[str, Any]:
        dct: dict[str, Any] = WorkflowConverter.to_dict(self, workflow)
        dct["spec"], dct["subprocess_specs"] = _spec_refs(workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct


class FastSpecRefWorkflowConverter(FastBpmnWorkflowConverter):  # type: ignore[misc]
    """SpecRefWorkflowConverter's format, with the faster task conversion of app.engine.codec."""

    def specs_to_dict(self, workflow: BpmnWorkflow) -> tuple[Any, Any]:
        return _spec_refs(workflow)


def create_serializer(*, fast: bool = True) -> BpmnWorkflowSerializer:
    """A BpmnWorkflowSerializer knowing EstateFlow's specs, pinned to SERIALIZER_VERSION.

    ``fast`` (the default) converts tasks and encodes JSON with :mod:`app.engine.codec`; the
    format is the same as with the library's converters (``fast=False``, kept as the
    reference the codec tests compare with)."""
    registry = BpmnWorkflowSerializer.configure(_config())
    for cls, typename in (
        (ClockTimeDateEventDefinition, "TimeDateEventDefinition"),
        (ClockDurationTimerEventDefinition, "DurationTimerEventDefinition"),
        (ClockCycleTimerEventDefinition, "CycleTimerEventDefinition"),
    ):
        TimerConditionalEventDefinitionConverter(cls, registry, typename=typename)
    ServiceTaskConverter(ExternalServiceTask, registry, typename="ServiceTask")
    SpecRefConverter(SpecRef, registry, typename=SPEC_REF)
    if not fast:
        SpecRefWorkflowConverter(BpmnWorkflow, registry)
        return BpmnWorkflowSerializer(registry, version=SERIALIZER_VERSION)
    task_converter = FastTaskConverter(Task, registry)
    FastSubWorkflowConverter(BpmnSubWorkflow, registry, task_converter)
    FastSpecRefWorkflowConverter(BpmnWorkflow, registry, task_converter)
    return FastWorkflowSerializer(registry, version=SERIALIZER_VERSION)


SERIALIZER = create_serializer()


def serialize(workflow: BpmnWorkflow, *,
              serializer: BpmnWorkflowSerializer | None = None) -> str:
    """The workflow (spec references, tasks, data) as JSON text tagged with
    SERIALIZER_VERSION (``serializer``: another one than SERIALIZER, e.g. the reference)."""
    return str((serializer or SERIALIZER).serialize_json(workflow))


def deserialize(
    text: str | bytes, script_engine: Any | None = None, *, specs: Specs | None = None,
    serializer: BpmnWorkflowSerializer | None = None,
) -> BpmnWorkflow:
    """Restore a workflow written by :func:`serialize` with the process ``specs`` it names
    (the deployment's: :func:`specs_of` for a live workflow), attaching the restricted script
    engine. States of estateflow-1 carry their specs and need none. ``serializer``: another
    one than SERIALIZER (e.g. ``create_serializer(fast=False)``, the reference).

    Spiff's own deserialize_json would run its 1.x migrations on a foreign version and fall
    back to an unrestricted script engine; both are refused here.
    """
    dct = json.loads(text)
    version = dct.pop(BpmnWorkflowSerializer.VERSION_KEY, None)
    if version not in READABLE_VERSIONS:
        raise SerializationVersionError(
            f"workflow serialized with version {version!r}, expected {SERIALIZER_VERSION!r}"
        )
    token = _restoring_specs.set(specs)
    try:
        workflow = (serializer or SERIALIZER).from_dict(dct)
    finally:
        _restoring_specs.reset(token)
    workflow.script_engine = script_engine or create_script_engine()
    return workflow


def specs_of(workflow: BpmnWorkflow) -> Specs:
    """The specs a workflow runs (what :func:`deserialize` needs to restore its state)."""
    return workflow.spec, dict(workflow.subprocess_specs)


def serialize_spec(spec: BpmnProcessSpec) -> dict[str, Any]:
    """A process spec as a JSON-serializable dict (for storing a deployment's parsed specs)."""
    return dict(SERIALIZER.to_dict(spec))


def deserialize_spec(dct: Mapping[str, Any]) -> BpmnProcessSpec:
    return SERIALIZER.from_dict(json.loads(json.dumps(dct)))


def create_workflow(
    spec: BpmnProcessSpec,
    subprocess_specs: Mapping[str, BpmnProcessSpec] | None = None,
    *,
    data: Mapping[str, Any] | None = None,
    script_engine: Any | None = None,
) -> BpmnWorkflow:
    """A new instance of spec with initial data; call :func:`advance` to run it."""
    workflow = BpmnWorkflow(
        spec, dict(subprocess_specs or {}), script_engine=script_engine or create_script_engine()
    )
    for task in ready_tasks(workflow):
        task.data.update(dict(data or {}))
    return workflow


def ready_tasks(workflow: BpmnWorkflow, *, manual: bool | None = None) -> list[Task]:
    """READY tasks (``manual``: only tasks that wait for someone, or only engine tasks) in the
    library's order.

    The library walks the whole task tree for this, a Python iterator step per node, on every
    call; most workflows have at most one READY task of a kind, so the flat task dict is read
    instead and the walk is kept for the cases where order matters (two or more READY tasks,
    or tasks in subprocesses)."""
    if workflow.subprocesses:
        return _library_ready(workflow, manual)
    found = [task for task in workflow.tasks.values()
             if task.state == TaskState.READY
             and (manual is None or bool(task.task_spec.manual) == manual)]
    return found if len(found) < 2 else _library_ready(workflow, manual)


def _library_ready(workflow: BpmnWorkflow, manual: bool | None) -> list[Task]:
    if manual is None:
        return list(workflow.get_tasks(state=TaskState.READY))
    return list(workflow.get_tasks(state=TaskState.READY, manual=manual))


def run_engine_steps(workflow: BpmnWorkflow) -> None:
    """What ``BpmnWorkflow.do_engine_steps`` does — run READY engine tasks, as a snapshot per
    round, until none is left, then refresh timers — with :func:`ready_tasks` for the look-up.
    A workflow with subprocesses goes through the library's own loop."""
    while not workflow.subprocesses:
        ready = ready_tasks(workflow, manual=False)
        if not ready:
            workflow.refresh_timers()
            return
        for task in ready:
            task.run()
    workflow.do_engine_steps()


def advance(workflow: BpmnWorkflow) -> None:
    """Let timers check the clock and run every engine task until only people, service
    handlers or future events can move the workflow on."""
    for _ in range(MAX_ADVANCE_ROUNDS):
        workflow.refresh_timers()
        run_engine_steps(workflow)
        if ready_tasks(workflow, manual=False):
            continue
        due = next_timer_due(workflow)
        if due is None or due > clock.now():
            return


def get_task(workflow: BpmnWorkflow, task_id: UUID | str) -> Task:
    """The task with that id (subprocesses included) or EngineError."""
    try:
        key = task_id if isinstance(task_id, UUID) else UUID(str(task_id))
    except ValueError as exc:
        raise EngineError(f"{task_id!r} is not a task id") from exc
    try:
        return workflow.get_task_from_id(key)
    except TaskNotFoundException as exc:
        raise EngineError(f"no task {task_id} in this workflow") from exc


# --- timers ----------------------------------------------------------------------------


@dataclass(frozen=True)
class WaitingTimer:
    task_id: UUID
    element_id: str  # the catching element (boundary/intermediate event, event gateway)
    name: str
    kind: str  # timeDate | timeDuration | timeCycle
    expression: str
    due: datetime | None


def _timer_definitions(task: Task) -> Iterator[TimerEventDefinition]:
    definition = getattr(task.task_spec, "event_definition", None)
    if isinstance(definition, TimerEventDefinition):
        yield definition
    elif isinstance(definition, MultipleEventDefinition):
        for item in definition.event_definitions:
            if isinstance(item, TimerEventDefinition):
                yield item


def waiting_timers(workflow: BpmnWorkflow) -> list[WaitingTimer]:
    """Every timer the workflow waits for, with its due time."""
    timers = []
    for task in list(workflow.event_manager.tasks.values()):
        if not task.has_state(TaskState.WAITING):
            continue
        for definition in _timer_definitions(task):
            timers.append(
                WaitingTimer(
                    task_id=task.id,
                    element_id=task.task_spec.bpmn_id,
                    name=definition.name,
                    kind=timer_kind(definition),
                    expression=definition.expression,
                    due=timer_due(definition, task.internal_data),
                )
            )
    return timers


def next_timer_due(workflow: BpmnWorkflow) -> datetime | None:
    """The earliest due time among waiting timers (None when nothing waits on time)."""
    dues = [t.due for t in waiting_timers(workflow) if t.due is not None]
    return min(dues) if dues else None


def next_start_due(
    spec: BpmnProcessSpec, after: datetime, script_engine: Any | None = None
) -> datetime | None:
    """When a process with a timer start event should next be started, strictly after ``after``.

    timeDate: that moment, if still ahead; timeDuration: ``after`` + duration; timeCycle:
    the next occurrence (an anchored cycle counts from its start, an unanchored one from
    ``after``). None when the process has no timer start event or nothing is left to fire.
    """
    engine = script_engine or create_script_engine()
    dues: list[datetime] = []
    for task_spec in spec.task_specs.values():
        if not isinstance(task_spec, StartEvent):
            continue
        definition = getattr(task_spec, "event_definition", None)
        if not isinstance(definition, TimerEventDefinition):
            continue
        value = engine.environment.evaluate(definition.expression, {})
        due: datetime | None
        if isinstance(definition, CycleTimerEventDefinition):
            due = next_cycle_start(parse_cycle(value), after)
        elif isinstance(definition, DurationTimerEventDefinition):
            due = add_duration(after, value)
        else:
            when = parse_datetime(value)
            due = when if when > after else None
        if due is not None:
            dues.append(due)
    return min(dues) if dues else None


__all__ = [
    "MAX_ADVANCE_ROUNDS",
    "SERIALIZER",
    "READABLE_VERSIONS",
    "SERIALIZER_VERSION",
    "Specs",
    "SpecsRequired",
    "Cycle",
    "EngineError",
    "SerializationVersionError",
    "WaitingTimer",
    "advance",
    "create_serializer",
    "create_workflow",
    "deserialize",
    "deserialize_spec",
    "get_task",
    "next_start_due",
    "next_timer_due",
    "ready_tasks",
    "run_engine_steps",
    "serialize",
    "serialize_spec",
    "specs_of",
    "waiting_timers",
]
