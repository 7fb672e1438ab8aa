"""Running workflows: user tasks, timers on the injected clock, serialization."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

from app.engine import spiff, tasks
from app.engine.parsing import create_parser
from app.engine.spiff import EngineError, SerializationVersionError
from tests.engine.conftest import FIXTURES

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # the frozen_clock fixture's start


def ready(workflow) -> list[str]:
    return sorted(t.element_id for t in tasks.ready_human_tasks(workflow))


def complete(workflow, element_id: str, data: dict | None = None) -> None:
    task = next(t for t in tasks.ready_human_tasks(workflow) if t.element_id == element_id)
    tasks.complete_user_task(workflow, task.id, data)
    spiff.advance(workflow)


def test_three_user_tasks_run_in_order_with_lanes_and_properties(start_workflow):
    wf = start_workflow("three_tasks", {"urgent": True})
    [accept] = tasks.ready_human_tasks(wf)
    assert (accept.element_id, accept.title, accept.lane) == (
        "Accept",
        "Accept the ticket",
        "customer_service",
    )
    assert accept.form == "repair/accept.json"
    assert accept.ui_form == "repair/accept.uischema.json"
    assert accept.due_in == "PT4H"
    assert tasks.task_due_at(wf, accept.id) == START + timedelta(hours=4)

    complete(wf, "Accept", {"accepted": True})
    [repair] = tasks.ready_human_tasks(wf)
    assert (repair.element_id, repair.lane) == ("Repair", "technician")
    # dueIn "=..." is an expression over the task data
    assert tasks.task_due_at(wf, repair.id) == START + timedelta(days=1)

    complete(wf, "Repair", {"fixed": "tap"})
    assert ready(wf) == ["Review"]
    complete(wf, "Review")
    assert wf.completed
    assert wf.last_task.data["fixed"] == "tap"


def test_completing_a_task_twice_or_unknown_is_an_engine_error(start_workflow):
    wf = start_workflow("three_tasks", {"urgent": False})
    [accept] = tasks.ready_human_tasks(wf)
    tasks.complete_user_task(wf, accept.id, {})
    with pytest.raises(EngineError, match="not READY"):
        tasks.complete_user_task(wf, accept.id, {})
    with pytest.raises(EngineError):
        tasks.complete_user_task(wf, "00000000-0000-0000-0000-000000000000", {})
    with pytest.raises(EngineError):
        tasks.complete_user_task(wf, "not-a-uuid", {})


def test_serializer_round_trip_then_continue(start_workflow):
    wf = start_workflow("three_tasks", {"urgent": True})
    complete(wf, "Accept", {"accepted": True})
    text = spiff.serialize(wf)
    assert f'"serializer_version": "{spiff.SERIALIZER_VERSION}"' in text

    restored = spiff.deserialize(text, specs=spiff.specs_of(wf))
    assert ready(restored) == ["Repair"]
    assert type(restored.script_engine).__name__ == "RestrictedScriptEngine"
    complete(restored, "Repair")
    complete(restored, "Review")
    assert restored.completed
    assert spiff.serialize(restored)  # serializes again after finishing


def test_states_name_their_specs_instead_of_carrying_them(start_workflow):
    wf = start_workflow("three_tasks", {"urgent": True})
    text = spiff.serialize(wf)
    assert '"task_specs"' not in text  # the specs live in the deployment
    with pytest.raises(spiff.SpecsRequired):
        spiff.deserialize(text)
    other = spiff.deserialize_spec(spiff.serialize_spec(wf.spec))
    other.name = "another_process"
    with pytest.raises(spiff.SpecsRequired, match="another_process|three_tasks"):
        spiff.deserialize(text, specs=(other, {}))


def test_states_written_with_their_specs_are_still_read(start_workflow):
    """estateflow-1 embedded the specs in every state; such rows keep working."""
    wf = start_workflow("three_tasks", {"urgent": True})
    complete(wf, "Accept", {"accepted": True})
    old = spiff.create_serializer()
    BpmnWorkflowConverter(BpmnWorkflow, old.registry)  # the library's: specs embedded
    old.VERSION = "estateflow-1"
    text = old.serialize_json(wf)
    assert '"task_specs"' in text
    restored = spiff.deserialize(text)
    assert ready(restored) == ["Repair"]
    complete(restored, "Repair")
    complete(restored, "Review")
    assert restored.completed
    assert '"task_specs"' not in spiff.serialize(restored)  # saved in today's format


def test_deserialize_refuses_other_versions(start_workflow):
    text = spiff.serialize(start_workflow("three_tasks"))
    with pytest.raises(SerializationVersionError):
        spiff.deserialize(text.replace(spiff.SERIALIZER_VERSION, "1.4"))


def test_boundary_timers_fire_only_when_the_clock_moves(start_workflow, frozen_clock):
    wf = start_workflow("boundary_timers")
    assert ready(wf) == ["Repair"]
    assert spiff.next_timer_due(wf) == START + timedelta(days=30)

    spiff.advance(wf)  # nothing is due yet
    assert ready(wf) == ["Repair"]

    frozen_clock.advance(timedelta(days=29, hours=23))
    spiff.advance(wf)
    assert ready(wf) == ["Repair"]

    frozen_clock.advance(timedelta(hours=1))  # exactly 30 days: non-interrupting fires
    spiff.advance(wf)
    assert ready(wf) == ["Remind", "Repair"]
    assert spiff.next_timer_due(wf) == START + timedelta(days=90)

    # survives a round trip with its due time intact
    wf = spiff.deserialize(spiff.serialize(wf), specs=spiff.specs_of(wf))
    assert spiff.next_timer_due(wf) == START + timedelta(days=90)

    frozen_clock.advance(timedelta(days=60))  # 90 days: interrupting cancels Repair
    spiff.advance(wf)
    assert ready(wf) == ["Escalated", "Remind"]
    assert spiff.next_timer_due(wf) is None


def test_completing_the_task_cancels_its_boundary_timers(start_workflow):
    wf = start_workflow("boundary_timers")
    complete(wf, "Repair")
    assert wf.completed
    assert spiff.next_timer_due(wf) is None


def test_intermediate_timers_duration_from_data_then_date(start_workflow, frozen_clock):
    wf = start_workflow("intermediate_timer", {"wait_for": "PT2H"})
    [timer] = spiff.waiting_timers(wf)
    assert (timer.element_id, timer.kind, timer.expression) == ("Wait", "timeDuration", "wait_for")
    assert spiff.next_timer_due(wf) == START + timedelta(hours=2)

    frozen_clock.advance(timedelta(hours=2))
    spiff.advance(wf)
    [timer] = spiff.waiting_timers(wf)
    assert timer.kind == "timeDate"
    assert timer.due == datetime(2026, 3, 1, 1, 0, tzinfo=UTC)  # 09:00+08:00

    frozen_clock.set(datetime(2026, 3, 1, 0, 59, tzinfo=UTC))
    spiff.advance(wf)
    assert ready(wf) == []
    frozen_clock.set(datetime(2026, 3, 1, 1, 0, tzinfo=UTC))
    spiff.advance(wf)
    assert ready(wf) == ["Follow_up"]


def test_cycle_timer_fires_three_times(start_workflow, frozen_clock):
    wf = start_workflow("cycle_timer")
    assert spiff.next_timer_due(wf) == START + timedelta(hours=1)
    for count in (1, 2, 3):
        frozen_clock.advance(timedelta(hours=1))
        spiff.advance(wf)
        assert ready(wf).count("Reminder") == count
    assert spiff.next_timer_due(wf) is None
    frozen_clock.advance(timedelta(hours=5))
    spiff.advance(wf)
    assert ready(wf).count("Reminder") == 3
    assert "Work" in ready(wf)


def test_cycle_timer_catches_up_after_downtime(start_workflow, frozen_clock):
    wf = start_workflow("cycle_timer")
    frozen_clock.advance(timedelta(hours=10))
    spiff.advance(wf)
    assert ready(wf).count("Reminder") == 3


def test_timer_start_event_next_due(parser):
    spec = parser.get_spec("monthly_inspection")
    after = datetime(2026, 2, 15, tzinfo=UTC)
    # the 1st of each month at 00:00 in +08:00
    assert spiff.next_start_due(spec, after) == datetime(2026, 2, 28, 16, 0, tzinfo=UTC)
    march = datetime(2026, 2, 28, 16, 0, tzinfo=UTC)
    assert spiff.next_start_due(spec, march) == datetime(2026, 3, 31, 16, 0, tzinfo=UTC)
    assert spiff.next_start_due(spec, datetime(2025, 6, 1, tzinfo=UTC)) == datetime(
        2025, 12, 31, 16, 0, tzinfo=UTC
    )
    assert spiff.next_start_due(parser.get_spec("three_tasks"), after) is None


def test_service_task_waits_for_its_handler(start_workflow):
    wf = start_workflow("service_task", {"owner_phone": "+8613800000000"})
    [call] = tasks.ready_service_tasks(wf)
    assert call.operator == "send_sms"
    assert call.params == {"to": "+8613800000000", "template": "repair/accepted"}
    assert call.result_variable == "sms"
    assert tasks.ready_human_tasks(wf) == []

    spiff.advance(wf)  # the engine never runs it by itself
    assert len(tasks.ready_service_tasks(wf)) == 1

    wf = spiff.deserialize(spiff.serialize(wf), specs=spiff.specs_of(wf))
    [call] = tasks.ready_service_tasks(wf)
    tasks.complete_service_task(wf, call.task_id, {"sid": "SM1"})
    spiff.advance(wf)
    [check] = tasks.ready_human_tasks(wf)
    assert check.element_id == "Check"
    assert wf.get_task_from_id(check.id).data["sms"] == {"sid": "SM1"}
    with pytest.raises(EngineError):
        tasks.complete_service_task(wf, check.id, {})


def test_parallel_branches_keep_the_libraries_task_order(frozen_clock):
    """Ready tasks are read from the flat task dict when only one is ready; with parallel
    branches the library's tree order decides, so inbox rows and service calls come in
    diagram order either way."""
    path = FIXTURES.parent / "bundle_services" / "processes" / "gateway.bpmn"
    parser = create_parser({path.name: path.read_bytes()})
    workflow = spiff.create_workflow(parser.get_spec("svc_gateway"),
                                     parser.get_subprocess_specs("svc_gateway"),
                                     data={"amount": 5000})
    spiff.advance(workflow)
    library = [t.id for t in workflow.get_tasks(state=TaskState.READY, manual=True)]
    assert len(library) == 2
    assert [t.id for t in spiff.ready_tasks(workflow, manual=True)] == library
    assert [t.id for t in tasks.ready_human_tasks(workflow)] == library

    first = tasks.ready_human_tasks(workflow)[0]
    tasks.complete_user_task(workflow, first.id, {})
    spiff.advance(workflow)
    [last] = spiff.ready_tasks(workflow, manual=True)
    assert [last.id] == [t.id for t in workflow.get_tasks(state=TaskState.READY,
                                                           manual=True)]
    assert spiff.ready_tasks(workflow, manual=False) == []
