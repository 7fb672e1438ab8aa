"""The history an instance's page shows: every transition, written with the change it records
and gone with it when that change is rolled back."""

from __future__ import annotations

from sqlalchemy import func, select

from app.audit.actor import Actor, acting_as
from app.engine import runtime
from app.engine.history import record_event, timeline
from app.engine.models import EventKind, HumanTask, InstanceEvent
from app.extensions import db


def _kinds(instance_id: int) -> list[str]:
    return [event.kind for event in timeline(instance_id)]


def test_the_timeline_shows_what_happened_before_the_commit(deployed, create_project,
                                                            create_user):
    project = create_project("A")
    cs = create_user("customer_service", projects=[project], username="cs")
    with acting_as(Actor(cs.id, "cs")):
        instance = runtime.start_instance("ticket", project.id, {}, "R-1")
        [task] = db.session.scalars(select(HumanTask).where(HumanTask.instance_id == instance.id))
        # Nothing committed yet: the page rendered in this same request already sees them.
        events = timeline(instance.id)
        assert [e.kind for e in events] == ["started", "task_created"]
        assert events[1].task_row_id == task.id and events[1].title == "Accept the ticket"
        assert events[0].user_id == cs.id and events[0].actor_label == "cs"
        runtime.claim_task(task.id, cs)
        runtime.complete_task(task.id, {"category": "plumbing", "urgent": True}, cs)
    db.session.commit()
    events = timeline(instance.id)
    assert [e.kind for e in events] == ["started", "task_created", "claimed", "completed",
                                        "task_created"]
    completed = events[3]
    assert completed.task_row_id == task.id
    assert completed.data["category"] == {"from": None, "to": "plumbing"}
    [repair] = db.session.scalars(select(HumanTask).where(
        HumanTask.instance_id == instance.id, HumanTask.element_id == "Repair"))
    assert events[4].task_row_id == repair.id


def test_a_rolled_back_change_leaves_no_history(deployed, create_project, create_user):
    project = create_project("A")
    cs = create_user("customer_service", projects=[project], username="cs")
    with acting_as(Actor(cs.id, "cs")):
        instance = runtime.start_instance("ticket", project.id, {}, "R-1")
        [task] = db.session.scalars(select(HumanTask).where(HumanTask.instance_id == instance.id))
        savepoint = db.session.begin_nested()
        runtime.claim_task(task.id, cs)  # written, then undone with its savepoint
        savepoint.rollback()
        savepoint = db.session.begin_nested()
        record_event(instance, EventKind.MESSAGE, data={"message": "x"})  # not written yet
        savepoint.rollback()
        runtime.suspend_instance(instance.id)
    db.session.commit()
    assert _kinds(instance.id) == ["started", "task_created", "suspended"]

    with acting_as(Actor(cs.id, "cs")):
        runtime.resume_instance(instance.id)
    db.session.rollback()  # the whole request failed
    assert _kinds(instance.id) == ["started", "task_created", "suspended"]
    with acting_as(Actor(cs.id, "cs")):
        runtime.resume_instance(instance.id)
    db.session.commit()
    assert _kinds(instance.id) == ["started", "task_created", "suspended", "resumed"]
    assert db.session.scalar(select(func.count(InstanceEvent.id))) == 4
