"""The escalation chain (80 / 100 / 150 / 200 %) leaves nothing open once the complaint closes.

Each threshold records the level and notifies (supervisor, supervisor, project manager, HQ);
none of them puts a task in an inbox, so when the complaint is handled, accepted and revisited
no task of it is open anywhere and its process has ended.
"""

from __future__ import annotations

from sqlalchemy import select

from app.engine.models import EventKind, HumanTask, InstanceEvent, InstanceStatus, ProcessInstance
from app.extensions import db

MAIN_PATH = {"Triage", "Handle", "Feedback", "Revisit"}


def _rows(c):
    return list(db.session.scalars(select(HumanTask).where(
        HumanTask.instance_id == c.instance_id).order_by(HumanTask.id)))


def _assert_over(c):
    assert [t.element_id for t in _rows(c) if t.status == "open"] == []
    db.session.expire_all()
    instance = db.session.get(ProcessInstance, c.instance_id)
    assert instance is not None and instance.status == InstanceStatus.COMPLETED
    finished = db.session.scalars(select(InstanceEvent).where(
        InstanceEvent.instance_id == c.instance_id,
        InstanceEvent.kind == EventKind.FINISHED.value)).all()
    assert len(finished) == 1


def test_the_whole_chain_then_closing_ends_the_process(world):
    world.at("2026-11-23 16:00")  # 4 working hours → warn 10:12, due 11:00, PM 13:00, HQ 15:00
    c = world.triage(world.lodge(), limit_hours=4)
    for moment in ("2026-11-24 10:12", "2026-11-24 11:00", "2026-11-24 13:00",
                   "2026-11-24 15:00"):
        world.at(moment)
        world.fire(c)
    assert c.escalation_level == 3
    assert world.steps(c) == ["Handle"]  # escalations notify; they open no inbox task
    world.at("2026-11-24 16:00")
    c = world.handle(c)
    c = world.complete(c, "Feedback", world.owner, feedback="accept")
    c = world.complete(c, "Revisit", world.cs, satisfaction=3, resolved=True,
                       revisit_note="超时了")
    assert c.status == "revisited"
    assert {t.element_id for t in _rows(c)} <= MAIN_PATH
    _assert_over(c)


def test_an_anonymous_complaint_closed_after_escalation_ends_the_process(world):
    world.at("2026-11-23 16:00")
    c = world.triage(world.lodge(anonymous=True), limit_hours=4)
    world.at("2026-11-24 13:00")  # 80 %, 100 % and 150 % passed
    world.fire(c)
    assert c.escalation_level == 2
    c = world.handle(c)
    assert c.status == "closed"
    _assert_over(c)
    world.at("2026-11-24 15:00")  # the 200 % timer went with the handling task
    assert world.fire(c) == 0
    assert c.escalation_level == 2
