"""validate_bundle: one broken file per rule, each problem naming file, element and reason."""

from __future__ import annotations

import json

import pytest

from app.engine import spiff, tasks
from app.engine.bundle import Problem, content_hash
from app.engine.validation import BundleInvalid, compile_bundle, validate_bundle

REPAIR = "processes/repair.bpmn"
OPERATORS = {"send_sms": ["to", "template"]}


def broken(files: dict[str, bytes], path: str, old: str, new: str) -> dict[str, bytes]:
    text = files[path].decode()
    assert old in text, old
    return {**files, path: text.replace(old, new).encode()}


def test_fixture_bundle_is_valid_and_compiles(bundle_files, frozen_clock):
    assert validate_bundle(bundle_files, OPERATORS) == []
    bundle = compile_bundle(bundle_files, OPERATORS)
    assert set(bundle.processes) == {"repair", "inspection"}
    assert bundle.processes["repair"].name == "Repair request"
    assert bundle.processes["repair"].file == REPAIR
    assert bundle.forms["repair/dispatch.json"]["required"] == ["technician"]
    assert bundle.decisions == {"repair_routing": "processes/repair_routing.dmn"}

    # the stored spec dicts run: DMN routing, then the user task, then the call activity
    stored = json.loads(json.dumps(bundle.serialized_specs()))["repair"]
    wf = spiff.create_workflow(
        spiff.deserialize_spec(stored["spec"]),
        {k: spiff.deserialize_spec(v) for k, v in stored["subprocess_specs"].items()},
        data={"category": "plumbing", "owner_phone": "1", "sla": "P2D"},
    )
    spiff.advance(wf)
    [dispatch] = tasks.ready_human_tasks(wf)
    assert wf.get_task_from_id(dispatch.id).data["team"] == "plumbers"
    tasks.complete_user_task(wf, dispatch.id, {"technician": "wang"})
    spiff.advance(wf)
    assert [t.element_id for t in tasks.ready_human_tasks(wf)] == ["Report"]


def test_content_hash_is_stable_and_sensitive(bundle_files):
    again = dict(reversed(list(bundle_files.items())))
    assert content_hash(bundle_files) == content_hash(again)
    assert compile_bundle(bundle_files).content_hash == content_hash(bundle_files)
    changed = {**bundle_files, "forms/repair/dispatch.uischema.json": b"{}"}
    assert content_hash(changed) != content_hash(bundle_files)
    renamed = dict(bundle_files)
    renamed["forms/repair/other.json"] = renamed.pop("forms/repair/dispatch.uischema.json")
    assert content_hash(renamed) != content_hash(bundle_files)


def test_problem_str():
    assert str(Problem("processes/x.bpmn", "Activity_1", "form forms/x/y.json does not exist")) == (
        "processes/x.bpmn: Activity_1: form forms/x/y.json does not exist"
    )
    assert str(Problem("processes/x.bpmn", None, "broken")) == "processes/x.bpmn: broken"


RULES = [
    # (id, path, old, new, element id, reason fragment)
    ("xml", REPAIR, "</bpmn:process>", "</bpmn:proces>", None, "not well-formed XML"),
    ("xsd", REPAIR, "<bpmn:manualTask id", "<bpmn:manualTaskk id", None, "manualTaskk"),
    ("dmn-xml", "processes/repair_routing.dmn", "</definitions>", "", None, "not well-formed XML"),
    ("reserved-id", "processes/inspection.bpmn", '"Event_end"', '"End"', "End", "reserved"),
    (
        "spiff-parse",
        "processes/inspection.bpmn",
        '<bpmn:startEvent id="Event_start"><bpmn:outgoing>Flow_1</bpmn:outgoing></bpmn:startEvent>',
        "",
        "inspection",
        "No start event found",
    ),
    ("lane", REPAIR, 'name="supervisor"', 'name="janitor"', "Lane_sup", "'janitor' is not a role"),
    (
        "form-missing-property",
        REPAIR,
        '<spiffworkflow:property name="formJsonSchemaFilename" value="repair/dispatch.json" />',
        "",
        "Dispatch",
        "no formJsonSchemaFilename",
    ),
    (
        "form-missing-file",
        REPAIR,
        'value="repair/dispatch.json"',
        'value="repair/dispatch2.json"',
        "Dispatch",
        "form forms/repair/dispatch2.json does not exist",
    ),
    (
        "form-json",
        "forms/repair/dispatch.json",
        '"type": "object",',
        '"type": "object"',
        "Dispatch",
        "form forms/repair/dispatch.json is not valid JSON",
    ),
    (
        "form-schema",
        "forms/repair/dispatch.json",
        '"type": "object"',
        '"type": "objekt"',
        "Dispatch",
        "is not a valid JSON Schema",
    ),
    (
        "ui-schema-missing",
        REPAIR,
        'value="repair/dispatch.uischema.json"',
        'value="repair/nope.uischema.json"',
        "Dispatch",
        "UI schema forms/repair/nope.uischema.json does not exist",
    ),
    (
        "ui-schema-json",
        "forms/repair/dispatch.uischema.json",
        "}}",
        "}",
        "Dispatch",
        "is not valid JSON",
    ),
    (
        "call-activity",
        REPAIR,
        'calledElement="inspection"',
        'calledElement="inspektion"',
        "Inspect",
        "called process 'inspektion' is not in the bundle",
    ),
    (
        "decision",
        REPAIR,
        "<spiffworkflow:calledDecisionId>repair_routing<",
        "<spiffworkflow:calledDecisionId>repair_rooting<",
        "Route",
        "decision 'repair_rooting' is not in any DMN",
    ),
    (
        "timer-literal",
        REPAIR,
        "<bpmn:timeDuration>sla</bpmn:timeDuration>",
        '<bpmn:timeDuration>"P2X"</bpmn:timeDuration>',
        "Dispatch_sla",
        "is not an ISO 8601 duration",
    ),
    (
        "timer-unquoted",
        REPAIR,
        "<bpmn:timeDuration>sla</bpmn:timeDuration>",
        "<bpmn:timeDuration>P2D</bpmn:timeDuration>",
        "Dispatch_sla",
        'must be a quoted string: "P2D"',
    ),
    (
        "timer-sample",
        REPAIR,
        "{&quot;sla&quot;: &quot;P2D&quot;}",
        "{&quot;sla&quot;: &quot;two days&quot;}",
        "Dispatch_sla",
        "'two days' is not an ISO 8601 duration",
    ),
    (
        "timer-sample-missing-name",
        REPAIR,
        "<bpmn:timeDuration>sla</bpmn:timeDuration>",
        "<bpmn:timeDuration>sla_days</bpmn:timeDuration>",
        "Dispatch_sla",
        "name 'sla_days' is not defined",
    ),
    (
        "timer-forbidden",
        REPAIR,
        "<bpmn:timeDuration>sla</bpmn:timeDuration>",
        "<bpmn:timeDuration>__import__('os')</bpmn:timeDuration>",
        "Dispatch_sla",
        "is not allowed",
    ),
    (
        "timer-cycle",
        REPAIR,
        "<bpmn:timeDuration>sla</bpmn:timeDuration>",
        '<bpmn:timeCycle>"R3/PT1X"</bpmn:timeCycle>',
        "Dispatch_sla",
        "not an ISO 8601 duration",
    ),
    (
        "timer-date",
        REPAIR,
        "<bpmn:timeDuration>sla</bpmn:timeDuration>",
        '<bpmn:timeDate>"2026-02-30T09:00:00"</bpmn:timeDate>',
        "Dispatch_sla",
        "is not an ISO 8601 date-time",
    ),
    (
        "due-in",
        REPAIR,
        'name="dueIn" value="PT4H"',
        'name="dueIn" value="4 hours"',
        "Dispatch",
        "dueIn: '4 hours' is not an ISO 8601 duration",
    ),
    (
        "due-in-expression",
        REPAIR,
        'name="dueIn" value="PT4H"',
        'name="dueIn" value="=&quot;PT4&quot;"',
        "Dispatch",
        "dueIn '\"PT4\"' gives",
    ),
    (
        "operator-unknown",
        REPAIR,
        'serviceTaskOperator id="send_sms"',
        'serviceTaskOperator id="send_fax"',
        "Notify",
        "unknown service operator 'send_fax'",
    ),
    (
        "operator-parameter",
        REPAIR,
        '<spiffworkflow:parameter id="to" type="str" value="owner_phone" />',
        "",
        "Notify",
        "operator 'send_sms' needs parameter(s) to",
    ),
]


@pytest.mark.parametrize(
    ("path", "old", "new", "element_id", "reason"),
    [rule[1:] for rule in RULES],
    ids=[rule[0] for rule in RULES],
)
def test_each_rule_reports_file_element_and_reason(
    bundle_files, path, old, new, element_id, reason
):
    files = broken(bundle_files, path, old, new)
    problems = validate_bundle(files, OPERATORS)
    expected_file = path if not path.startswith("forms/") else REPAIR
    matching = [
        p for p in problems
        if p.file == expected_file and p.element_id == element_id and reason in p.reason
    ]  # fmt: skip
    assert matching, "\n".join(str(p) for p in problems)
    with pytest.raises(BundleInvalid) as caught:
        compile_bundle(files, OPERATORS)
    assert caught.value.problems == problems


def test_expressions_needing_task_data_are_accepted(bundle_files):
    files = broken(
        bundle_files,
        REPAIR,
        '<spiffworkflow:property name="sampleData" value="{&quot;sla&quot;: &quot;P2D&quot;}" />',
        "",
    )
    files = broken(files, REPAIR, 'name="dueIn" value="PT4H"', 'name="dueIn" value="=sla"')
    assert validate_bundle(files, OPERATORS) == []


def test_all_problems_are_collected(bundle_files):
    files = broken(bundle_files, REPAIR, 'name="supervisor"', 'name="janitor"')
    files = broken(files, REPAIR, 'calledElement="inspection"', 'calledElement="nope"')
    files = broken(
        files, "processes/inspection.bpmn", 'value="inspection/report.json"', 'value="x.json"'
    )
    files = broken(files, REPAIR, "<bpmn:timeDuration>sla<", '<bpmn:timeDuration>"soon"<')
    problems = validate_bundle(files)
    found = {(p.file, p.element_id) for p in problems}
    assert {
        (REPAIR, "Lane_sup"),
        (REPAIR, "Inspect"),
        ("processes/inspection.bpmn", "Report"),
        (REPAIR, "Dispatch_sla"),
    } <= found
    # without an operator mapping, operators are not checked
    assert not any(p.element_id == "Notify" for p in problems)
