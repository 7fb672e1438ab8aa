"""Time limits on the business calendar: nights, weekends, public holidays, pauses,
extensions and the escalation chain (80 % warning, 100 % supervisor, 150 % PM, 200 % HQ)."""

from __future__ import annotations

from sqlalchemy import select

from app.complaints.calendar import seed_china_2026
from app.complaints.models import ComplaintEvent
from app.extensions import db
from app.notifications.models import Notification
from tests.flows.complaint.conftest import local


def _levels(c):
    return [e.level for e in db.session.scalars(
        select(ComplaintEvent).where(ComplaintEvent.complaint_id == c.id,
                                     ComplaintEvent.kind == "escalation")
        .order_by(ComplaintEvent.id))]


def _notified(user, word):
    return [n for n in db.session.scalars(select(Notification).where(
        Notification.user_id == user.id)) if word in (n.title or "") + (n.body or "")]


def test_escalation_chain_across_the_night(world):
    world.at("2026-11-23 16:00")  # Monday; 4 h limit → due Tuesday 11:00
    c = world.triage(world.lodge(), limit_hours=4)
    world.at("2026-11-24 10:11")
    assert world.fire(c) == 0
    world.at("2026-11-24 10:12")
    world.fire(c)
    assert c.escalation_level == 0 and _levels(c) == [0]
    assert _notified(world.supervisor, c.number)
    world.at("2026-11-24 11:00")
    world.fire(c)
    assert c.escalation_level == 1
    world.at("2026-11-24 13:00")
    world.fire(c)
    assert c.escalation_level == 2
    assert _notified(world.manager, c.number)
    assert not _notified(world.hq, c.number)
    world.at("2026-11-24 15:00")
    world.fire(c)
    assert c.escalation_level == 3 and _levels(c) == [0, 1, 2, 3]
    assert _notified(world.hq, c.number)
    assert world.fire(c) == 0  # nothing fires twice
    world.at("2026-11-24 16:00")
    c = world.handle(c)
    assert c.status == "feedback" and c.within_limit is False


def test_limit_skips_the_weekend(world):
    world.at("2026-11-27 16:00")  # Friday
    c = world.triage(world.lodge(), limit_hours=4)
    assert c.due_at == local("2026-11-30 11:00")  # Monday
    world.at("2026-11-29 20:00")
    assert world.fire(c) == 0
    assert c.escalation_level == -1
    world.at("2026-11-30 11:00")
    world.fire(c)
    assert c.escalation_level == 1


def test_limit_skips_public_holidays_and_counts_make_up_days(world):
    seed_china_2026(world.project.id)
    world.at("2026-09-30 16:00")  # Wednesday before National Day (1–7 October)
    c = world.triage(world.lodge(), limit_hours=4)
    assert c.due_at == local("2026-10-08 11:00")
    world.at("2026-10-05 12:00")
    assert world.fire(c) == 0
    # Saturday 10 October is a make-up working day (调休): 12 h from Friday 9 October 09:00
    world.at("2026-10-09 09:00")
    c2 = world.triage(world.lodge(), limit_hours=12)
    assert c2.due_at == local("2026-10-10 12:00")


def test_urgent_safety_complaints_run_around_the_clock(world):
    world.at("2026-11-28 02:00")  # Saturday night
    c = world.triage(world.lodge(category="safety"), category="safety", severity="urgent")
    assert (c.department, c.limit_hours, c.around_the_clock) == ("security", 4, True)
    assert c.due_at == local("2026-11-28 06:00")
    world.at("2026-11-28 06:00")
    world.fire(c)
    assert c.escalation_level == 1


def test_clock_pauses_while_waiting_for_the_complainant(world):
    world.at("2026-11-23 09:00")  # Monday, 8 h → due 17:00
    c = world.triage(world.lodge(), limit_hours=8)
    assert c.due_at == local("2026-11-23 17:00")
    world.at("2026-11-23 11:00")
    c = world.handle(c, "need_info", question="请问异响一般在几点出现？")
    assert c.status == "waiting_complainant" and c.paused
    assert world.steps(c) == ["Answer_question"]
    assert _notified(world.owner, "几点")
    world.at("2026-11-23 18:00")
    assert world.fire(c) == 0  # paused: no escalation
    assert c.escalation_level == -1
    world.at("2026-11-24 10:00")  # 6 working hours were left
    c = world.complete(c, "Answer_question", world.owner, answer="晚上十点左右")
    assert c.status == "handling" and not c.paused
    assert c.due_at == local("2026-11-24 16:00")
    assert c.warn_at == local("2026-11-24 14:24")
    world.at("2026-11-24 16:00")
    world.fire(c)
    assert c.escalation_level == 1


def test_thresholds_passed_before_a_pause_do_not_fire_again(world):
    world.at("2026-11-23 09:00")
    c = world.triage(world.lodge(), limit_hours=2)  # warn 10:36, due 11:00
    world.at("2026-11-23 10:40")
    world.fire(c)
    assert _levels(c) == [0]
    c = world.handle(c, "need_info", question="请补充照片")
    world.at("2026-11-23 14:00")
    c = world.complete(c, "Answer_question", world.owner, answer="好的")
    assert c.due_at == local("2026-11-23 14:20")
    world.fire(c)
    assert _levels(c) == [0]
    world.at("2026-11-23 14:20")
    world.fire(c)
    assert _levels(c) == [0, 1]


def test_one_extension_approved_by_the_supervisor(world):
    world.at("2026-11-23 09:00")
    c = world.triage(world.lodge(), limit_hours=8)
    world.at("2026-11-23 12:00")
    c = world.handle(c, "extension", extension_hours=9, extension_reason="需厂家配件")
    assert c.status == "extension_requested"
    approval = world.task(c, "Approve_extension")
    assert approval.role == "supervisor"
    world.at("2026-11-23 13:00")
    c = world.complete(c, "Approve_extension", world.supervisor, extension_approved=True)
    assert c.status == "handling" and c.extension_status == "approved"
    assert c.due_at == local("2026-11-24 17:00")  # 17 working hours from Monday 09:00
    c = world.handle(c, "extension", extension_hours=4, extension_reason="再延一次")
    assert world.steps(c) == ["Handle"]  # only one extension: back to handling
    assert c.status == "handling"


def test_refused_extension_keeps_the_limit(world):
    world.at("2026-11-23 09:00")
    c = world.triage(world.lodge(), limit_hours=8)
    c = world.handle(c, "extension", extension_hours=9, extension_reason="需厂家配件")
    c = world.complete(c, "Approve_extension", world.supervisor, extension_approved=False)
    assert c.extension_status == "refused"
    assert c.due_at == local("2026-11-23 17:00")


def test_a_dispute_reopens_and_the_second_goes_to_the_project_manager(world):
    world.at("2026-11-23 09:00")
    c = world.handle(world.triage(world.lodge(), limit_hours=8))
    c = world.complete(c, "Feedback", world.owner, feedback="dispute", dispute_reason="还是有异响")
    assert c.disputes == 1 and c.status == "handling"
    assert c.resolved_at is None
    world.at("2026-11-23 10:00")
    assert c.due_at == local("2026-11-23 17:00")  # a fresh limit from the dispute
    c = world.handle(c)
    c = world.complete(c, "Feedback", world.owner, feedback="dispute", dispute_reason="仍然不行")
    assert c.disputes == 2 and c.status == "pm_review"
    pm = world.task(c, "PM_review")
    assert pm.role == "project_manager"
    c = world.complete(c, "PM_review", world.manager, pm_decision="请电梯公司大修，费用由物业承担")
    assert c.status == "closed"
    assert world.steps(c) == ["Revisit"]
