"""The repair flow end to end through the engine, with the clock moved for every timer."""

from __future__ import annotations

import pytest

from app.engine import runtime
from app.engine.models import InstanceStatus, ProcessInstance
from app.errors import Conflict, FieldErrors, Forbidden
from app.extensions import db
from app.repairs import operations as ops
from app.repairs.operations import TooSoon
from tests.flows.repair.conftest import (
    history_kinds,
    notified,
    open_steps,
    png_upload,
    reload,
    tasks_of,
)


def instance_of(ticket):
    return db.session.get(ProcessInstance, ticket.instance_id)


# --- intake and routing -----------------------------------------------------------------------


def test_intake_numbers_routes_and_tells_the_owner(world, submit):
    photo = png_upload(world.project, world.owner)
    ticket = submit(photos=[photo], preferred_time="今晚 7 点后")
    second = submit(category="civil", description="卫生间墙面渗水")
    assert ticket.number == "BX-20261122-0001"
    assert second.number == "BX-20261122-0002"
    assert ticket.status == "pending"
    assert (ticket.team, ticket.dispatch_mode) == ("water_electric", "pool")
    assert ticket.unit_id == world.unit.id
    assert ticket.photos == [photo]
    assert (second.team, second.dispatch_mode) == ("civil", "pool")
    # normal: respond within 2 h, finish within 24 h
    assert (ticket.respond_by - ticket.submitted_at).total_seconds() == 2 * 3600
    assert (ticket.finish_by - ticket.submitted_at).total_seconds() == 24 * 3600
    assert notified("repair.submitted") == {world.owner.id}
    # the team's pool: only its members may grab it, they were told
    accept = tasks_of(ticket)[0]
    assert accept.element_id == "Accept" and accept.restricted
    assert sorted(accept.candidate_user_ids) == sorted([world.tech.id, world.tech2.id])
    assert {world.tech.id, world.tech2.id} <= notified("repair.new_job")


def test_emergency_limits_and_public_area_goes_to_the_supervisor(world, submit):
    ticket = submit(area="public", location="2号楼电梯厅", category="elevator",
                    urgency="emergency", description="电梯困人")
    assert (ticket.team, ticket.dispatch_mode) == ("elevator", "supervisor")
    assert (ticket.respond_by - ticket.submitted_at).total_seconds() == 30 * 60
    assert (ticket.finish_by - ticket.submitted_at).total_seconds() == 4 * 3600
    assert open_steps(ticket) == ["Dispatch"]
    assert tasks_of(ticket)[0].role == "supervisor"


def test_intake_is_validated(world, submit):
    with pytest.raises(FieldErrors) as exc:
        submit(area="public", description="x")
    assert {"location", "description"} <= set(exc.value.fields)
    with pytest.raises(FieldErrors) as exc:
        submit(photos=[png_upload(world.project, world.neighbour)])  # someone else's file
    assert "photos.0" in exc.value.fields
    with pytest.raises(FieldErrors):
        submit(photos=[png_upload(world.project, world.owner) for _ in range(7)])
    with pytest.raises(FieldErrors):
        submit(unit_id=world.unit.id + 1)  # not the owner's unit


def test_customer_service_registers_for_an_owner_who_phones(world):
    ticket = ops.submit_repair(world.project.id, world.owner,
                               {"category": "electrical", "area": "unit",
                                "description": "客厅插座没电"},
                               registered_by=world.cs, channel="phone")
    assert ticket.requester_id == world.owner.id and ticket.registered_by_id == world.cs.id
    assert ticket.channel == "phone"
    assert notified("repair.submitted") == {world.owner.id}


# --- the technician's part ---------------------------------------------------------------------


def test_grab_check_in_paid_work_rate_and_close(world, submit):
    ticket = submit()
    ticket = ops.accept_job(ticket, world.tech)
    assert (ticket.status, ticket.technician_id) == ("accepted", world.tech.id)
    assert ticket.accepted_at is not None
    assert notified("repair.accepted") == {world.owner.id}
    with pytest.raises(Conflict):
        ops.accept_job(ticket, world.tech2)  # grabbed already
    before = png_upload(world.project, world.tech)
    ticket = ops.check_in(ticket, world.tech, {"diagnosis": "阀芯坏了", "fee_yuan": 80,
                                               "before_photos": [before]})
    assert (ticket.status, ticket.fee_fen) == ("awaiting_fee", 8000)
    with pytest.raises(Forbidden):
        ops.confirm_fee(ticket, world.neighbour, True)
    ticket = ops.confirm_fee(ticket, world.owner, True)
    assert (ticket.status, ticket.fee_confirmed) == ("in_progress", True)
    after = png_upload(world.project, world.tech)
    ticket = ops.record_work(ticket, world.tech, {
        "work_done": "更换阀芯", "after_photos": [after],
        "materials": [{"name": "阀芯", "quantity": 2, "unit_price_yuan": 12.5}]})
    assert (ticket.status, ticket.materials_fen) == ("completed", 2500)
    assert ticket.finished_at is not None
    assert notified("repair.done") == {world.owner.id}
    ticket = ops.rate_repair(ticket, world.owner, 5, "很好")
    assert (ticket.status, ticket.rating, ticket.not_rated) == ("closed", 5, False)
    assert instance_of(ticket).status == InstanceStatus.COMPLETED


def test_fee_declined_closes_the_job(world, submit):
    ticket = ops.accept_job(submit(), world.tech)
    ticket = ops.check_in(ticket, world.tech, {"diagnosis": "需换整套龙头", "fee_yuan": 300})
    ticket = ops.confirm_fee(ticket, world.owner, False, "太贵")
    assert (ticket.status, ticket.fee_confirmed) == ("fee_declined", False)
    assert world.tech.id in notified("repair.fee_declined")
    assert instance_of(ticket).status == InstanceStatus.COMPLETED


def test_dispatch_return_and_redispatch(world, submit):
    ticket = submit(area="public", location="地下车库B区", description="车库灯不亮",
                    category="electrical")
    with pytest.raises(FieldErrors):
        ops.dispatch_job(ticket, world.supervisor, world.owner.id)  # not a technician
    ticket = ops.dispatch_job(ticket, world.supervisor, world.tech.id, "带梯子")
    assert (ticket.status, ticket.technician_id) == ("assigned", world.tech.id)
    accept = tasks_of(ticket)[0]
    assert accept.assignee_id == world.tech.id
    assert notified("repair.assigned") == {world.tech.id}
    with pytest.raises(Conflict):
        ops.accept_job(ticket, world.tech2)
    with pytest.raises(FieldErrors):
        ops.return_job(ticket, world.tech, "")  # a reason is required
    ticket = ops.return_job(ticket, world.tech, "没有梯子")
    assert (ticket.status, ticket.returns, ticket.technician_id) == ("pending", 1, None)
    assert open_steps(ticket) == ["Dispatch"]
    ticket = ops.dispatch_job(ticket, world.supervisor, world.tech2.id)
    ticket = ops.accept_job(ticket, world.tech2)
    assert (ticket.status, ticket.technician_id) == ("accepted", world.tech2.id)


def test_a_pool_job_returned_goes_to_dispatch(world, submit):
    ticket = submit()
    with pytest.raises(Conflict):
        ops.return_job(ticket, world.tech, "不是我的")  # nobody's yet: nothing to return
    task = tasks_of(ticket)[0]
    runtime.claim_task(task.id, world.tech)
    ticket = ops.return_job(ticket, world.tech, "缺少配件")
    assert open_steps(ticket) == ["Dispatch"] and ticket.returns == 1


def test_the_supervisor_reassigns_at_any_step(world, submit):
    ticket = ops.accept_job(submit(), world.tech)
    ticket = ops.reassign_job(ticket, world.supervisor, world.tech2.id)
    assert ticket.technician_id == world.tech2.id
    assert tasks_of(ticket)[0].assignee_id == world.tech2.id
    with pytest.raises(Forbidden):
        ops.reassign_job(ticket, world.cs, world.tech.id)
    ticket = ops.check_in(ticket, world.tech2, {"diagnosis": "漏水"})
    record = tasks_of(ticket)[0]
    assert record.element_id == "Record_work" and record.assignee_id == world.tech2.id


# --- the owner's part ---------------------------------------------------------------------------


def test_urge_at_most_once_an_hour(world, submit, advance):
    ticket = submit()
    ticket = ops.urge_repair(ticket, world.owner)
    assert ticket.urge_count == 1
    assert {world.tech.id, world.tech2.id, world.supervisor.id} <= notified("repair.urged")
    with pytest.raises(TooSoon):
        ops.urge_repair(ticket, world.owner)
    with pytest.raises(Forbidden):
        ops.urge_repair(ticket, world.neighbour)
    ticket = ops.accept_job(ticket, world.tech)
    advance(minutes=61)
    ticket = ops.urge_repair(reload(ticket), world.owner)
    assert ticket.urge_count == 2
    assert open_steps(ticket) == ["Check_in"]  # urging changes nothing on the main path


def test_urging_twice_while_waiting_for_acceptance(world, submit, advance):
    ticket = ops.urge_repair(submit(), world.owner)
    advance(minutes=61)
    ticket = ops.urge_repair(reload(ticket), world.owner)
    assert reload(ticket).urge_count == 2
    assert open_steps(ticket) == ["Accept"]


def test_cancel_before_acceptance_only(world, submit):
    ticket = submit()
    ticket = ops.cancel_repair(ticket, world.owner, "已自行修好")
    assert (ticket.status, ticket.cancel_reason) == ("cancelled", "已自行修好")
    assert open_steps(ticket) == []
    assert world.owner.id in notified("repair.cancelled")
    accepted = ops.accept_job(submit(), world.tech)
    with pytest.raises(Conflict):
        ops.cancel_repair(accepted, world.owner, "不修了")


def test_bad_rating_rectification_and_revisit(world, submit):
    ticket = ops.accept_job(submit(), world.tech)
    ticket = ops.check_in(ticket, world.tech, {"diagnosis": "堵了"})
    ticket = ops.record_work(ticket, world.tech, {"work_done": "疏通"})
    ticket = ops.rate_repair(ticket, world.owner, 1, "还是堵")
    assert (ticket.status, ticket.rating) == ("rectifying", 1)
    assert world.supervisor.id in notified("repair.bad_rating")
    rectify = tasks_of(ticket)[0]
    assert (rectify.element_id, rectify.role) == ("Rectify", "supervisor")
    runtime.complete_task(rectify.id, {"cause": "管道老化", "rectification": "更换管段"},
                          world.supervisor)
    ticket = reload(ticket)
    assert ticket.status == "revisiting"
    revisit = tasks_of(ticket)[0]
    assert (revisit.element_id, revisit.role) == ("Revisit", "customer_service")
    runtime.complete_task(revisit.id, {"revisit_result": "satisfied"}, world.cs)
    ticket = reload(ticket)
    assert (ticket.status, ticket.revisit_result) == ("closed", "satisfied")


def test_silence_for_three_days_closes_as_not_rated(world, submit, advance):
    ticket = ops.accept_job(submit(), world.tech)
    ticket = ops.check_in(ticket, world.tech, {"diagnosis": "堵了"})
    ticket = ops.record_work(ticket, world.tech, {"work_done": "疏通"})
    advance(days=2, hours=23)
    assert reload(ticket).status == "completed"
    advance(hours=2)
    ticket = reload(ticket)
    assert (ticket.status, ticket.not_rated, ticket.rating) == ("closed", True, None)
    assert world.owner.id in notified("repair.closed")


def test_a_share_of_good_ratings_is_revisited(world, submit):
    revisited = []
    for _ in range(6):
        ticket = ops.accept_job(submit(), world.tech)
        ticket = ops.check_in(ticket, world.tech, {"diagnosis": "x" * 3})
        ticket = ops.record_work(ticket, world.tech, {"work_done": "修好"})
        ticket = ops.rate_repair(ticket, world.owner, 3)
        revisited.append(ticket.status == "revisiting")
        # 3 stars: half are revisited; which ones follows the ticket id
        assert ticket.status == ("revisiting" if (ticket.id * 37) % 100 < 50 else "closed")
    assert any(revisited)


# --- escalation -------------------------------------------------------------------------------


def test_response_escalation_reminds_then_goes_to_the_supervisor(world, submit, advance):
    ticket = submit(urgency="emergency")
    advance(minutes=29)
    assert not reload(ticket).late_response
    advance(minutes=2)
    ticket = reload(ticket)
    assert (ticket.late_response, ticket.escalation_level) == (True, 1)
    assert [e["kind"] for e in ticket.escalations] == ["response_late"]
    assert {world.tech.id, world.tech2.id} <= notified("repair.response_late")
    assert open_steps(ticket) == ["Accept"]  # still in the pool
    advance(minutes=30)
    ticket = reload(ticket)
    assert ticket.escalation_level == 2
    assert [e["kind"] for e in ticket.escalations] == ["response_late", "response_overdue"]
    assert world.supervisor.id in notified("repair.response_overdue")
    assert open_steps(ticket) == ["Dispatch"]  # in the supervisor's inbox now
    ticket = ops.dispatch_job(ticket, world.supervisor, world.tech.id)
    ticket = ops.accept_job(ticket, world.tech)
    assert (ticket.status, ticket.escalation_level, ticket.late_response) == (
        "accepted", 2, True)


def test_completion_escalation_goes_to_supervisor_then_manager(world, submit, advance):
    ticket = ops.accept_job(submit(urgency="emergency"), world.tech)
    ticket = ops.check_in(ticket, world.tech, {"diagnosis": "主管爆裂"})
    advance(hours=4, minutes=1)
    ticket = reload(ticket)
    assert (ticket.late_completion, ticket.escalation_level) == (True, 2)
    assert ticket.late_response is False
    follow_up = [t for t in tasks_of(ticket) if t.element_id == "Follow_up_late_job"]
    assert follow_up and follow_up[0].role == "supervisor"
    assert world.supervisor.id in notified("repair.completion_late")
    advance(hours=4)
    ticket = reload(ticket)
    assert ticket.escalation_level == 3
    manager = [t for t in tasks_of(ticket) if t.element_id == "Handle_overdue_job"]
    assert manager and manager[0].role == "project_manager"
    assert world.manager.id in notified("repair.completion_overdue")
    assert ticket.status == "in_progress"
    # escalation tasks are worked on while the job is late; the main path goes on meanwhile
    runtime.complete_task(follow_up[0].id, {"action_taken": "加派人手"}, world.supervisor)
    assert "Handle_overdue_job" in open_steps(reload(ticket))
    ticket = ops.record_work(reload(ticket), world.tech, {"work_done": "更换主管"})
    assert ticket.status == "completed" and ticket.escalation_level == 3
    # the job is done: the manager's open escalation is withdrawn (tests in
    # test_escalation_withdrawn.py follow every way a ticket closes)
    assert open_steps(ticket) == ["Rate"]
    ticket = ops.rate_repair(reload(ticket), world.owner, 4)
    assert ticket.status in ("closed", "revisiting")


def test_no_escalation_after_acceptance_in_time(world, submit, advance):
    ticket = ops.accept_job(submit(), world.tech)
    advance(hours=5)
    ticket = reload(ticket)
    assert (ticket.late_response, ticket.escalation_level) == (False, 0)


def test_history_records_every_step(world, submit):
    ticket = ops.accept_job(submit(), world.tech)
    kinds = history_kinds(ticket)
    assert ("started", None) in kinds
    assert ("completed", "Accept") in kinds
    assert ("task_created", "Check_in") in kinds
