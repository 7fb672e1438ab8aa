"""A complaint from the portal through triage, handling, feedback and revisit."""

from __future__ import annotations

from sqlalchemy import select

from app.complaints.models import Complaint, ComplaintEvent
from app.extensions import db
from app.notifications.models import Notification
from tests.flows.complaint.conftest import local


def _events(c: Complaint) -> list[str]:
    return [e.status or f"level{e.level}" for e in db.session.scalars(
        select(ComplaintEvent).where(ComplaintEvent.complaint_id == c.id)
        .order_by(ComplaintEvent.id))]


def test_intake_gives_a_number_and_waits_for_triage(world):
    world.at("2026-11-23 16:00")
    c = world.lodge()
    assert c.number == "TS-20261123-0001"
    assert world.lodge().number == "TS-20261123-0002"
    assert c.status == "triage"
    assert world.steps(c) == ["Triage"]
    assert world.task(c, "Triage").role == "customer_service"
    notes = db.session.scalars(select(Notification).where(Notification.user_id == world.owner.id))
    assert any(c.number in n.title for n in notes)


def test_limit_crosses_the_night(world):
    # Monday 16:00, a limit of 4 working hours: 2 today, 2 from 09:00 tomorrow.
    world.at("2026-11-23 16:00")
    c = world.triage(world.lodge(), limit_hours=4)
    assert c.status == "handling"
    assert c.department == "engineering"  # proposed by the DMN table
    assert c.due_at == local("2026-11-24 11:00")
    assert c.warn_at == local("2026-11-24 10:12")
    assert c.pm_at == local("2026-11-24 13:00")
    assert c.hq_at == local("2026-11-24 15:00")
    assert world.task(c, "Handle").due_at == c.due_at
    world.clock.set(local("2026-11-23 23:59"))
    assert world.fire(c) == 0
    assert c.escalation_level == -1


def test_dmn_proposes_department_and_limit(world):
    world.at("2026-11-23 09:00")
    c = world.triage(world.lodge(category="environment"), category="environment",
                     severity="high")
    assert (c.department, c.limit_hours) == ("environment", 8)
    assert c.due_at == local("2026-11-23 17:00")


def test_accepted_result_is_closed_and_revisited(world):
    world.at("2026-11-23 09:00")
    c = world.triage(world.lodge(), limit_hours=8)
    world.at("2026-11-23 15:00")
    c = world.handle(c)
    assert c.status == "feedback"
    assert c.within_limit is True
    assert c.resolved_at == local("2026-11-23 15:00")
    feedback = world.task(c, "Feedback")
    assert feedback.restricted and feedback.candidate_user_ids == [world.owner.id]
    c = world.complete(c, "Feedback", world.owner, feedback="accept")
    assert c.status == "closed"
    assert c.closed_at == local("2026-11-23 15:00")
    revisit = world.task(c, "Revisit")
    assert revisit.role == "customer_service"
    assert revisit.due_at == local("2026-11-26 15:00")  # DMN: revisit within 3 days
    c = world.complete(c, "Revisit", world.cs, satisfaction=5, resolved=True,
                       revisit_note="很满意")
    assert c.status == "revisited" and c.satisfaction == 5
    assert world.steps(c) == []
    assert _events(c) == ["triage", "handling", "feedback", "closed", "revisited"]


def test_out_of_scope_is_explained_and_closed(world):
    world.at("2026-11-23 09:00")
    c = world.triage(world.lodge(), in_scope=False,
                     out_of_scope_reason="属于市政供水，请联系水务公司")
    assert c.status == "rejected"
    assert c.closed_at is not None and c.in_scope is False
    assert world.steps(c) == []
    notes = list(db.session.scalars(select(Notification).where(
        Notification.user_id == world.owner.id)))
    assert any("水务" in (n.body or "") for n in notes)


def test_out_of_scope_needs_a_reason(world):
    from app.engine import runtime
    from app.errors import FieldErrors

    world.at("2026-11-23 09:00")
    c = world.lodge()
    try:
        runtime.complete_task(world.task(c, "Triage").id,
                              {"category": "service", "severity": "low", "in_scope": False},
                              world.cs)
    except FieldErrors as exc:
        assert "out_of_scope_reason" in exc.fields
    else:
        raise AssertionError("a rejection without a reason was accepted")


def test_anonymous_complaint_gets_no_feedback_step(world):
    world.at("2026-11-23 09:00")
    c = world.triage(world.lodge(anonymous=True))
    assert c.complainant_id is None and c.anonymous
    c = world.handle(c)
    assert c.status == "closed"
    assert world.steps(c) == []


def test_phone_complaint_without_account_gets_feedback_by_phone(world):
    from app.complaints import operations as ops

    world.at("2026-11-23 09:00")
    c = ops.create_complaint(
        world.project.id, {"category": "service", "title": "客服态度差",
                           "description": "前台人员态度不好"},
        channel="phone", complainant=None, registered_by=world.cs, complainant_name="李先生",
        complainant_phone="138 0013 8000")
    assert c.complainant_phone == "+8613800138000"
    c = world.handle(world.triage(c))
    assert world.steps(c) == ["Feedback_by_phone"]
    c = world.complete(c, "Feedback_by_phone", world.cs, feedback="accept")
    assert c.status == "closed"


def test_feedback_without_answer_is_deemed_accepted_after_three_days(world):
    world.at("2026-11-23 09:00")
    c = world.handle(world.triage(world.lodge()))
    world.at("2026-11-26 09:01")
    world.fire(c)
    assert c.status == "closed"
    assert world.steps(c) == ["Revisit"]
