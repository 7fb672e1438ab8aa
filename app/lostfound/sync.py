"""Keep items and claims in step with their workflow, whoever moved it.

Staff may complete the flow's tasks from the inbox, the API or the item page, and timers fire
in the scheduler; all of these write :class:`~app.engine.models.InstanceEvent` history rows.
A listener (:func:`app.engine.history.on_new_events`) reads the new history rows of
``lost_found`` instances before the flush that writes them and applies
their outcome (the submitted data is in the event's data diff) to the item and its claims, in
the same flush, so item and workflow never disagree. The engine knows nothing of this.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.clock import clock
from app.engine.history import NewEvent, on_new_events
from app.engine.models import EventKind, HumanTask, ProcessInstance
from app.engine.timers import parse_datetime
from app.lostfound.models import Claim, ClaimStatus, Item, ItemStatus
from app.lostfound.rules import publish

FLOW = "lost_found"
#: Completions first, then what they caused (tasks cancelled or created, the end).
ORDER = {EventKind.COMPLETED.value: 0, EventKind.TASK_CANCELLED.value: 1,
         EventKind.TASK_CREATED.value: 2, EventKind.FINISHED.value: 3,
         EventKind.CANCELLED.value: 3}


def _to(data: dict[str, Any] | None, key: str) -> Any:
    """The value a task completion set (history stores {key: {"from", "to"}})."""
    change = (data or {}).get(key)
    return change.get("to") if isinstance(change, dict) else None


def _text(value: Any, length: int) -> str | None:
    text = str(value).strip() if value not in (None, "") else ""
    return text[:length] or None


def _item(session: Session, instance_id: int) -> Item | None:
    return session.scalar(select(Item).where(Item.instance_id == instance_id)
                          .execution_options(all_projects=True))


def _claim_of_task(session: Session, task_row_id: int | None) -> Claim | None:
    if task_row_id is None:
        return None
    return session.scalar(select(Claim).where(Claim.verify_task_id == task_row_id)
                          .execution_options(all_projects=True))


def _verified(session: Session, item: Item) -> Claim | None:
    return session.scalar(select(Claim).where(Claim.item_id == item.id,
                                              Claim.status == ClaimStatus.VERIFIED)
                          .order_by(Claim.decided_at.desc(), Claim.id.desc())
                          .execution_options(all_projects=True))


def _completed_by(session: Session, ev: NewEvent) -> int | None:
    """Who completed the task (the history's actor is the system outside a request)."""
    task = session.get(HumanTask, ev.task_row_id) if ev.task_row_id else None
    return task.completed_by_id if task is not None and task.completed_by_id else ev.user_id


def _completed(session: Session, item: Item, ev: NewEvent) -> None:
    data, now = ev.data, ev.at or clock.now()
    if ev.element_id == "Review":
        if _to(data, "review_decision") == "reject":
            item.status = ItemStatus.REJECTED
            item.reject_reason = _text(_to(data, "reject_reason"), 500)
            item.closed_at = now
            return
        for key, length in (("category", 16), ("place", 200), ("description", 1000)):
            value = _text(_to(data, key), length)
            if value:
                setattr(item, key, value)
        publish(item, now)
    elif ev.element_id == "Verify_claim":
        claim = _claim_of_task(session, ev.task_row_id)
        if claim is None:
            return
        verified = _to(data, "claim_decision") == "verified"
        claim.status = ClaimStatus.VERIFIED if verified else ClaimStatus.DECLINED
        claim.decision_note = _text(_to(data, "claim_note"), 500)
        claim.decided_by_id = _completed_by(session, ev)
        claim.decided_at = now
    elif ev.element_id == "Hand_over":
        claim = _verified(session, item)
        if claim is not None:
            claim.status = ClaimStatus.HANDED_OVER
            claim.received_by_name = _text(_to(data, "receiver_name"), 100)
            claim.receiver_id_masked = _text(_to(data, "receiver_id_masked"), 32)
            when = _to(data, "handed_over_at")
            claim.handed_over_at = parse_datetime(when) if when else now
            claim.handed_over_by_id = _completed_by(session, ev)
            claim.handover_note = _text(_to(data, "handover_note"), 500)
        item.status = ItemStatus.RETURNED
        item.closed_at = now
    elif ev.element_id == "Decide_disposal":
        item.status = ItemStatus.DISPOSED
        item.disposal_action = _text(_to(data, "disposal_action"), 16)
        item.disposal_to = _text(_to(data, "disposal_to"), 200)
        item.disposal_note = _text(_to(data, "disposal_note"), 500)
        item.closed_at = now


def _apply(session: Session, item: Item, ev: NewEvent) -> None:
    if ev.kind == EventKind.COMPLETED:
        _completed(session, item, ev)
    elif ev.kind == EventKind.TASK_CANCELLED and ev.element_id == "Verify_claim":
        claim = _claim_of_task(session, ev.task_row_id)
        if claim is not None and claim.status == ClaimStatus.VERIFYING:
            claim.status = ClaimStatus.CLOSED
    elif ev.kind == EventKind.TASK_CREATED and ev.element_id == "Decide_disposal":
        item.status = ItemStatus.AWAITING_DISPOSAL
    elif ev.kind == EventKind.FINISHED:
        if item.status == ItemStatus.PUBLISHED and item.kind == "lost":
            item.status = ItemStatus.EXPIRED  # the only unrecorded way a lost report ends
            item.closed_at = ev.at or clock.now()
    elif ev.kind == EventKind.CANCELLED and item.status not in ItemStatus.FINAL:
        item.status = ItemStatus.WITHDRAWN
        item.reject_reason = _text((ev.data or {}).get("reason"), 500)
        item.closed_at = ev.at or clock.now()
        for claim in item.claims:
            if claim.status in (ClaimStatus.VERIFYING, ClaimStatus.VERIFIED):
                claim.status = ClaimStatus.CLOSED


@on_new_events
def _sync_items(session: Session, events: list[NewEvent]) -> None:
    for ev in sorted(events, key=lambda e: ORDER.get(e.kind, 9)):
        if ev.kind not in ORDER:
            continue
        instance = session.get(ProcessInstance, ev.instance_id)
        if instance is None or instance.flow != FLOW:
            continue
        item = _item(session, ev.instance_id)
        if item is not None:
            _apply(session, item, ev)
