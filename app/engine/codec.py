"""Faster converters for SpiffWorkflow 3.2's BpmnWorkflowSerializer, writing the same format.

The library converts a workflow's task mapping with one registry dispatch per task, parses
every task id, parent id and child id with ``uuid.UUID(str)`` (a task's id is parsed four
times or so) and runs every restored value through the registry, copying each container.
The converters here do the same job in one loop per task mapping:

* ids are converted once per (de)serialization: ``str(uuid)`` for each task id when writing,
  ``UUID(str)`` for each key when reading (a canonical id without UUID.__init__'s parsing of
  the other forms); parents and children are looked up in that map, so they are the very
  UUID objects of the keys after a restore, and writing looks them up by identity;
* the data delta (``updates`` / ``deletions`` against the parent's data, as
  ``DeepMerge.get_updated_keys`` / ``get_deleted_keys`` define them) and the restored data
  (a shallow copy of the parent's data, as ``DeepMerge.merge({}, parent.data)`` makes it,
  plus the updates, minus the deletions) are computed directly;
* values only go through the registry when they need it: while writing, the JSON encoder's
  ``default`` hands non-JSON values to the registry as the library's encoder class does;
  while reading, only dicts carrying a ``typename`` (and non-JSON containers) are restored by
  the registry, plain JSON values are copied as they are.

Everything else (specs, subprocess bookkeeping, events, correlations) still goes through the
library's converters. The output must decode to exactly the library's, and a state written by
either must restore to an equivalent workflow with the other: tests/engine/test_codec.py
compares both against the library's own converters. These classes depend on the internals of
SpiffWorkflow 3.2 (``TaskConverter``'s format, ``DefaultRegistry._encoder_mode``); a library
upgrade must run those tests.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable, Mapping
from copy import copy
from datetime import date, datetime
from types import ModuleType
from typing import Any
from uuid import UUID, SafeUUID, uuid4

from SpiffWorkflow.bpmn.serializer.default.workflow import (
    BpmnSubWorkflowConverter,
    BpmnWorkflowConverter,
    TaskConverter,
)
from SpiffWorkflow.bpmn.serializer.workflow import VERSION, BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.deep_merge import DeepMerge
from SpiffWorkflow.util.task import TaskState

__all__ = [
    "FastBpmnWorkflowConverter",
    "FastSubWorkflowConverter",
    "FastTaskConverter",
    "FastWorkflowSerializer",
]

#: JSON scalars: restored as they are (the registry's _JSON_PRIMITIVE_TYPES).
_SCALARS = frozenset({str, int, float, bool, type(None)})
#: What DeepMerge.merge copies (shallowly) when it copies a parent's data into a child's.
_MUTABLE = (dict, list, set)
_COPY_METHOD = frozenset({dict, list, set})  # copy.copy(x) is x.copy() for these exact types
#: Types for which ``a == b`` (as dict equality compares values: the same object counts as
#: equal) is exactly ``not (a != b)``, as DeepMerge.get_updated_keys compares them. Not float
#: (NaN != NaN, even the same object) nor classes with their own __eq__ / __ne__. Containers
#: qualify whatever they hold: == and != on them compare items the same way.
_CONSISTENT = frozenset({str, int, bool, type(None), dict, list, tuple, datetime, date})


def _mutable_keys(data: Mapping[Any, Any]) -> list[Any]:
    return [k for k, v in data.items() if isinstance(v, _MUTABLE)]


def _inherited(parent_data: dict[Any, Any], mutable_keys: list[Any]) -> dict[Any, Any]:
    """``DeepMerge.merge({}, parent_data)``: the same keys in the same order, the dict, list
    and set values (at ``mutable_keys``) copied shallowly, deeper containers shared, as in the
    library."""
    data = parent_data.copy()
    for key in mutable_keys:
        value = data[key]
        data[key] = value.copy() if type(value) in _COPY_METHOD else copy(value)
    return data


_new_uuid = UUID.__new__
_set_slot = object.__setattr__
_UNKNOWN = SafeUUID.unknown


def _fast_uuid(text: str) -> UUID:
    """``UUID(text)`` for the canonical form str(UUID) writes, without UUID.__init__'s
    checks of the other forms (half the time; the stdlib's own __setstate__ fills the same
    two slots). Other forms go to UUID(text)."""
    if len(text) != 36 or text[8] != "-" or text[13] != "-" or text[18] != "-" \
            or text[23] != "-":
        return UUID(text)
    value = _new_uuid(UUID)
    _set_slot(value, "int", int(text.replace("-", ""), 16))
    _set_slot(value, "is_safe", _UNKNOWN)
    return value


def _check_fast_uuid() -> Callable[[str], UUID]:
    """_fast_uuid if it makes the same UUIDs as UUID() on this Python, else UUID."""
    try:
        for text in ("00000000-0000-0000-0000-000000000000", str(uuid4()),
                     "ffffffff-ffff-ffff-ffff-ffffffffffff"):
            made, expected = _fast_uuid(text), UUID(text)
            if (made != expected or hash(made) != hash(expected) or str(made) != text
                    or made.__getstate__() != expected.__getstate__()
                    or made.is_safe is not expected.is_safe):
                return UUID
    except (AttributeError, TypeError):
        return UUID
    return _fast_uuid


parse_uuid = _check_fast_uuid()


class FastTaskConverter(TaskConverter):  # type: ignore[misc]
    """The library's TaskConverter (still used for a single task), plus the conversion of a
    workflow's whole task mapping that the workflow converters below call."""

    def restore_value(self, value: Any) -> Any:
        """What ``registry.restore(value)`` returns, without a registry dispatch for JSON
        scalars and for containers without a ``typename`` (they are copied directly)."""
        kind = type(value)
        if kind is dict:
            if "typename" in value:
                return self.registry.restore(value)
            restore = self.restore_value
            return {k: v if type(v) in _SCALARS else restore(v) for k, v in value.items()}
        if kind is list:
            restore = self.restore_value
            return [v if type(v) in _SCALARS else restore(v) for v in value]
        if kind in _SCALARS:
            return value
        return self.registry.restore(value)

    def tasks_to_dict(self, workflow: Any) -> dict[str, Any]:
        """``mapping_to_dict(workflow.tasks)`` as TaskConverter.to_dict writes each task."""
        tasks = workflow.tasks
        registry = self.registry
        encoder_mode = getattr(registry, "_encoder_mode", False)
        convert = registry.convert
        target_class = self.target_class
        typename = registry.typenames.get(target_class)
        # The text of each task id, and each task, by the identity of its key: parents and
        # children are usually the very UUID objects of the keys (Task() and tasks_from_dict
        # share them), which spares hashing UUIDs (a Python method) in every look-up. A miss
        # (another UUID object) falls back to what the library does.
        items = [(key, task, str(key)) for key, task in tasks.items()]
        texts = {id(key): text for key, _, text in items}
        by_key = {id(key): task for key, task, _ in items}
        out: dict[str, Any] = {}
        for key, task, text in items:
            if type(task) is not target_class:  # not ours to write: the registry knows
                out[text] = convert(task)
                continue
            task_id = task.id
            parent_id = task._parent
            if task.workflow is workflow:  # task.parent
                parent = by_key.get(id(parent_id))
                if parent is None:
                    parent = tasks.get(parent_id)
            else:
                parent = task.parent
            data = task.data
            if parent is None:
                parent_text = None
                delta: dict[str, Any] = {}
            else:
                parent_text = texts.get(id(parent_id)) or str(parent_id)
                parent_data = parent.data
                if data == parent_data and all(map(_CONSISTENT.__contains__,
                                                   map(type, data.values()))):
                    delta = {"updates": {}, "deletions": []}  # unchanged, found in C
                else:
                    delta = {
                        "updates": {k: v for k, v in data.items()
                                    if k not in parent_data or v != parent_data[k]},
                        "deletions": [] if parent_data.keys() <= data.keys()
                        else [k for k in parent_data if k not in data],
                    }
                data = {}
            internal = task.internal_data
            if not encoder_mode or type(internal) is not dict:
                internal = convert(internal)
            elif internal:  # the registry's encoder mode cleans the dict, the encoder does
                internal = registry.clean(internal)  # the rest
            out[text] = {
                "id": text if task_id is key or task_id == key else str(task_id),
                "parent": parent_text,
                "children": [texts.get(id(child)) or str(child) for child in task._children],
                "last_state_change": task.last_state_change,
                "state": task.state,
                "task_spec": task.task_spec.name,
                "triggered": task.triggered,
                "internal_data": internal,
                "data": data,
                "delta": delta,
                "typename": typename,
            }
        return out

    def tasks_from_dict(
        self, mapping: Mapping[str, Any], workflow: Any
    ) -> tuple[dict[UUID, Task], dict[str, UUID]]:
        """``mapping_from_dict(mapping, UUID, workflow=workflow)`` as TaskConverter.from_dict
        restores each task; also returns the parsed ids (text → UUID) for the caller's use.

        Tasks are restored in the mapping's order, so a parent (created before its children,
        and written first) has its data when its children copy it, as in the library."""
        uuids = {key: parse_uuid(key) for key in mapping}
        registry = self.registry
        restore = self.restore_value
        target_class = self.target_class
        typename = self.typename
        task_specs = workflow.spec.task_specs
        workflow_tasks = workflow.tasks  # Task() adds each task to it
        top_workflow = workflow.top_workflow
        waiting = TaskState.WAITING
        tasks: dict[UUID, Task] = {}
        # by the text of their ids: the restored tasks and the keys of their data that
        # hold dicts, lists or sets (what a child copies)
        restored: dict[str, Task] = {}
        mutable: dict[str, list[Any]] = {}
        for key, dct in mapping.items():
            if type(dct) is not dict or dct.get("typename") != typename:
                tasks[uuids[key]] = registry.restore(dct, workflow=workflow)
                continue
            text = dct["id"]
            task_spec = task_specs.get(dct["task_spec"])
            task = target_class(workflow, task_spec, state=dct["state"],
                                id=uuids.get(text) or parse_uuid(text))
            parent_text = dct["parent"]
            if parent_text is None:
                task._parent = None
                parent = None
            else:
                task._parent = uuids.get(parent_text) or parse_uuid(parent_text)
                parent = restored.get(parent_text)
                if parent is None:  # task.parent
                    parent = workflow_tasks.get(task._parent)
            task._children = [uuids.get(child) or parse_uuid(child)
                              for child in dct["children"]]
            task.last_state_change = dct["last_state_change"]
            task.triggered = dct["triggered"]
            internal = dct["internal_data"]
            task.internal_data = {} if type(internal) is dict and not internal \
                else restore(internal)
            if isinstance(task_spec, CatchingEvent) and task.has_state(waiting):
                top_workflow.event_manager.add_task(task)
            delta = dct.get("delta")
            if delta and parent is not None and type(parent.data) is dict:
                parent_keys = mutable.get(parent_text)
                if parent_keys is None:
                    parent_keys = _mutable_keys(parent.data)
                data = _inherited(parent.data, parent_keys)
                updates = delta.get("updates", {})
                deletions = delta.get("deletions", {})
                if updates:
                    data.update(restore(updates))
                for name in deletions:
                    if name in data:
                        del data[name]
                keys = _mutable_keys(data) if updates or deletions else parent_keys
            elif delta and parent is not None:  # not a dict: the library's way
                data = DeepMerge.merge({}, parent.data)
                data.update(restore(delta.get("updates", {})))
                for name in delta.get("deletions", {}):
                    if name in data:
                        del data[name]
                keys = _mutable_keys(data)
            else:
                data = restore(dct["data"])
                keys = _mutable_keys(data) if type(data) is dict else []
            task.data = data
            tasks[uuids[key]] = task
            restored[text] = task
            mutable[text] = keys
        return tasks, uuids


class _FastWorkflowParts:
    """What WorkflowConverter writes and reads for both the top workflow and subprocesses,
    with the task mapping converted by a FastTaskConverter."""

    registry: Any
    task_converter: FastTaskConverter

    def workflow_to_dict(self, workflow: Any) -> dict[str, Any]:
        """WorkflowConverter.to_dict."""
        registry = self.registry
        last_task = workflow.last_task
        return {
            "data": registry.convert(registry.clean(workflow.data)),
            "correlations": workflow.correlations,
            "last_task": str(last_task.id) if last_task is not None else None,
            "success": workflow.success,
            "completed": workflow.completed,
            "tasks": self.task_converter.tasks_to_dict(workflow),
            "root": str(workflow.task_tree.id),
        }

    def restore_tasks(self, workflow: Any, dct: dict[str, Any]) -> None:
        """Tasks, root and WorkflowConverter.set_default_attributes."""
        tasks, uuids = self.task_converter.tasks_from_dict(dct["tasks"], workflow)
        workflow.tasks = tasks
        root = dct["root"]
        workflow.task_tree = tasks.get(uuids.get(root) or parse_uuid(root))
        workflow.success = dct["success"]
        workflow.completed = dct.get("completed", False)
        workflow.correlations = dct.pop("correlations", {})
        last_task = dct["last_task"]
        if isinstance(last_task, str):
            workflow.last_task = tasks.get(uuids.get(last_task) or parse_uuid(last_task))
        workflow.data = self.registry.restore(dct.pop("data", {}))


class FastSubWorkflowConverter(_FastWorkflowParts, BpmnSubWorkflowConverter):  # type: ignore[misc]
    """BpmnSubWorkflowConverter with the task mapping converted in one loop."""

    def __init__(self, target_class: type, registry: Any, task_converter: FastTaskConverter,
                 typename: str | None = None) -> None:
        self.task_converter = task_converter
        super().__init__(target_class, registry, typename)

    def to_dict(self, workflow: Any) -> dict[str, Any]:
        dct = self.workflow_to_dict(workflow)
        dct["parent_task_id"] = str(workflow.parent_task_id)
        dct["spec"] = workflow.spec.name
        return dct

    def from_dict(self, dct: dict[str, Any], task: Task, top_workflow: Any) -> Any:
        spec = top_workflow.subprocess_specs.get(task.task_spec.spec)
        subprocess = self.target_class(spec, task.id, top_workflow, deserializing=True)
        self.restore_tasks(subprocess, dct)
        return subprocess


class FastBpmnWorkflowConverter(_FastWorkflowParts, BpmnWorkflowConverter):  # type: ignore[misc]
    """BpmnWorkflowConverter with the task mapping converted in one loop; subclasses may
    write the specs differently (:meth:`specs_to_dict`)."""

    def __init__(self, target_class: type, registry: Any, task_converter: FastTaskConverter,
                 typename: str | None = None) -> None:
        self.task_converter = task_converter
        super().__init__(target_class, registry, typename)

    def specs_to_dict(self, workflow: Any) -> tuple[Any, Any]:
        """The ``spec`` and ``subprocess_specs`` entries (the library embeds the specs)."""
        return (self.registry.convert(workflow.spec),
                self.mapping_to_dict(workflow.subprocess_specs))

    def to_dict(self, workflow: Any) -> dict[str, Any]:
        dct = self.workflow_to_dict(workflow)
        dct["spec"], dct["subprocess_specs"] = self.specs_to_dict(workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct: dict[str, Any]) -> Any:
        spec = self.registry.restore(dct.pop("spec"))
        subprocess_specs = self.mapping_from_dict(dct.pop("subprocess_specs", {}))
        workflow = self.target_class(spec, subprocess_specs, deserializing=True)
        self.restore_tasks(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


class FastWorkflowSerializer(BpmnWorkflowSerializer):  # type: ignore[misc]
    """BpmnWorkflowSerializer whose serialize_json encodes with the stdlib's C encoder and a
    ``default`` function doing what the library's encoder class does (without its circular
    reference bookkeeping: task data are trees)."""

    def __init__(self, registry: Any = None, version: str = VERSION,
                 json_encoder_cls: Any = None, json_decoder_cls: Any = None) -> None:
        super().__init__(registry, version, json_encoder_cls, json_decoder_cls)
        self._encode: Callable[[Any], str]
        if json_encoder_cls is None:
            self._encode = json.JSONEncoder(default=self._default, check_circular=False).encode
        else:  # a custom encoder class: the library's way
            self._encode = self._encoder_cls().encode

    def _default(self, obj: Any) -> Any:
        """The library's SpiffEncoder.default."""
        registry = self.registry
        typename = registry.typenames.get(type(obj))
        if typename is not None:
            return registry.convert_to_dict[typename](obj)
        if callable(obj) or isinstance(obj, ModuleType):
            return None
        if isinstance(obj, set):
            return list(obj)
        raise TypeError(f"Object of type {obj.__class__.__name__} is not JSON serializable")

    def serialize_json(self, workflow: Any, use_gzip: bool = False) -> str | bytes:
        registry = self.registry
        registry._encoder_mode = True
        try:
            dct = self.to_dict(workflow)
            dct[self.VERSION_KEY] = self.VERSION
            text = self._encode(dct)
        finally:
            registry._encoder_mode = False
        return gzip.compress(text.encode("utf-8")) if use_gzip else text
