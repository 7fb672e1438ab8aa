"""Every path of processes/lost_found.bpmn, driven through the operations, clock moved."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.clock import clock
from app.engine import runtime
from app.engine.models import InstanceEvent, ProcessInstance
from app.engine.timer_jobs import fire_due
from app.errors import Conflict, FieldErrors, Forbidden
from app.extensions import db
from app.lostfound import operations as ops
from app.lostfound.models import Claim, ClaimStatus, Item, ItemStatus
from app.outbox.models import OutboxMessage
from tests.flows.lost_found.conftest import ID_MASKED, ID_NUMBER, open_elements, report, task


def notified(user, event):
    return db.session.scalars(select(OutboxMessage.body).where(
        OutboxMessage.user_id == user.id, OutboxMessage.event == event)).all()


def listed(**kw):
    return list(db.session.scalars(ops.search_query(ops.ItemFilter(**kw))))


def test_resident_report_waits_for_review_then_is_listed_with_edits(estate):
    item = report(estate.owner)
    assert item.number == "SW-20261122-0001"
    assert item.status == ItemStatus.PENDING_REVIEW and item.published_at is None
    assert listed() == []
    review = task(item, "Review")
    assert review.role == "customer_service"
    runtime.complete_task(review.id, {"review_decision": "approve",
                                      "description": "黑色钱包，内有门禁卡"}, estate.cs)
    assert item.status == ItemStatus.PUBLISHED and item.published_at is not None
    assert item.description == "黑色钱包，内有门禁卡"  # the reviewer's correction
    assert listed() == [item]
    assert report(estate.tenant).number == "SW-20261122-0002"


def test_review_rejects_with_reason(estate):
    item = report(estate.owner)
    with pytest.raises(FieldErrors) as exc:  # a rejection needs a reason
        runtime.complete_task(task(item, "Review").id, {"review_decision": "reject"}, estate.cs)
    assert "reject_reason" in exc.value.fields
    runtime.complete_task(task(item, "Review").id,
                          {"review_decision": "reject", "reject_reason": "含有他人手机号"},
                          estate.cs)
    assert item.status == ItemStatus.REJECTED and item.reject_reason == "含有他人手机号"
    assert notified(estate.owner, "lost_found.rejected")
    assert db.session.get(ProcessInstance, item.instance_id).status == "completed"
    assert listed() == []


def test_staff_logged_item_is_listed_at_once(estate):
    item = report(estate.guard, contact="前台")
    assert item.logged_by_staff and item.status == ItemStatus.PUBLISHED
    assert open_elements(item) == []
    assert listed(kind="found") == [item]


def test_claim_verify_hand_over_returns_the_item_and_masks_the_id(estate):
    item = report(estate.cs)
    claim = ops.submit_claim(item, estate.owner, "钱包里有一张招商银行卡，尾号 1234")
    assert claim.status == ClaimStatus.VERIFYING and claim.verify_task_id is not None
    with pytest.raises(Conflict):  # one open claim per person
        ops.submit_claim(item, estate.owner, "再次认领这个钱包")
    runtime.complete_task(task(item, "Verify_claim").id, {"claim_decision": "verified"},
                          estate.cs)
    assert claim.status == ClaimStatus.VERIFIED and claim.decided_by_id == estate.cs.id
    assert open_elements(item) == ["Hand_over"]
    with pytest.raises(FieldErrors) as exc:  # wrong checksum
        ops.record_hand_over(item, ops.HandOver("王业主", "110105194912310021"), estate.cs)
    assert exc.value.fields == {"receiver_id_number": "not a valid resident ID number"}
    with pytest.raises(FieldErrors):  # a full number never enters the workflow
        runtime.complete_task(task(item, "Hand_over").id, {
            "receiver_name": "王", "receiver_id_masked": ID_NUMBER,
            "handed_over_at": "2026-11-22T10:00:00+08:00"}, estate.cs)
    ops.record_hand_over(item, ops.HandOver("王业主", ID_NUMBER, note="当面核对"), estate.cs)
    assert item.status == ItemStatus.RETURNED
    assert notified(estate.cs, "lost_found.returned")  # the reporter (here the front desk)
    assert claim.status == ClaimStatus.HANDED_OVER
    assert claim.receiver_id_masked == ID_MASKED and claim.received_by_name == "王业主"
    assert claim.handed_over_by_id == estate.cs.id and claim.handed_over_at is not None
    assert db.session.get(ProcessInstance, item.instance_id).status == "completed"
    history = db.session.scalars(select(InstanceEvent.data)).all()
    assert ID_NUMBER not in repr(history) and ID_NUMBER not in repr(vars(claim))


def test_parallel_claims_one_declined_one_wins_the_rest_close(estate):
    item = report(estate.cs)
    first = ops.submit_claim(item, estate.owner, "里面有身份证复印件")
    second = ops.submit_claim(item, estate.tenant, "钱包是棕色的")
    third = ops.submit_claim(item, estate.cs, "来访者称钱包内有现金", name="访客张三",
                             phone="13900001111")
    assert third.claimant_id is None and third.claimant_name == "访客张三"
    assert open_elements(item) == ["Verify_claim"] * 3
    runtime.complete_task(second.verify_task_id, {"claim_decision": "declined",
                                                  "claim_note": "颜色不符"}, estate.cs)
    assert second.status == ClaimStatus.DECLINED and second.decision_note == "颜色不符"
    runtime.complete_task(first.verify_task_id, {"claim_decision": "verified"}, estate.cs)
    assert first.status == ClaimStatus.VERIFIED
    assert third.status == ClaimStatus.CLOSED  # its task was cancelled by the winner
    assert open_elements(item) == ["Hand_over"]
    with pytest.raises(Conflict):  # no more claims once one is verified
        ops.submit_claim(item, estate.tenant, "我的钱包有拉链")


def test_unclaimed_item_reminds_at_30_days_and_asks_for_disposal_at_90(estate, frozen_clock):
    item = report(estate.guard)
    frozen_clock.advance(timedelta(days=29))
    assert fire_due() == 0
    frozen_clock.advance(timedelta(days=1, minutes=1))
    assert fire_due() == 1
    assert open_elements(item) == ["Unclaimed_reminder"]
    assert item.status == ItemStatus.PUBLISHED
    runtime.complete_task(task(item, "Unclaimed_reminder").id, {"item_checked": True},
                          estate.cs)
    frozen_clock.advance(timedelta(days=60))
    assert fire_due() == 1
    db.session.refresh(item)
    assert item.status == ItemStatus.AWAITING_DISPOSAL and listed() == []
    disposal = task(item, "Decide_disposal")
    assert disposal.role == "supervisor"
    with pytest.raises(FieldErrors):
        runtime.complete_task(disposal.id, {"disposal_action": "burn"}, estate.supervisor)
    runtime.complete_task(disposal.id, {"disposal_action": "police",
                                        "disposal_to": "阳光路派出所"}, estate.supervisor)
    assert item.status == ItemStatus.DISPOSED
    assert (item.disposal_action, item.disposal_to) == ("police", "阳光路派出所")


def test_claim_in_progress_when_disposal_time_comes_is_closed(estate, frozen_clock):
    item = report(estate.guard)
    claim = ops.submit_claim(item, estate.owner, "钱包里有照片")
    frozen_clock.advance(timedelta(days=91))
    fire_due()
    db.session.refresh(claim)
    assert claim.status == ClaimStatus.CLOSED
    assert "Decide_disposal" in open_elements(item)


def test_disposal_period_is_configurable(estate, frozen_clock, app):
    app.config["LOSTFOUND_DISPOSAL_AFTER"] = "P60D"
    try:
        item = report(estate.guard)
    finally:
        del app.config["LOSTFOUND_DISPOSAL_AFTER"]
    frozen_clock.advance(timedelta(days=61))
    fire_due()
    assert "Decide_disposal" in open_elements(item)


def test_lost_report_expires_after_30_days_unless_renewed(estate, frozen_clock):
    lost = report(estate.owner, kind="lost", description="丢了一串钥匙，挂着小熊", category="keys")
    runtime.complete_task(task(lost, "Review").id, {"review_decision": "approve"}, estate.cs)
    assert lost.expires_at == lost.published_at + timedelta(days=30)
    frozen_clock.advance(timedelta(days=25))
    with pytest.raises(Forbidden):
        ops.renew_report(lost, estate.tenant)
    ops.renew_report(lost, estate.owner)
    assert lost.expires_at == clock.now() + timedelta(days=30)
    frozen_clock.advance(timedelta(days=10))
    assert fire_due() == 0  # the first period would have ended here
    assert listed(kind="lost") == [lost]
    frozen_clock.advance(timedelta(days=21))
    assert fire_due() == 1
    db.session.refresh(lost)
    assert lost.status == ItemStatus.EXPIRED and listed() == []
    with pytest.raises(Conflict):
        ops.renew_report(lost, estate.owner)


def test_lost_report_closed_by_its_reporter(estate):
    lost = report(estate.owner, kind="lost")
    runtime.complete_task(task(lost, "Review").id, {"review_decision": "approve"}, estate.cs)
    with pytest.raises(Conflict):  # lost reports are not claimed
        ops.submit_claim(lost, estate.tenant, "这是我的")
    ops.close_report(lost, estate.owner, "已找到")
    assert lost.status == ItemStatus.CLOSED
    assert db.session.get(ProcessInstance, lost.instance_id).status == "completed"


def test_withdraw_pending_report_and_staff_withdraw(estate):
    pending = report(estate.owner)
    with pytest.raises(Forbidden):
        ops.withdraw_item(pending, estate.tenant, "not mine")
    ops.withdraw_item(pending, estate.owner, "报错了")
    assert pending.status == ItemStatus.WITHDRAWN and pending.reject_reason == "报错了"
    listed_item = report(estate.guard)
    claim = ops.submit_claim(listed_item, estate.owner, "我的钱包是黑色的")
    ops.withdraw_item(listed_item, estate.cs, "重复登记")
    assert listed_item.status == ItemStatus.WITHDRAWN and claim.status == ClaimStatus.CLOSED


def test_report_validation(estate, frozen_clock):
    with pytest.raises(FieldErrors) as exc:
        ops.report_item(estate.owner, {"kind": "found", "category": "spaceship"})
    assert {"category", "description", "place", "occurred_at", "contact"} <= set(
        exc.value.fields)
    with pytest.raises(FieldErrors) as exc:
        report(estate.owner, occurred_at="2026-12-30T08:00:00+08:00")
    assert "occurred_at" in exc.value.fields
    with pytest.raises(FieldErrors) as exc:
        report(estate.owner, photos=["upload:999999"])
    assert "photos.0" in exc.value.fields


def test_search_filters(estate):
    wallet = report(estate.guard)
    keys = report(estate.guard, category="keys", description="一串钥匙 with a red tag",
                  place="地下车库B2", occurred_at="2026-11-20T10:00:00+08:00")
    assert listed(category="keys") == [keys]
    assert listed(place="车库") == [keys]
    assert listed(q="RED 钥匙") == [keys]
    assert listed(q="钱包") == [wallet]
    from datetime import UTC, datetime
    assert listed(date_from=datetime(2026, 11, 21, tzinfo=UTC)) == [wallet]
    assert listed(q="100%") == []


def test_items_are_project_scoped_and_numbers_unique_across_projects(estate, create_project,
                                                                     create_user):
    other = create_project()
    neighbour = create_user("guard", projects=[other])
    a = report(estate.guard)
    b = report(neighbour)
    assert a.number != b.number and b.project_id == other.id
    assert db.session.scalar(select(Claim).where(Claim.item_id == a.id)) is None
    assert {i.project_id for i in db.session.scalars(select(Item))} == {estate.project.id,
                                                                       other.id}
