"""The fast workflow codec (app.engine.codec, behind spiff.serialize / spiff.deserialize)
writes what the library's own converters write and reads what they write.

Every shipped flow in processes/ and the fixture flows with timers, events, call activities and
subprocesses are driven to several points (new, started, after each completed task, timer,
message or signal, finished). At each point:

1. the fast serializer's JSON decodes to the same dict as the library's conversion of the
   same workflow (``create_serializer(fast=False)``: the same registry without the fast
   converters);
2. a state written by the library restores with the fast code to a workflow whose state (by
   either serializer) is that state, and the other way round;
3. both restored copies, driven on from there exactly like the original, end where the
   original ends (compared with task ids replaced by tree positions).
"""

from __future__ import annotations

import gzip
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from SpiffWorkflow.bpmn.serializer.default.workflow import (
    BpmnSubWorkflowConverter,
    TaskConverter,
)
from SpiffWorkflow.bpmn.util.subworkflow import BpmnSubWorkflow
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.task import Task

from app.clock import FrozenSource, clock
from app.engine import codec, events, spiff, tasks
from app.engine.deployments import read_bundle
from app.engine.validation import compile_bundle
from tests.engine.conftest import FIXTURES

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = spiff.create_serializer(fast=False)

# --- the three checks -----------------------------------------------------------------------


def _decoded(workflow: BpmnWorkflow, serializer: Any = None) -> dict[str, Any]:
    return json.loads(spiff.serialize(workflow, serializer=serializer))


def check_state(workflow: BpmnWorkflow) -> tuple[str, str]:
    """Checks 1 and 2 at one point; the fast and the library's state texts."""
    fast_text = spiff.serialize(workflow)
    library_text = spiff.serialize(workflow, serializer=REFERENCE)
    expected = json.loads(library_text)
    assert json.loads(fast_text) == expected
    # stricter than the contract (the decoded dicts): today even the text is the same
    assert fast_text == library_text
    specs = spiff.specs_of(workflow)
    read_fast = spiff.deserialize(library_text, specs=specs)
    read_by_library = spiff.deserialize(fast_text, specs=specs, serializer=REFERENCE)
    for restored in (read_fast, read_by_library):
        assert _decoded(restored) == expected
        assert _decoded(restored, REFERENCE) == expected
    assert_equivalent(read_fast, read_by_library)
    return fast_text, library_text


def _json(value: Any) -> str:
    """Values as the library's encoder writes them, keys in their order (event objects have
    no ==)."""
    return json.dumps(value, cls=REFERENCE._encoder_cls)


def _same_tasks(one: dict[UUID, Task], other: dict[UUID, Task]) -> None:
    assert list(one) == list(other)
    for task_id, task in one.items():
        twin = other[task_id]
        assert (task.id, task._parent, task._children, task.state, task.task_spec,
                task.triggered, task.last_state_change) == (
            twin.id, twin._parent, twin._children, twin.state, twin.task_spec,
            twin.triggered, twin.last_state_change)
        assert task.data == twin.data and _json(task.data) == _json(twin.data)
        assert _json(task.internal_data) == _json(twin.internal_data)
        assert type(task) is type(twin)


def assert_equivalent(one: BpmnWorkflow, other: BpmnWorkflow) -> None:
    """What a restore builds beyond the state: the same task tree, data, waiting events,
    subprocesses and bookkeeping."""
    _same_tasks(one.tasks, other.tasks)
    for task in one.tasks.values():
        assert task.workflow is one
    assert one.task_tree.id == other.task_tree.id
    assert (one.last_task and one.last_task.id) == (other.last_task and other.last_task.id)
    assert (one.success, one.completed, one.data, one.correlations) == (
        other.success, other.completed, other.data, other.correlations)
    assert list(one.event_manager.tasks) == list(other.event_manager.tasks)
    assert list(one.subprocesses) == list(other.subprocesses)
    for key, sub in one.subprocesses.items():
        twin_sub = other.subprocesses[key]
        assert type(sub) is type(twin_sub) and sub.spec is twin_sub.spec
        assert sub.parent_task_id == twin_sub.parent_task_id and sub.top_workflow is one
        assert sub.depth == twin_sub.depth
        _same_tasks(sub.tasks, twin_sub.tasks)
        assert sub.task_tree.id == twin_sub.task_tree.id
        assert (sub.last_task and sub.last_task.id) == (
            twin_sub.last_task and twin_sub.last_task.id)
        assert (sub.data, sub.correlations, sub.success, sub.completed) == (
            twin_sub.data, twin_sub.correlations, twin_sub.success, twin_sub.completed)
        # completing the subprocess notifies its task, in both
        assert sub.completed_event.n_subscribers() == twin_sub.completed_event.n_subscribers()
    assert _json(one.bpmn_events) == _json(other.bpmn_events)


def normalized(workflow: BpmnWorkflow) -> Any:
    """The workflow's state with every task id replaced by the task's position in its tree
    and without timestamps: two runs creating tasks with other random ids compare equal."""
    dct = _decoded(workflow)
    labels: dict[str, str] = {}

    def label(tasks_: dict[str, Any], root: str, prefix: str) -> None:
        stack = [(root, prefix + "0")]
        while stack:
            task_id, name = stack.pop()
            labels[task_id] = name
            children = tasks_[task_id]["children"] if task_id in tasks_ else []
            stack.extend((child, f"{name}.{i}") for i, child in enumerate(children))

    label(dct["tasks"], dct["root"], "")
    pending = dict(dct["subprocesses"])
    while pending:
        ready_ = [key for key in pending if key in labels]
        assert ready_, "a subprocess whose task is nowhere"
        for key in ready_:
            sub = pending.pop(key)
            label(sub["tasks"], sub["root"], labels[key] + "/")

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {strip(k): strip(v) for k, v in value.items() if k != "last_state_change"}
        if isinstance(value, list):
            return [strip(v) for v in value]
        if isinstance(value, str):
            return labels.get(value, value)
        return value

    return strip(dct)


# --- driving flows --------------------------------------------------------------------------


def form_data(schema: dict[str, Any]) -> Any:
    """A valid answer made from a JSON schema: the first choice, a small number, ..."""
    if "const" in schema:
        return schema["const"]
    if "default" in schema:
        return schema["default"]
    if "enum" in schema:
        return schema["enum"][0]
    for key in ("oneOf", "anyOf"):
        if key in schema:
            return form_data(schema[key][0])
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        return {name: form_data(sub) for name, sub in schema.get("properties", {}).items()}
    if kind == "array":
        return [form_data(schema.get("items", {}))] * int(schema.get("minItems", 0))
    if kind == "integer":
        return max(1, int(schema.get("minimum", 1)))
    if kind == "number":
        return max(1.5, float(schema.get("minimum", 1.5)))
    if kind == "boolean":
        return True
    if kind == "string":
        formats = {"date": "2026-12-01", "date-time": "2026-12-01T10:00:00+08:00",
                   "time": "10:00"}
        return formats.get(schema.get("format", ""), "fine")
    return None


@dataclass
class Flow:
    """How to drive one process: start data, answers for its human tasks (by element id; the
    others are made from their form's schema), results of its service operators, and the
    events to deliver in order: ``(step, ("timer",))`` fires the next timer (the clock moves
    to it), ``(step, ("message", name, payload))``, ``(step, ("signal", name, payload))``.
    An event is delivered at its step or, earlier, when nothing is READY; one that finds no
    taker is skipped."""

    spec: Any
    subprocess_specs: dict[str, Any]
    start: dict[str, Any]
    answers: dict[str, dict[str, Any]] = field(default_factory=dict)
    results: dict[str, Any] = field(default_factory=dict)
    events: list[tuple[int, tuple[Any, ...]]] = field(default_factory=list)
    forms: Path = ROOT / "forms"


@dataclass
class Point:
    """A state reached while driving a flow, and where the drive was."""

    step: int  # moves made
    events_done: int
    started: bool  # advanced once after creation
    now: datetime
    fast_text: str
    library_text: str


MAX_STEPS = 60
IDLE = 10**6  # an event's step: only when nothing is READY


def _answer(flow: Flow, task: tasks.HumanTask) -> dict[str, Any]:
    if task.element_id in flow.answers:
        return dict(flow.answers[task.element_id])
    if task.form and (flow.forms / task.form).is_file():
        return dict(form_data(json.loads((flow.forms / task.form).read_text())))
    return {}


def _deliver(flow: Flow, workflow: BpmnWorkflow, events_done: int,
             step: int | None) -> tuple[str, int] | None:
    """The next event (the next one due by ``step``, or any if None), if one finds a taker."""
    while events_done < len(flow.events):
        at, event = flow.events[events_done]
        if step is not None and at > step:
            return None
        events_done += 1
        if event[0] == "timer":
            due = spiff.next_timer_due(workflow)
            if due is None:
                continue
            clock.use(FrozenSource(max(due, clock.now())))
            spiff.advance(workflow)
            return f"timer {due.isoformat()}", events_done
        send = events.send_message if event[0] == "message" else events.broadcast_signal
        if send(workflow, event[1], event[2]):
            spiff.advance(workflow)
            return f"{event[0]} {event[1]}", events_done
    return None


def _step(flow: Flow, workflow: BpmnWorkflow, step: int,
          events_done: int) -> tuple[str, int] | None:
    """One deterministic move; what it was (None: nothing left to do)."""
    delivered = _deliver(flow, workflow, events_done, step)
    if delivered is not None:
        return delivered
    calls = tasks.ready_service_tasks(workflow)
    if calls:
        call = calls[0]
        result = flow.results.get(call.operator, {"ok": True})
        tasks.complete_service_task(workflow, call.task_id, result)
        spiff.advance(workflow)
        return f"service {call.element_id}", events_done
    human = sorted(tasks.ready_human_tasks(workflow), key=lambda t: t.element_id)
    if human:
        task = human[0]
        tasks.complete_user_task(workflow, task.id, _answer(flow, task))
        spiff.advance(workflow)
        return f"task {task.element_id}", events_done
    return _deliver(flow, workflow, events_done, None)


def drive(flow: Flow, workflow: BpmnWorkflow, steps: int, first: int = 0,
          events_done: int = 0,
          on_point: Callable[[int, int], None] | None = None) -> list[str]:
    """Move the workflow on for at most ``steps`` steps from step ``first``;
    on_point(step, events_done) after each."""
    moves = []
    for step in range(first, first + steps):
        move = _step(flow, workflow, step, events_done)
        if move is None:
            break
        what, events_done = move
        moves.append(what)
        if on_point is not None:
            on_point(step + 1, events_done)
    return moves


def run_and_check(flow: Flow) -> list[str]:
    """Drive a new instance of the flow as far as it goes, checking at every point; then
    restore each point's state both ways and drive the copies on the same way."""
    start_time = clock.now()
    workflow = spiff.create_workflow(flow.spec, flow.subprocess_specs, data=flow.start)
    points: list[Point] = []

    def record(step: int, events_done: int, started: bool = True) -> None:
        fast_text, library_text = check_state(workflow)
        points.append(Point(step, events_done, started, clock.now(), fast_text, library_text))

    record(0, 0, started=False)  # new
    spiff.advance(workflow)
    record(0, 0)  # started: waiting for people, services or events
    moves = drive(flow, workflow, MAX_STEPS, on_point=record)
    final = normalized(workflow)
    specs = spiff.specs_of(workflow)
    for point in points:
        for copy in (spiff.deserialize(point.library_text, specs=specs),
                     spiff.deserialize(point.fast_text, specs=specs, serializer=REFERENCE)):
            clock.use(FrozenSource(point.now))
            if not point.started:
                spiff.advance(copy)
            copied_moves = drive(flow, copy, MAX_STEPS - point.step, point.step,
                                 point.events_done)
            assert copied_moves == moves[point.step:]
            assert normalized(copy) == final
            assert _decoded(copy) == _decoded(copy, REFERENCE)
    clock.use(FrozenSource(start_time))
    return ["start", *moves] + (["completed"] if workflow.completed else [])


# --- the flows ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shipped() -> Any:
    files = read_bundle(ROOT)
    if not any(p.endswith(".bpmn") for p in files):
        pytest.skip("no flow shipped")
    return compile_bundle(files)


@pytest.fixture(scope="module")
def fixture_bundle() -> Any:
    root = FIXTURES / "bundle"
    return compile_bundle({str(p.relative_to(root)): p.read_bytes()
                           for p in root.rglob("*") if p.is_file()})


def _flow(bundle: Any, pid: str, **kwargs: Any) -> Flow:
    spec = spiff.deserialize_spec(bundle.serialized_specs()[pid]["spec"])
    return Flow(spec, dict(bundle.subprocess_specs[pid]), **kwargs)


SHANGHAI_MORNING = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)
ARREARS = {"unit_id": 1, "unit_label": "1号楼-0001", "amount_fen": 21002,
           "amount_text": "¥210.02", "count": 1, "oldest_due": "2026-11-16",
           "bills": [{"number": "ZD202611-1-1", "item": "物业费", "period": "2026-11",
                      "due_date": "2026-11-16", "outstanding": "¥210.02"}]}
NOTIFIED = {"event": "notified", "messages": 1}


def shipped_flows(bundle: Any) -> dict[str, Flow]:
    """Every process of processes/, with data that takes it through its main paths."""
    flows = {
        "dunning": _flow(
            bundle, "dunning",
            start={"case_id": 1, "unit_id": 1, "unit_label": "1号楼-0001", "owner_to": [],
                   "oldest_due": "2026-11-16", "last_reminder_at": None,
                   "restarted_at": None, "freeze_decided": False, "frozen": False},
            results={"dunning_update": ARREARS, "notify": NOTIFIED,
                     "door_access": {"done": True}},
            answers={"Confirm_freeze": {"freeze_confirmed": True}},
            events=[(IDLE, ("timer",)), (IDLE, ("timer",)),
                    (IDLE, ("message", "dunning_partial", {
                        "unit_id": 1, "oldest_due": "2026-12-01",
                        "restarted_at": "2027-01-02T00:00:00+00:00"})),
                    *[(IDLE, ("timer",))] * 6,
                    (IDLE, ("message", "dunning_paid", {"unit_id": 1}))]),
        "lost_found": _flow(
            bundle, "lost_found",
            start={"item_id": 1, "item_no": "SW-1", "kind": "found", "needs_review": True,
                   "requester_id": 7, "reminder_after": "P30D", "disposal_after": "P90D",
                   "lost_expiry": "P60D"},
            results={"notify": NOTIFIED},
            events=[(IDLE, ("timer",)),
                    (IDLE, ("message", "lost_found_claim", {"item_no": "SW-1", "claim_id": 1})),
                    (IDLE, ("timer",))]),
        "visitor": _flow(
            bundle, "visitor",
            start={"request_number": "FK-1", "unit_label": "1-101", "visitor_name": "Li",
                   "visitor_phone": "+8613800000000", "party_size": 2, "purpose": "visit",
                   "visit_time": "today", "host_user_ids": [3, 4], "note": "",
                   "status_link": "/s", "review_link": "/r"},
            results={"notify": NOTIFIED}),
        "visitor_batch": _flow(
            bundle, "visitor_batch",
            start={"batch_number": "PL-1", "company": "ACME", "count": 3,
                   "unit_label": "1-101", "requester_id": 5, "note": "",
                   "visit_time": "this week", "batch_link": "/b"},
            results={"notify": NOTIFIED}),
        "repair": _flow(
            bundle, "repair",
            start={"category": "plumbing", "area": "unit", "location": "", "urgency": "normal",
                   "description": "The tap drips", "photos": [], "preferred_time": None,
                   "ticket_id": 3, "ticket_number": "BX-3", "project_id": 1,
                   "requester_id": 5, "unit_id": 1, "category_label": "Plumbing",
                   "location_label": "1-101", "teams": {"water_electric": [8, 9]},
                   "link": "/repairs/3"},
            results={"notify": NOTIFIED},
            answers={"Accept": {"decision": "accept"},
                     "Record_work": {"summary": "fixed", "materials": [
                         {"name": "washer", "unit_price_yuan": 1.5, "quantity": 2}]}},
            events=[(1, ("message", "repair_urge", {"ticket_number": "BX-3"})),
                    (2, ("timer",)), (7, ("timer",)), (9, ("timer",)), (IDLE, ("timer",))]),
        "complaint": _flow(
            bundle, "complaint",
            start={"project_id": 1, "complaint_id": 1, "number": "TS-1", "title": "Noise",
                   "category": "service", "severity": "normal", "channel": "portal",
                   "anonymous": False, "complainant_user_id": 5, "complainant_phone": None,
                   "requester_id": 5},
            results={"notify": NOTIFIED,
                     "complaint_update": {"status": "handling", "escalation_level": 0}},
            events=[(3, ("timer",)), (4, ("timer",)), (IDLE, ("timer",))]),
    }
    flows["repair_acceptance"] = _flow(
        bundle, "repair_acceptance", start=dict(flows["repair"].start, team="water_electric",
                                                 dispatch="supervisor", returns=0,
                                                 technician_id=None),
        results={"notify": NOTIFIED}, answers={"Accept": {"decision": "accept"}})
    return flows


SHIPPED = ["complaint", "dunning", "lost_found", "repair", "repair_acceptance", "visitor",
           "visitor_batch"]


def test_every_shipped_process_has_a_codec_scenario(shipped):
    """A process added to processes/ needs its scenario in shipped_flows()."""
    assert sorted(shipped.processes) == SHIPPED == sorted(shipped_flows(shipped))


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_flow_states_match_the_library(name, shipped, db_session):
    # db_session: the complaint flow's calendar helpers read the (empty) project tables
    clock.use(FrozenSource(SHANGHAI_MORNING))
    moves = run_and_check(shipped_flows(shipped)[name])
    assert moves[-1] == "completed" and len(moves) >= 4, moves


def fixture_flows(parser: Any, bundle: Any) -> dict[str, Flow]:
    def flow(pid: str, start: dict[str, Any], **kwargs: Any) -> Flow:
        return Flow(parser.get_spec(pid), parser.get_subprocess_specs(pid), start, **kwargs)

    payment = ("message", "payment_received", {"ticket_number": "R-1", "amount": 100})
    return {
        "three_tasks": flow("three_tasks", {"urgent": True}),
        "boundary_timers": flow("boundary_timers", {},
                                events=[(0, ("timer",)), (1, ("timer",)), (2, ("timer",))]),
        "cycle_timer": flow("cycle_timer", {}, events=[(0, ("timer",))] * 4),
        "event_gateway (message)": flow("event_gateway", {"ticket_number": "R-1"},
                                        events=[(IDLE, payment)]),
        "event_gateway (timer)": flow("event_gateway", {"ticket_number": "R-1"},
                                      events=[(IDLE, ("timer",)), (IDLE, payment)]),
        "intermediate_timer": flow("intermediate_timer", {"wait_for": "P1D"},
                                   events=[(IDLE, ("timer",))] * 2),
        "monthly_inspection": flow("monthly_inspection", {}, events=[(IDLE, ("timer",))]),
        "service_task": flow("service_task", {"owner_phone": "+8613800000000"},
                             results={"send_sms": {"sid": "SM1", "status": "queued"}}),
        "signal_outage": flow("signal_outage", {}, events=[
            (0, ("signal", "fire_drill", None)),
            (0, ("signal", "building_outage", {"building": "B2"}))]),
        # a call activity (inspection) and a boundary timer on the dispatch
        "bundle repair": _flow(bundle, "repair", start={
            "urgent": False, "sla": "P2D", "owner_phone": "+8613800000000",
            "category": "plumbing"}, forms=FIXTURES / "bundle" / "forms",
            results={"send_sms": {"sid": "SM1"}}, events=[(2, ("timer",))]),
        "bundle repair (late)": _flow(bundle, "repair", start={
            "urgent": False, "sla": "P2D", "owner_phone": "+8613800000000",
            "category": "plumbing"}, forms=FIXTURES / "bundle" / "forms",
            results={"send_sms": {"sid": "SM1"}}, events=[(0, ("timer",))]),
    }


FIXTURE_FLOWS = ["three_tasks", "boundary_timers", "cycle_timer", "event_gateway (message)",
                 "event_gateway (timer)", "intermediate_timer", "monthly_inspection",
                 "service_task", "signal_outage", "bundle repair", "bundle repair (late)"]


@pytest.mark.parametrize("name", FIXTURE_FLOWS)
def test_fixture_flow_states_match_the_library(name, parser, fixture_bundle, frozen_clock):
    flow = fixture_flows(parser, fixture_bundle)[name]
    moves = run_and_check(flow)
    assert len(moves) >= 3, moves


# --- data values ----------------------------------------------------------------------------

AWARE = datetime(2026, 1, 6, 8, 30, tzinfo=UTC)
RICH_DATA = {
    "urgent": True,
    "at": AWARE,
    "naive": datetime(2026, 1, 6, 8, 30),
    "span": timedelta(days=1, seconds=5),
    "ref": UUID("12345678-1234-5678-1234-567812345678"),
    "nested": {"a": {"b": [1, {"c": AWARE, "d": [AWARE, None]}]}, "e": []},
    "rows": [[1, 2.5], {"x": None, "y": "报修"}],
    "tags": {"x"},
    "pair": (1, "two"),
    "by_number": {1: "one"},
    "big": 10**30,
    "text": 'line\u2028break "quoted" \\ 物业费 😀 \ud800',  # a lone surrogate
    "typename_like": {"value": "x", "kind": "typename is only a key name here"},
}


def _accept(workflow: BpmnWorkflow, data: dict[str, Any]) -> None:
    task = next(t for t in tasks.ready_human_tasks(workflow) if t.element_id == "Accept")
    tasks.complete_user_task(workflow, task.id, data)
    spiff.advance(workflow)


def _ready_task(workflow: BpmnWorkflow, element_id: str) -> Task:
    human = next(t for t in tasks.ready_human_tasks(workflow) if t.element_id == element_id)
    return workflow.get_task_from_id(human.id)


def test_data_values_deletions_and_callables(start_workflow):
    """datetime, timedelta, UUID, nested dicts and lists, sets and tuples, big ints, odd
    strings; a key deleted from a child's data; callables in task data, internal data and
    workflow data."""
    wf = start_workflow("three_tasks", RICH_DATA)
    check_state(wf)

    accept = _ready_task(wf, "Accept")
    del accept.data["rows"]  # a deletion against the parent's data
    accept.data["nested"]["a"]["b"].append("changed in place")  # shared below the top level
    accept.data["fn"] = len  # written as null by the library's encoder
    accept.data["deep"] = {"fn": len, "when": AWARE}  # null too
    accept.internal_data["callback"] = print  # dropped (the registry cleans internal data)
    wf.data["helper"] = len  # dropped
    wf.data["at"] = AWARE
    fast_text, _ = check_state(wf)
    state = json.loads(fast_text)
    written = state["tasks"][str(accept.id)]
    assert written["delta"]["deletions"] == ["rows"]
    assert written["delta"]["updates"]["fn"] is None
    assert written["delta"]["updates"]["deep"]["fn"] is None
    assert "callback" not in written["internal_data"]
    assert "helper" not in state["data"] and state["data"]["at"]["typename"] == "datetime"

    restored = spiff.deserialize(fast_text, specs=spiff.specs_of(wf))
    twin = restored.get_task_from_id(accept.id)
    assert "rows" not in twin.data and twin.parent.data["rows"] == RICH_DATA["rows"]
    assert twin.data["at"] == AWARE and twin.data["span"] == RICH_DATA["span"]
    assert twin.data["ref"] == RICH_DATA["ref"] and twin.data["by_number"] == {"1": "one"}
    assert twin.data["tags"] == ["x"] and twin.data["pair"] == [1, "two"]
    assert twin.data["nested"]["a"]["b"][1]["c"] == AWARE
    assert twin.data["fn"] is None and twin.data["text"] == RICH_DATA["text"]
    # a child's top-level containers are copies of its parent's (as the library restores)
    assert twin.data["nested"] is not twin.parent.data["nested"]
    assert twin.data["nested"]["a"] is twin.parent.data["nested"]["a"]

    by_library = spiff.deserialize(fast_text, specs=spiff.specs_of(wf), serializer=REFERENCE)
    for workflow in (wf, restored, by_library):
        _accept(workflow, {"accepted": True, "when": AWARE, "nested": {"a": None}})
        check_state(workflow)
        for element_id in ("Repair", "Review"):
            task = next(t for t in tasks.ready_human_tasks(workflow)
                        if t.element_id == element_id)
            tasks.complete_user_task(workflow, task.id, {"done": element_id})
            spiff.advance(workflow)
            check_state(workflow)
        assert workflow.completed
    assert normalized(restored) == normalized(by_library)
    # Only the callable differs from the original, which the library restores as None: the
    # workflow data (copied from the last task) leaves the callable out and keeps the None.
    continued = normalized(restored)
    assert continued["data"].pop("fn") is None
    assert continued == normalized(wf)


def test_unserializable_values_fail_as_with_the_library(start_workflow):
    """A date (no converter is registered for it) or an unknown object cannot be written,
    with either serializer, and the same error."""
    for value in (date(2026, 1, 5), object()):
        wf = start_workflow("three_tasks", {"urgent": True, "value": value})
        with pytest.raises(TypeError) as fast:
            spiff.serialize(wf)
        with pytest.raises(TypeError) as library:
            spiff.serialize(wf, serializer=REFERENCE)
        assert str(fast.value) == str(library.value)


def test_nan_and_objects_with_their_own_equality(start_workflow):
    """NaN != NaN: the library lists an inherited NaN among every child's updates (and so does
    a value whose class says it differs from itself); floats in general take the slow path
    of the delta."""

    class Odd(dict):  # a dict that is never equal to anything
        def __eq__(self, other: object) -> bool:
            return False

        def __ne__(self, other: object) -> bool:
            return True

        __hash__ = None  # type: ignore[assignment]

    wf = start_workflow("three_tasks", {"urgent": True, "ratio": float("nan"), "odd": Odd(),
                                        "price": 1.5, "inf": float("inf")})
    text = spiff.serialize(wf)
    assert text == spiff.serialize(wf, serializer=REFERENCE)
    accept = _ready_task(wf, "Accept")
    assert {"ratio", "odd"} <= set(json.loads(text.replace("NaN", "null"))["tasks"][
        str(accept.id)]["delta"]["updates"])
    _accept(wf, {"accepted": True})
    text = spiff.serialize(wf)
    assert text == spiff.serialize(wf, serializer=REFERENCE)
    restored = spiff.deserialize(text, specs=spiff.specs_of(wf))
    assert spiff.serialize(restored) == spiff.serialize(restored, serializer=REFERENCE)
    assert math.isnan(restored.get_task_from_id(accept.id).data["ratio"])


def test_circular_data_fails_with_both(start_workflow):
    """The fast encoder skips the circular-reference bookkeeping (task data are trees): data
    that refers to itself still cannot be written, only the error differs."""
    loop: list[Any] = []
    loop.append(loop)
    wf = start_workflow("three_tasks", {"urgent": True, "loop": loop})
    with pytest.raises(ValueError, match="Circular reference"):
        spiff.serialize(wf, serializer=REFERENCE)
    with pytest.raises(RecursionError):
        spiff.serialize(wf)


def test_to_dict_and_gzip_match_the_library(start_workflow):
    """Outside serialize_json (the registry not in encoder mode) to_dict still matches, and
    so does the gzip variant of serialize_json."""
    wf = start_workflow("three_tasks", RICH_DATA)
    _accept(wf, {"accepted": True, "when": AWARE})
    assert spiff.SERIALIZER.to_dict(wf) == REFERENCE.to_dict(wf)
    zipped = spiff.SERIALIZER.serialize_json(wf, use_gzip=True)
    assert json.loads(gzip.decompress(zipped)) == json.loads(REFERENCE.serialize_json(wf))


def test_the_reference_is_the_library_and_serializer_the_fast_codec():
    def converter(serializer: Any, typename: str) -> Any:
        return serializer.registry.convert_to_dict[typename].args[1].__self__

    assert type(converter(REFERENCE, "Task")) is TaskConverter
    assert type(converter(REFERENCE, "BpmnSubWorkflow")) is BpmnSubWorkflowConverter
    assert type(converter(REFERENCE, "BpmnWorkflow")) is spiff.SpecRefWorkflowConverter
    assert type(converter(spiff.SERIALIZER, "Task")) is codec.FastTaskConverter
    assert type(converter(spiff.SERIALIZER, "BpmnSubWorkflow")) is codec.FastSubWorkflowConverter
    assert type(converter(spiff.SERIALIZER, "BpmnWorkflow")) is spiff.FastSpecRefWorkflowConverter
    assert isinstance(spiff.SERIALIZER, codec.FastWorkflowSerializer)
    assert spiff.SERIALIZER.VERSION == REFERENCE.VERSION == "estateflow-2"
    assert BpmnSubWorkflow in REFERENCE.registry.typenames


def test_uuid_parsing_matches_the_stdlib():
    for text in ("00000000-0000-0000-0000-000000000000", "ffffffff-ffff-ffff-ffff-ffffffffffff",
                 "12345678-1234-5678-1234-567812345678", str(uuid4())):
        parsed = codec.parse_uuid(text)
        assert parsed == UUID(text) and str(parsed) == text and hash(parsed) == hash(UUID(text))
        assert parsed.is_safe is UUID(text).is_safe and parsed.version == UUID(text).version
    for text in ("{12345678-1234-5678-1234-567812345678}", "12345678123456781234567812345678",
                 "urn:uuid:12345678-1234-5678-1234-567812345678",
                 "123456781-234-5678-1234-567812345678", "+2345678-1234-5678-1234-567812345678",
                 "ABCDEF78-1234-5678-1234-567812345678"):
        assert codec.parse_uuid(text) == UUID(text)
    for bad in ("", "not-a-uuid", "12345678-1234-5678-1234-56781234567g",
                "12345678-1234-5678-1234-5678123456789"):
        with pytest.raises(ValueError):
            UUID(bad)
        with pytest.raises(ValueError):
            codec.parse_uuid(bad)
