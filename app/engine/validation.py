"""Deployment checks: every problem of a bundle at once, each naming file, element and reason.

Checks (see :mod:`app.engine.bundle` for the layout and :mod:`app.engine.tasks` for the task
properties): BPMN/DMN parse (XML, schema, SpiffWorkflow); reserved element ids; lanes name
known roles; user task forms exist and are JSON Schemas, UI schemas exist and are JSON;
call activities call a process of the bundle; business rule tasks name a decision of a DMN;
timer expressions and ``dueIn`` evaluate to ISO 8601 values; service task operators are known
and get their required parameters.

Expressions are evaluated in the restricted script environment against the element's
``sampleData`` property (a JSON object) or no data; one that needs task data which is not there
(NameError) cannot be checked statically and is accepted.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.parser.process import VALIDATOR

from app.accounts.roles import ROLE_CODES
from app.engine.bundle import (
    FORMS_DIR,
    BundleInvalid,
    CompiledBundle,
    Problem,
    ProcessInfo,
    content_hash,
    form_path,
)
from app.engine.parsing import BPMN_NS, SPIFF_NS, EstateFlowParser, parse_xml
from app.engine.scripting import ScriptError, create_script_engine
from app.engine.tasks import (
    DUE_IN_PROPERTY,
    FORM_PROPERTY,
    SAMPLE_DATA_PROPERTY,
    UI_FORM_PROPERTY,
    split_expression,
)
from app.engine.timers import TimerValueError, check_timer_value, parse_duration

__all__ = ["BundleInvalid", "CompiledBundle", "Problem", "compile_bundle", "validate_bundle"]

NS = {"bpmn": BPMN_NS, "spiffworkflow": SPIFF_NS}
#: Spiff names its own start/end task specs so; elements with these ids vanish silently.
RESERVED_IDS = frozenset({"Start", "End"})
TIMER_KINDS = ("timeDate", "timeDuration", "timeCycle")

Operators = Mapping[str, Iterable[str]]


def validate_bundle(
    files: Mapping[str, bytes], operators: Operators | None = None
) -> list[Problem]:
    """Every problem of the bundle (empty when it can be deployed)."""
    return _Checker(files, operators).run()[0]


def compile_bundle(
    files: Mapping[str, bytes], operators: Operators | None = None
) -> CompiledBundle:
    """Validate and parse a bundle; raises BundleInvalid listing every problem."""
    problems, bundle = _Checker(files, operators).run()
    if problems or bundle is None:
        raise BundleInvalid(problems)
    return bundle


def _message(exc: BaseException) -> str:
    return str(exc.args[0]) if exc.args else type(exc).__name__


def _properties(element: Any) -> dict[str, str]:
    path = "./bpmn:extensionElements/spiffworkflow:properties/spiffworkflow:property"
    return {p.get("name", ""): p.get("value", "") for p in element.xpath(path, namespaces=NS)}


class _Checker:
    def __init__(self, files: Mapping[str, bytes], operators: Operators | None) -> None:
        self.files = dict(files)
        self.operators = (
            {k: set(v) for k, v in operators.items()} if operators is not None else None
        )
        self.problems: list[Problem] = []
        self.environment = create_script_engine().environment
        self.forms: dict[str, Any] = {}
        self.documents: dict[str, Any] = {}  # bpmn file → root element
        self.decisions: dict[str, str] = {}
        self.broken: list[str] = []  # BPMN files that do not parse
        self.parser = EstateFlowParser(validator=VALIDATOR)

    def add(self, file: str, element_id: str | None, reason: str) -> None:
        problem = Problem(file, element_id or None, reason)
        if problem not in self.problems:
            self.problems.append(problem)

    # --- driver ---------------------------------------------------------------------------

    def run(self) -> tuple[list[Problem], CompiledBundle | None]:
        for path in sorted(self.files):
            if path.startswith("/") or ".." in path.split("/"):
                self.add(path, None, "paths must be relative to the bundle root")
        for path in sorted(p for p in self.files if p.endswith(".dmn")):
            self._load_dmn(path)
        for path in sorted(p for p in self.files if p.endswith(".bpmn")):
            root = self._xml(path)
            if root is not None:
                self.documents[path] = root
            else:
                self.broken.append(path)
        process_ids = {
            p.get("id"): path
            for path, root in self.documents.items()
            for p in root.xpath(".//bpmn:process", namespaces=NS)
        }
        for path, root in self.documents.items():
            self._check_document(path, root, process_ids)
            try:
                self.parser.add_bpmn_xml(root, filename=path)
            except ValidationException as exc:
                self.add(path, exc.id, _message(exc))
        processes, specs, subprocess_specs = self._parse_specs()
        if self.problems:
            return self.problems, None
        bundle = CompiledBundle(
            content_hash=content_hash(self.files),
            files=self.files,
            processes=processes,
            specs=specs,
            subprocess_specs=subprocess_specs,
            forms=self._all_forms(),
            decisions=dict(self.decisions),
        )
        return [], bundle

    def _xml(self, path: str) -> Any:
        try:
            root = parse_xml(self.files[path])
        except etree.XMLSyntaxError as exc:
            self.add(path, None, f"not well-formed XML: {exc.msg} (line {exc.lineno})")
            return None
        try:
            VALIDATOR.validate(root, path)
        except ValidationException as exc:
            self.add(path, exc.id, f"line {exc.line_number}: {_message(exc)}")
            return None
        return root

    def _load_dmn(self, path: str) -> None:
        try:
            root = parse_xml(self.files[path])
        except etree.XMLSyntaxError as exc:
            self.add(path, None, f"not well-formed XML: {exc.msg} (line {exc.lineno})")
            return
        try:
            self.parser.add_dmn_xml(root, filename=path)
            for dmn_parser in list(self.parser.dmn_parsers.values()):
                if dmn_parser.filename == path:
                    dmn_parser.parse()
        except ValidationException as exc:
            self.add(path, exc.id, _message(exc))
            return
        except Exception as exc:
            self.add(path, None, f"cannot parse decision: {_message(exc)}")
            return
        for decision in root.xpath("./*[local-name()='decision']"):
            decision_id = decision.get("id")
            if decision_id in self.decisions:
                self.add(
                    path, decision_id, f"decision id also used in {self.decisions[decision_id]}"
                )
            self.decisions[decision_id] = path

    def _parse_specs(self) -> tuple[dict[str, ProcessInfo], dict[str, Any], dict[str, Any]]:
        processes: dict[str, ProcessInfo] = {}
        specs: dict[str, Any] = {}
        subprocess_specs: dict[str, Any] = {}
        # Spiff stops at its first error, often one already reported more precisely above.
        reported = {p.file for p in self.problems}
        for pid in sorted(self.parser.get_process_ids()):
            process_parser = self.parser.get_process_parser(pid)
            path = process_parser.filename or ""
            try:
                spec = self.parser.get_spec(pid)
                subprocess_specs[pid] = self.parser.get_subprocess_specs(pid)
            except (ValidationException, SpiffWorkflowException) as exc:
                if path not in reported:
                    element = getattr(exc, "id", None) or None
                    self.add(getattr(exc, "file_name", None) or path, element, _message(exc))
                continue
            specs[pid] = spec
            timer_start = any(
                isinstance(getattr(ts, "event_definition", None), TimerEventDefinition)
                for ts in spec.start.outputs
            )
            processes[pid] = ProcessInfo(pid, spec.description or pid, path, timer_start)
        return processes, specs, subprocess_specs

    # --- per document ---------------------------------------------------------------------

    def _check_document(self, path: str, root: Any, process_ids: dict[str, str]) -> None:
        for element in root.xpath(".//*[@id]"):
            if element.get("id") in RESERVED_IDS:
                self.add(path, element.get("id"), "this id is reserved by the engine; rename it")
        for lane in root.xpath(".//bpmn:lane", namespaces=NS):
            name = (lane.get("name") or "").strip()
            if name not in ROLE_CODES:
                self.add(
                    path, lane.get("id"),
                    f"lane {name!r} is not a role code (one of {', '.join(sorted(ROLE_CODES))})",
                )  # fmt: skip
        for task in root.xpath(".//bpmn:userTask", namespaces=NS):
            self._check_forms(path, task)
        for call in root.xpath(".//bpmn:callActivity", namespaces=NS):
            called = call.get("calledElement")
            if not called or called not in process_ids:
                unsure = " (or in a file that does not parse)" if self.broken else ""
                self.add(
                    path, call.get("id"), f"called process {called!r} is not in the bundle{unsure}"
                )
        for task in root.xpath(".//bpmn:businessRuleTask", namespaces=NS):
            ref = task.xpath(
                "string(./bpmn:extensionElements/spiffworkflow:calledDecisionId)", namespaces=NS
            ).strip()
            if not ref or ref not in self.decisions:
                self.add(
                    path, task.get("id"), f"decision {ref!r} is not in any DMN file of the bundle"
                )
        for timer in root.xpath(".//bpmn:timerEventDefinition", namespaces=NS):
            self._check_timer(path, timer)
        for element in root.xpath(".//*[bpmn:extensionElements]", namespaces=NS):
            due_in = _properties(element).get(DUE_IN_PROPERTY)
            if due_in is not None:
                self._check_due_in(path, element, due_in)
        for task in root.xpath(".//bpmn:serviceTask", namespaces=NS):
            self._check_service_task(path, task)

    def _sample(self, path: str, element: Any) -> dict[str, Any] | None:
        raw = _properties(element).get(SAMPLE_DATA_PROPERTY)
        if raw is None:
            return None
        try:
            sample = json.loads(raw)
        except ValueError as exc:
            self.add(path, element.get("id"), f"sampleData is not valid JSON: {exc}")
            return None
        if not isinstance(sample, dict):
            self.add(path, element.get("id"), "sampleData must be a JSON object")
            return None
        return sample

    def _load_json(self, name: str) -> tuple[Any, str | None]:
        bundle_path = form_path(name)
        if bundle_path not in self.files:
            return None, f"form {bundle_path} does not exist"
        try:
            return json.loads(self.files[bundle_path]), None
        except ValueError as exc:
            return None, f"form {bundle_path} is not valid JSON: {exc}"

    def _check_forms(self, path: str, task: Any) -> None:
        properties, task_id = _properties(task), task.get("id")
        name = properties.get(FORM_PROPERTY, "").strip()
        if not name:
            self.add(path, task_id, f"user task has no {FORM_PROPERTY} property")
        else:
            schema, error = self._load_json(name)
            if error is None and not isinstance(schema, dict):
                error = f"form {form_path(name)} is not a JSON object"
            if error is None:
                try:
                    Draft202012Validator.check_schema(schema)
                except SchemaError as exc:
                    at = "/".join(str(p) for p in exc.path) or "(root)"
                    error = (
                        f"form {form_path(name)} is not a valid JSON Schema at {at}: {exc.message}"
                    )
            if error is not None:
                self.add(path, task_id, error)
        ui_name = properties.get(UI_FORM_PROPERTY, "").strip()
        if ui_name:
            _ui, error = self._load_json(ui_name)
            if error is not None:
                self.add(path, task_id, error.replace("form ", "UI schema ", 1))

    def _evaluate(
        self, path: str, element: Any, what: str, expression: str, check: Callable[[Any], object]
    ) -> None:
        element_id = element.get("id")
        sample = self._sample(path, element)
        try:
            value = self.environment.evaluate(expression, dict(sample or {}))
        except NameError as exc:
            if _is_literal(expression, check):
                self.add(
                    path, element_id, f'{what} {expression} must be a quoted string: "{expression}"'
                )
            elif sample is not None:
                self.add(path, element_id, f"{what} {expression!r}: {exc} in sampleData")
            return  # needs task data: cannot be checked statically
        except SyntaxError as exc:
            if _is_literal(expression, check):
                self.add(
                    path, element_id, f'{what} {expression} must be a quoted string: "{expression}"'
                )
            else:
                self.add(
                    path, element_id, f"{what} {expression!r} is not a valid expression: {exc.msg}"
                )
            return
        except ScriptError as exc:
            self.add(path, element_id, f"{what} {expression!r} is not allowed: {exc}")
            return
        except Exception as exc:
            self.add(path, element_id, f"{what} {expression!r} failed: {type(exc).__name__}: {exc}")
            return
        try:
            check(value)
        except TimerValueError as exc:
            self.add(path, element_id, f"{what} {expression!r} gives {exc}")

    def _check_timer(self, path: str, timer: Any) -> None:
        event = timer.getparent()
        found = [
            (kind, node) for kind in TIMER_KINDS
            for node in timer.xpath(f"./bpmn:{kind}", namespaces=NS)
        ]  # fmt: skip
        if len(found) != 1:
            self.add(
                path,
                event.get("id"),
                "a timer needs exactly one of timeDate, timeDuration, timeCycle",
            )
            return
        kind, node = found[0]
        expression = (node.text or "").strip()
        if not expression:
            self.add(path, event.get("id"), f"timer {kind} is empty")
            return
        self._evaluate(
            path, event, f"timer {kind}", expression, lambda v: check_timer_value(kind, v)
        )

    def _check_due_in(self, path: str, element: Any, value: str) -> None:
        is_expression, text = split_expression(value)
        if not is_expression:
            try:
                parse_duration(text)
            except TimerValueError as exc:
                self.add(path, element.get("id"), f"dueIn: {exc} (prefix expressions with '=')")
            return
        self._evaluate(path, element, "dueIn", text, parse_duration)

    def _check_service_task(self, path: str, task: Any) -> None:
        operator = task.xpath(
            "./bpmn:extensionElements/spiffworkflow:serviceTaskOperator", namespaces=NS
        )
        if not operator:
            self.add(path, task.get("id"), "service task has no spiffworkflow:serviceTaskOperator")
            return
        if self.operators is None:
            return
        name = operator[0].get("id") or ""
        if name not in self.operators:
            self.add(path, task.get("id"), f"unknown service operator {name!r}")
            return
        given = {
            p.get("id") for p in operator[0].xpath(".//spiffworkflow:parameter", namespaces=NS)
            if p.get("value") is not None
        }  # fmt: skip
        missing = sorted(self.operators[name] - given)
        if missing:
            self.add(
                path, task.get("id"), f"operator {name!r} needs parameter(s) {', '.join(missing)}"
            )

    def _all_forms(self) -> dict[str, Any]:
        forms = {}
        for path, data in self.files.items():
            if path.startswith(FORMS_DIR) and path.endswith(".json"):
                try:
                    forms[path[len(FORMS_DIR) :]] = json.loads(data)
                except ValueError:
                    continue  # an unreferenced broken file; referenced ones were reported
        return forms


def _is_literal(expression: str, check: Callable[[Any], object]) -> bool:
    """True when an unquoted expression is itself a valid timer value (a missing quote)."""
    try:
        check(expression)
    except (TimerValueError, ValueError):
        return False
    return True
