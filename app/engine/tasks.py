"""Ready human tasks and service tasks of a workflow, and completing them.

Task extension properties (``spiffworkflow:properties``) read here:

* ``formJsonSchemaFilename`` — the task's JSON Schema, relative to the bundle's ``forms/``
  folder (``repair/dispatch.json`` is ``forms/repair/dispatch.json``);
* ``formUiSchemaFilename`` — optional UI schema, same convention;
* ``dueIn`` — the task's SLA: an ISO 8601 duration literal (``P3D``) or, prefixed with ``=``,
  a Python expression over the task data that yields one (``="PT4H" if urgent else "P3D"``);
* ``sampleData`` — JSON object used only by validation to evaluate expressions statically.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from app.clock import clock
from app.engine.parsing import ExternalServiceTask
from app.engine.spiff import EngineError, get_task, ready_tasks
from app.engine.timers import add_duration

FORM_PROPERTY = "formJsonSchemaFilename"
UI_FORM_PROPERTY = "formUiSchemaFilename"
DUE_IN_PROPERTY = "dueIn"
SAMPLE_DATA_PROPERTY = "sampleData"
#: Property values starting with this are Python expressions, anything else is a literal.
EXPRESSION_PREFIX = "="


def task_properties(task_spec: Any) -> dict[str, str]:
    """The ``spiffworkflow:properties`` of a task spec ({} when none)."""
    extensions = getattr(task_spec, "extensions", None) or {}
    return dict(extensions.get("properties") or {})


def split_expression(value: str) -> tuple[bool, str]:
    """(is_expression, text) for a property value following the ``=`` convention."""
    stripped = value.strip()
    if stripped.startswith(EXPRESSION_PREFIX):
        return True, stripped[len(EXPRESSION_PREFIX) :].strip()
    return False, stripped


@dataclass(frozen=True)
class HumanTask:
    """A READY user (or manual) task, as the inbox projection needs it."""

    id: UUID
    element_id: str
    title: str
    lane: str | None
    process_id: str
    kind: str  # user | manual
    form: str | None
    ui_form: str | None
    due_in: str | None
    properties: dict[str, str] = field(default_factory=dict)
    documentation: str | None = None


def _is_human(task: Task) -> bool:
    return bool(task.task_spec.manual) and not isinstance(task.task_spec, ExternalServiceTask)


def ready_human_tasks(workflow: BpmnWorkflow) -> list[HumanTask]:
    """Every READY task that waits for a person, subprocesses included."""
    result = []
    for task in ready_tasks(workflow, manual=True):
        if not _is_human(task):
            continue
        spec = task.task_spec
        properties = task_properties(spec)
        result.append(
            HumanTask(
                id=task.id,
                element_id=spec.bpmn_id,
                title=spec.bpmn_name or spec.bpmn_id,
                lane=spec.lane,
                process_id=task.workflow.spec.name,
                kind="user" if spec.__class__.__name__ == "UserTask" else "manual",
                form=properties.get(FORM_PROPERTY),
                ui_form=properties.get(UI_FORM_PROPERTY),
                due_in=properties.get(DUE_IN_PROPERTY),
                properties=properties,
                documentation=spec.documentation,
            )
        )
    return result


def task_due_at(
    workflow: BpmnWorkflow, task_id: UUID | str, now: datetime | None = None
) -> datetime | None:
    """When a human task is due according to its ``dueIn`` property (None without one)."""
    task = get_task(workflow, task_id)
    due_in = task_properties(task.task_spec).get(DUE_IN_PROPERTY)
    if not due_in:
        return None
    is_expression, text = split_expression(due_in)
    value = workflow.script_engine.evaluate(task, text) if is_expression else text
    return add_duration(now or clock.now(), value)


#: Properties naming who may work on a task: user ids, as a literal ("12" or "12,15") or an
#: expression over task data ("=requester_id", "=[technician_id, supervisor_id]").
CANDIDATES_PROPERTY = "candidates"
ASSIGNEE_PROPERTY = "assignee"


def _user_ids(value: Any) -> list[int]:
    if value is None or value == "":
        return []
    if isinstance(value, int | str):
        value = [value]
    ids: list[int] = []
    for item in value:
        for part in str(item).split(","):
            part = part.strip()
            if part:
                ids.append(int(part))
    return ids


def task_people(workflow: BpmnWorkflow, task_id: UUID | str) -> tuple[list[int], int | None]:
    """(candidate user ids, assignee id) from the task's ``candidates``/``assignee`` properties.

    Candidates restrict a task to those users (plus supervisors who may reassign); an assignee
    puts it straight into that user's inbox. An expression that yields nothing means no
    restriction, so a diagram can say ``=technician_id`` before anyone accepted.
    """
    task = get_task(workflow, task_id)
    properties = task_properties(task.task_spec)
    people: list[list[int]] = []
    for name in (CANDIDATES_PROPERTY, ASSIGNEE_PROPERTY):
        raw = properties.get(name)
        if not raw:
            people.append([])
            continue
        is_expression, text = split_expression(raw)
        value = workflow.script_engine.evaluate(task, text) if is_expression else text
        try:
            people.append(_user_ids(value))
        except (TypeError, ValueError) as exc:
            raise EngineError(
                f"{task.task_spec.bpmn_id}: {name} must give user ids, got {value!r}"
            ) from exc
    candidates, assignee = people
    return candidates, (assignee[0] if assignee else None)


def complete_user_task(
    workflow: BpmnWorkflow, task_id: UUID | str, data: dict[str, Any] | None = None
) -> Task:
    """Merge the submitted data into a READY human task and complete it.

    Form validation happens before, in the layer that knows the schema. Call
    :func:`app.engine.spiff.advance` afterwards.
    """
    task = get_task(workflow, task_id)
    if not _is_human(task):
        raise EngineError(f"task {task.task_spec.bpmn_id} is not a human task")
    if task.state != TaskState.READY:
        raise EngineError(
            f"task {task.task_spec.bpmn_id} is {TaskState.get_name(task.state)}, not READY"
        )
    spec = task.task_spec
    if hasattr(spec, "add_data_from_form"):
        spec.add_data_from_form(task, dict(data or {}))
    else:
        task.data.update(dict(data or {}))
    task.run()
    return task


@dataclass(frozen=True)
class ServiceCall:
    """A READY service task waiting for its Python handler."""

    task_id: UUID
    element_id: str
    operator: str
    params: dict[str, Any]
    param_types: dict[str, str]
    result_variable: str
    retries: int | None


def ready_service_tasks(workflow: BpmnWorkflow) -> list[ServiceCall]:
    """READY service tasks with their operator and parameters evaluated against task data."""
    calls = []
    for task in ready_tasks(workflow, manual=True):
        spec = task.task_spec
        if not isinstance(spec, ExternalServiceTask):
            continue
        evaluated = spec.evaluate_params(task)
        calls.append(
            ServiceCall(
                task_id=task.id,
                element_id=spec.bpmn_id,
                operator=spec.operation_name,
                params={name: p["value"] for name, p in evaluated.items()},
                param_types={name: p["type"] for name, p in evaluated.items()},
                result_variable=spec.result_variable,
                retries=spec.retries,
            )
        )
    return calls


def complete_service_task(workflow: BpmnWorkflow, task_id: UUID | str, result: Any) -> Task:
    """Store a handler's result in the task's result variable and complete the task."""
    task = get_task(workflow, task_id)
    if not isinstance(task.task_spec, ExternalServiceTask):
        raise EngineError(f"task {task.task_spec.bpmn_id} is not a service task")
    if task.state != TaskState.READY:
        raise EngineError(f"service task {task.task_spec.bpmn_id} is not READY")
    task.data[task.task_spec.result_variable] = result
    task.run()
    return task
