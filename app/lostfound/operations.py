"""Lost-and-found operations: report, log, claim, renew, close, hand over, dispose.

Each one changes rows and the item's workflow (through :mod:`app.engine`) and flushes; the
request or job around it commits. Steps that staff take on the workflow's own tasks (review,
verify, disposal) can also be completed from the inbox: :mod:`app.lostfound.sync` mirrors
their outcome onto the item either way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, func, or_, select

from app.accounts.models import User
from app.accounts.permissions import can
from app.clock import clock
from app.engine import events, runtime
from app.engine.deployments import latest_loaded_deployment
from app.engine.locking import locked_instance
from app.engine.models import HumanTask, TaskStatus
from app.engine.projections import open_task_rows
from app.engine.timers import add_duration, parse_datetime
from app.errors import Conflict, FieldErrors, Forbidden, NotFound
from app.extensions import db
from app.lostfound.idnumbers import mask_id_number
from app.lostfound.models import Claim, ClaimStatus, Item, ItemStatus
from app.lostfound.rules import publish, setting
from app.uploads.models import Upload
from app.uploads.operations import attach_upload
from app.uploads.refs import parse_upload_ref

FLOW = "lost_found"
REPORT_FORM = "lost_found/report.json"
NUMBER_PREFIX = "SW"
LOCAL_TZ = ZoneInfo("Asia/Shanghai")
MESSAGE_CLAIM = "lost_found_claim"
MESSAGE_RENEW = "lost_found_renew"
MESSAGE_CLOSE = "lost_found_close"


# --- who may see and do what ------------------------------------------------------------------


def is_staff(user: Any) -> bool:
    return can("lostfound.manage", user) or can("lostfound.log", user)


def may_view(item: Item, user: Any) -> bool:
    """Published items: everyone in the project; others: their reporter and staff."""
    if item.status == ItemStatus.PUBLISHED or is_staff(user):
        return True
    return item.reporter_id is not None and item.reporter_id == getattr(user, "id", None)


def get_item(item_id: int, user: Any) -> Item:
    """An item the user may see (project scope applies) or NotFound."""
    item = db.session.get(Item, item_id)
    if item is None or not may_view(item, user):
        raise NotFound(f"no lost-and-found item {item_id}")
    return item


def get_claim(claim_id: int) -> Claim:
    claim = db.session.get(Claim, claim_id)
    if claim is None:
        raise NotFound(f"no claim {claim_id}")
    return claim


# --- reporting ------------------------------------------------------------------------------


def report_schema() -> dict[str, Any]:
    """The report form as deployed with the lost_found flow (process admins edit it)."""
    schema = latest_loaded_deployment(FLOW).form(REPORT_FORM)
    if schema is None:
        raise NotFound(f"forms/{REPORT_FORM} is not deployed")
    return schema


def _next_number(now: datetime) -> str:
    prefix = f"{NUMBER_PREFIX}-{now.astimezone(LOCAL_TZ):%Y%m%d}-"
    last = db.session.scalar(
        select(func.max(Item.number)).where(Item.number.startswith(prefix))
        .execution_options(all_projects=True))
    sequence = int(last.rsplit("-", 1)[1]) + 1 if last else 1
    return f"{prefix}{sequence:04d}"


def _check_photos(refs: list[str], project_id: int, user: User) -> None:
    for index, ref in enumerate(refs):
        upload_id = parse_upload_ref(ref)
        upload = db.session.get(Upload, upload_id) if upload_id else None
        mine = upload is not None and (upload.uploaded_by_id == user.id or is_staff(user))
        if upload is None or upload.project_id != project_id or not mine:
            raise FieldErrors({f"photos.{index}": "no such upload"})


def _project_for(user: User, project_id: int | None) -> int:
    if project_id is None:
        if len(user.project_ids) != 1:
            raise FieldErrors({"project_id": "required"})
        return next(iter(user.project_ids))
    if not (user.sees_all_projects or project_id in user.project_ids):
        raise FieldErrors({"project_id": "no such project"})
    return project_id


def _process_data(item: Item, needs_review: bool) -> dict[str, Any]:
    return {
        "item_id": item.id, "item_no": item.number, "kind": item.kind,
        "needs_review": needs_review, "requester_id": item.reporter_id,
        "reminder_after": setting("LOSTFOUND_REMINDER_AFTER"),
        "disposal_after": setting("LOSTFOUND_DISPOSAL_AFTER"),
        "lost_expiry": setting("LOSTFOUND_LOST_EXPIRY"),
    }


def report_item(user: User, data: Mapping[str, Any], project_id: int | None = None) -> Item:
    """A resident (or technician) reports a lost or found item; it waits for review.

    Staff (permission ``lostfound.log``) logging an item handed in at the front desk use the
    same operation: their items are published at once.
    """
    schema = report_schema()
    errors = runtime.schema_errors(schema, dict(data))
    if errors:
        raise FieldErrors(errors)
    project = _project_for(user, project_id)
    photos = list(data.get("photos") or [])
    _check_photos(photos, project, user)
    by_staff = can("lostfound.log", user)
    now = clock.now()
    occurred = parse_datetime(str(data["occurred_at"]))
    if occurred > now:
        raise FieldErrors({"occurred_at": "cannot be in the future"})
    item = Item(
        project_id=project, number=_next_number(now), kind=data["kind"],
        category=data["category"], description=str(data["description"]).strip(),
        place=str(data["place"]).strip(), occurred_at=occurred, photos=photos,
        contact=str(data.get("contact") or "").strip() or None,
        reporter_id=user.id, logged_by_staff=by_staff, created_at=now,
        status=ItemStatus.PENDING_REVIEW,
    )
    db.session.add(item)
    db.session.flush()
    if by_staff:
        publish(item)
    instance = runtime.start_instance(FLOW, project, _process_data(item, not by_staff),
                                      business_key=item.number)
    item.instance_id = instance.id
    for upload_id in item.photo_ids:  # photos of a published item are shown to residents
        upload = db.session.get(Upload, upload_id)
        if upload is not None:
            attach_upload(upload, instance.id, None)
    db.session.flush()
    return item


# --- messages into the item's workflow --------------------------------------------------------


def _send(item: Item, name: str, payload: Mapping[str, Any] | None = None) -> None:
    if item.instance_id is None:
        raise Conflict("This item has no running process.")
    with locked_instance(item.instance_id) as locked:
        assert locked.workflow is not None
        body = {"item_no": item.number, **dict(payload or {})}
        if not events.send_message(locked.workflow, name, body):
            raise Conflict("This item does not accept that now; reload the page.")


def submit_claim(item: Item, user: User, details: str, name: str | None = None,
                 phone: str | None = None) -> Claim:
    """Someone says a published found item is theirs; a staff task verifies the details.

    Residents claim for themselves; staff may register a claim for a walk-in (``name`` and
    ``phone`` required then).
    """
    if item.kind != "found" or item.status != ItemStatus.PUBLISHED:
        raise Conflict("Only published found items can be claimed.")
    details = (details or "").strip()
    errors = {}
    if len(details) < 4:
        errors["details"] = "describe something only the owner would know"
    staff = is_staff(user)
    claimant_name = (name or "").strip() if staff and name else user.display_name
    if staff and not (name or "").strip():
        errors["name"] = "required"
    if errors:
        raise FieldErrors(errors)
    if not staff and db.session.scalar(select(Claim.id).where(
            Claim.item_id == item.id, Claim.claimant_id == user.id,
            Claim.status.in_((ClaimStatus.VERIFYING, ClaimStatus.VERIFIED)))):
        raise Conflict("You already claimed this item; staff are checking it.")
    claim = Claim(project_id=item.project_id, item_id=item.id,
                  claimant_id=None if staff else user.id, claimant_name=claimant_name[:100],
                  claimant_phone=(phone or "").strip()[:40] or None, details=details[:2000],
                  status=ClaimStatus.VERIFYING, created_at=clock.now())
    db.session.add(claim)
    db.session.flush()
    before = {row.id for row in open_task_rows(item.instance_id or 0)}
    _send(item, MESSAGE_CLAIM, {"claim_id": claim.id})
    new = [row for row in open_task_rows(item.instance_id or 0)
           if row.id not in before and row.element_id == "Verify_claim"]
    if new:
        claim.verify_task_id = new[0].id
    db.session.flush()
    return claim


def renew_report(item: Item, user: User) -> Item:
    """The reporter keeps a lost report listed for another period."""
    _require_reporter(item, user)
    if item.kind != "lost" or item.status != ItemStatus.PUBLISHED:
        raise Conflict("Only listed lost reports can be renewed.")
    _send(item, MESSAGE_RENEW)
    item.expires_at = add_duration(clock.now(), setting("LOSTFOUND_LOST_EXPIRY"))
    db.session.flush()
    return item


def close_report(item: Item, user: User, reason: str = "") -> Item:
    """A lost report ends: the reporter has the item back (or staff close it)."""
    if not is_staff(user):
        _require_reporter(item, user)
    if item.kind != "lost" or item.status != ItemStatus.PUBLISHED:
        raise Conflict("Only listed lost reports can be closed.")
    item.status = ItemStatus.CLOSED
    item.closed_at = clock.now()
    item.reject_reason = (reason or "").strip()[:500] or None
    _send(item, MESSAGE_CLOSE, {"reason": item.reject_reason})
    db.session.flush()
    return item


def withdraw_item(item: Item, user: User, reason: str) -> Item:
    """Take an item out of the process (a duplicate, a mistake); staff, or the reporter
    while it waits for review."""
    own_pending = item.reporter_id == user.id and item.status == ItemStatus.PENDING_REVIEW
    if not (can("lostfound.manage", user) or own_pending):
        raise Forbidden("You may not withdraw this item.")
    if item.status in ItemStatus.FINAL or item.instance_id is None:
        raise Conflict("This item is already closed.")
    runtime.cancel_instance(item.instance_id, reason)  # sync marks the item withdrawn
    return item


def _require_reporter(item: Item, user: User) -> None:
    if item.reporter_id != user.id:
        raise Forbidden("Only the person who reported this item can do that.")


# --- staff tasks from the item page ------------------------------------------------------------


def open_tasks(item: Item) -> list[HumanTask]:
    return open_task_rows(item.instance_id) if item.instance_id else []


def item_task(item: Item, task_row_id: int) -> HumanTask:
    task = runtime.get_task_row(task_row_id)
    if task.instance_id != item.instance_id or task.status != TaskStatus.OPEN:
        raise NotFound(f"no open task {task_row_id} on this item")
    return task


def complete_item_task(item: Item, task_row_id: int, data: Mapping[str, Any],
                       user: User) -> HumanTask:
    """Complete one of the item's workflow tasks (review, verify, reminder, disposal)."""
    task = item_task(item, task_row_id)
    if task.element_id == "Hand_over":
        raise Conflict("Record the hand-over with the receiver's ID number.")
    return runtime.complete_task(task.id, dict(data), user)


@dataclass(frozen=True)
class HandOver:
    receiver_name: str
    id_number: str  # full number as typed; only its masked form leaves this module
    handed_over_at: str | None = None
    note: str | None = None


def record_hand_over(item: Item, hand_over: HandOver, user: User) -> Claim:
    """Staff hand the item to the verified claimant: ID checked, kept masked; the item is
    returned and the process ends."""
    task = next((t for t in open_tasks(item) if t.element_id == "Hand_over"), None)
    if task is None:
        raise Conflict("No claim of this item is waiting for hand-over.")
    name = (hand_over.receiver_name or "").strip()
    errors = {} if name else {"receiver_name": "required"}
    try:
        masked = mask_id_number(hand_over.id_number)
    except FieldErrors as exc:
        errors.update(exc.fields)
        masked = ""
    when = clock.now()
    if hand_over.handed_over_at:
        try:
            when = parse_datetime(hand_over.handed_over_at)
        except ValueError:
            errors["handed_over_at"] = "not a date and time"
    if when > clock.now():
        errors["handed_over_at"] = "cannot be in the future"
    if errors:
        raise FieldErrors(errors)
    data = {"receiver_name": name[:100], "receiver_id_masked": masked,
            "handed_over_at": when.isoformat()}
    if hand_over.note:
        data["handover_note"] = hand_over.note.strip()[:500]
    runtime.complete_task(task.id, data, user)
    claim = verified_claim(item)
    assert claim is not None  # sync recorded the hand-over on it
    return claim


def verified_claim(item: Item) -> Claim | None:
    return db.session.scalar(select(Claim).where(
        Claim.item_id == item.id,
        Claim.status.in_((ClaimStatus.VERIFIED, ClaimStatus.HANDED_OVER))).order_by(Claim.id))


# --- lists and search ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ItemFilter:
    kind: str = ""
    category: str = ""
    place: str = ""
    q: str = ""
    date_from: datetime | None = None
    date_to: datetime | None = None
    status: str = ItemStatus.PUBLISHED  # "" = any (staff)


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def search_query(flt: ItemFilter) -> Select[tuple[Item]]:
    """Items matching the filter, newest first; lost reports past their expiry are hidden
    from the public list even before the expiry timer fired."""
    stmt = select(Item)
    if flt.status:
        stmt = stmt.where(Item.status == flt.status)
        if flt.status == ItemStatus.PUBLISHED:
            stmt = stmt.where(or_(Item.expires_at.is_(None), Item.expires_at > clock.now()))
    if flt.kind:
        stmt = stmt.where(Item.kind == flt.kind)
    if flt.category:
        stmt = stmt.where(Item.category == flt.category)
    if flt.place:
        stmt = stmt.where(Item.place.ilike(_like(flt.place), escape="\\"))
    for word in flt.q.split():
        pattern = _like(word)
        stmt = stmt.where(or_(Item.description.ilike(pattern, escape="\\"),
                              Item.place.ilike(pattern, escape="\\"),
                              Item.number.ilike(pattern, escape="\\")))
    if flt.date_from is not None:
        stmt = stmt.where(Item.occurred_at >= flt.date_from)
    if flt.date_to is not None:
        stmt = stmt.where(Item.occurred_at < flt.date_to)
    return stmt.order_by(Item.occurred_at.desc(), Item.id.desc())


def my_items(user: User) -> list[Item]:
    return list(db.session.scalars(
        select(Item).where(Item.reporter_id == user.id).order_by(Item.created_at.desc())))


def my_claims(user: User) -> list[Claim]:
    return list(db.session.scalars(
        select(Claim).where(Claim.claimant_id == user.id).order_by(Claim.created_at.desc())))
