"""A deployable bundle of processes and forms, once validated.

Bundle layout (paths relative to the bundle root, ``/``-separated):

* ``processes/<name>.bpmn`` and ``processes/<name>.dmn`` — any ``*.bpmn`` / ``*.dmn`` is a model;
* ``forms/<flow>/<step>.json`` — a JSON Schema (Draft 2020-12), and
  ``forms/<flow>/<step>.uischema.json`` — its optional UI schema. Task properties name forms
  relative to ``forms/``: ``formJsonSchemaFilename="repair/dispatch.json"``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from SpiffWorkflow.bpmn.specs import BpmnProcessSpec

from app.engine.spiff import serialize_spec

FORMS_DIR = "forms/"


def form_path(name: str) -> str:
    """The bundle path of a form named in a task property (``repair/a.json`` → ``forms/...``)."""
    return FORMS_DIR + name.strip().lstrip("/")


def content_hash(files: Mapping[str, bytes]) -> str:
    """sha256 over the sorted (path, bytes) pairs: unchanged files give the same hash."""
    digest = hashlib.sha256()
    for path in sorted(files):
        data = files[path]
        encoded = path.encode("utf-8")
        digest.update(len(encoded).to_bytes(8, "big") + encoded)
        digest.update(len(data).to_bytes(8, "big") + data)
    return digest.hexdigest()


@dataclass(frozen=True)
class Problem:
    """One reason a bundle cannot be deployed."""

    file: str
    element_id: str | None
    reason: str

    def __str__(self) -> str:
        if self.element_id:
            return f"{self.file}: {self.element_id}: {self.reason}"
        return f"{self.file}: {self.reason}"


class BundleInvalid(Exception):
    """Raised by compile_bundle; ``problems`` lists every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class ProcessInfo:
    id: str
    name: str
    file: str
    timer_start: bool  # the scheduler starts it (see app.engine.spiff.next_start_due)


@dataclass(frozen=True)
class CompiledBundle:
    """Everything the persistence layer needs to store a deployment."""

    content_hash: str
    files: dict[str, bytes]
    processes: dict[str, ProcessInfo]
    specs: dict[str, BpmnProcessSpec] = field(repr=False)
    subprocess_specs: dict[str, dict[str, BpmnProcessSpec]] = field(repr=False)
    forms: dict[str, Any] = field(repr=False)  # name relative to forms/ → parsed JSON
    decisions: dict[str, str] = field(default_factory=dict)  # decision id → file

    def serialized_specs(self) -> dict[str, dict[str, Any]]:
        """{process id: {"spec": ..., "subprocess_specs": {...}}} as JSON-serializable dicts."""
        return {
            pid: {
                "spec": serialize_spec(spec),
                "subprocess_specs": {
                    name: serialize_spec(sub)
                    for name, sub in self.subprocess_specs[pid].items()
                    if sub is not None
                },
            }
            for pid, spec in self.specs.items()
        }
