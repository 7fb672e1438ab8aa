"""Messages with correlation, signals, and event-based gateways."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.engine import events, spiff, tasks

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # the frozen_clock fixture's start


def ready(workflow) -> list[str]:
    return sorted(t.element_id for t in tasks.ready_human_tasks(workflow))


def test_event_gateway_message_wins(start_workflow):
    wf = start_workflow("event_gateway", {"ticket_number": "R-1"})
    [waiting] = events.waiting_messages(wf)
    assert (waiting.name, waiting.element_id) == ("payment_received", "Gateway")
    assert waiting.correlations == {"ticket_number": "R-1"}
    assert spiff.next_timer_due(wf) == START + timedelta(days=7)

    # another ticket's payment does not correlate
    assert not events.send_message(wf, "payment_received", {"ticket_number": "R-2"})
    assert not events.send_message(wf, "payment_received", {"amount": 100})
    assert not events.send_message(wf, "refund", {"ticket_number": "R-1"})

    assert events.send_message(wf, "payment_received", {"ticket_number": "R-1", "amount": 100})
    spiff.advance(wf)
    assert ready(wf) == ["Confirm"]
    assert spiff.next_timer_due(wf) is None  # the timer branch was dropped
    confirm = tasks.ready_human_tasks(wf)[0]
    assert wf.get_task_from_id(confirm.id).data["payment"]["amount"] == 100


def test_event_gateway_timer_wins(start_workflow, frozen_clock):
    wf = start_workflow("event_gateway", {"ticket_number": "R-1"})
    frozen_clock.advance(timedelta(days=7))
    spiff.advance(wf)
    assert ready(wf) == ["Chase"]
    assert events.waiting_messages(wf) == []
    assert not events.send_message(wf, "payment_received", {"ticket_number": "R-1"})


def test_message_correlation_survives_serialization(start_workflow):
    started = start_workflow("event_gateway", {"ticket_number": "R-9"})
    wf = spiff.deserialize(spiff.serialize(started), specs=spiff.specs_of(started))
    assert events.waiting_messages(wf)[0].correlations == {"ticket_number": "R-9"}
    assert events.send_message(wf, "payment_received", {"ticket_number": "R-9"})
    spiff.advance(wf)
    assert ready(wf) == ["Confirm"]


def test_signal_broadcast_interrupts_the_task(start_workflow):
    wf = start_workflow("signal_outage")
    assert [(e.kind, e.name) for e in events.waiting_events(wf)] == [("signal", "building_outage")]
    assert not events.broadcast_signal(wf, "fire_drill")
    assert events.broadcast_signal(wf, "building_outage", {"building": "B2"})
    spiff.advance(wf)
    assert ready(wf) == ["Handle_outage"]
    handle = tasks.ready_human_tasks(wf)[0]
    assert wf.get_task_from_id(handle.id).data["outage"] == {"building": "B2"}
    assert events.waiting_events(wf) == []
    assert not events.broadcast_signal(wf, "building_outage")
