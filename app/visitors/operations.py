"""Visitor operations: invitations, requests, batches and their decisions. They flush, never
commit; the request (or CLI command, or job) commits.

Invitations need nobody's approval, so they issue a pass at once without a process. A
request runs the ``visitor`` process (the host approves within two hours or it expires); a
batch runs ``visitor_batch`` (a supervisor approves). The domain rows mirror the outcome of the
process's approval task: normally the decision goes through :func:`decide_request` /
:func:`decide_batch`, and :func:`sync_request` / :func:`sync_batch` catch a task that was
completed elsewhere (a supervisor in the staff inbox) or cancelled by its timer.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from flask import current_app, has_request_context, url_for
from sqlalchemy import select

from app.accounts.models import User
from app.accounts.permissions import can
from app.audit.recorder import record_audit
from app.clock import clock
from app.engine import runtime
from app.engine.models import EventKind, HumanTask, InstanceEvent, TaskStatus
from app.engine.projections import open_task_rows
from app.errors import Conflict, DomainError, FieldErrors, Forbidden
from app.extensions import db
from app.notifications.recipients import normalise_phone
from app.projects.models import Building, Project, Unit
from app.visitors import hosts, passes
from app.visitors.models import PURPOSES, VisitBatch, VisitorPass, VisitRequest
from app.visitors.ratelimit import Limit, allow

MAX_PARTY = 50
MAX_BATCH = 500
MAX_DAYS_AHEAD = 60
MAX_WINDOW = timedelta(days=7)
REQUEST_FLOW = "visitor"
BATCH_FLOW = "visitor_batch"
#: Public requests: per client IP and per visitor phone, in an hour.
IP_LIMIT = Limit("visit-request-ip", 10, 3600)
PHONE_LIMIT = Limit("visit-request-phone", 3, 3600)


class RateLimited(DomainError):
    status = 429
    code = "rate_limited"


# --- input ------------------------------------------------------------------------------------


def project_zone(project_id: int) -> ZoneInfo:
    project = db.session.get(Project, project_id)
    return ZoneInfo(project.timezone if project is not None else "Asia/Shanghai")


def window_from_form(day: str, start: str, end: str, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """A visit window from a date and two times (local to the estate), in UTC."""
    errors: dict[str, str] = {}
    try:
        when = date.fromisoformat(day)
    except ValueError:
        errors["date"] = "use the form YYYY-MM-DD"
    times: dict[str, time] = {}
    for name, value in (("start", start), ("end", end)):
        try:
            times[name] = time.fromisoformat(value)
        except ValueError:
            errors[name] = "use the form HH:MM"
    if errors:
        raise FieldErrors(errors)
    begin = datetime.combine(when, times["start"], zone)
    finish = datetime.combine(when, times["end"], zone)
    if finish <= begin:
        finish += timedelta(days=1)  # 22:00–02:00 runs past midnight
    return begin, finish


def _aware(value: Any, field: str) -> datetime:
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value))
        except ValueError as exc:
            raise FieldErrors({field: "an ISO 8601 date and time with offset"}) from exc
    if moment.tzinfo is None:
        raise FieldErrors({field: "give the time zone offset (e.g. +08:00)"})
    return moment


def clean_visit(data: Mapping[str, Any], *, phone_required: bool = True) -> dict[str, Any]:
    """Validated visit fields: name, E.164 phone, plate, party size, purpose, window."""
    errors: dict[str, str] = {}
    name = str(data.get("visitor_name") or "").strip()
    if not name:
        errors["visitor_name"] = "required"
    elif len(name) > 100:
        errors["visitor_name"] = "at most 100 characters"
    phone = None
    raw_phone = str(data.get("visitor_phone") or "").strip()
    if raw_phone:
        try:
            phone = normalise_phone(raw_phone)
        except FieldErrors:
            errors["visitor_phone"] = "not a valid mobile number"
    elif phone_required:
        errors["visitor_phone"] = "required"
    plate = "".join(str(data.get("plate") or "").split()).upper() or None
    if plate and not 5 <= len(plate) <= 10:
        errors["plate"] = "a plate has 5 to 10 characters"
    try:
        raw_party = data.get("party_size")
        party = 1 if raw_party in (None, "") else int(raw_party)
    except (TypeError, ValueError):
        party = 0
    if not 1 <= party <= MAX_PARTY:
        errors["party_size"] = f"between 1 and {MAX_PARTY}"
    purpose = str(data.get("purpose") or "visit")
    if purpose not in PURPOSES:
        errors["purpose"] = f"one of {', '.join(PURPOSES)}"
    try:
        begin, finish = check_window(data.get("valid_from"), data.get("valid_until"))
    except FieldErrors as exc:
        errors.update(exc.fields)
        begin = finish = clock.now()
    if errors:
        raise FieldErrors(errors)
    return {"visitor_name": name, "visitor_phone": phone, "plate": plate, "party_size": party,
            "purpose": purpose, "valid_from": begin, "valid_until": finish}


def check_window(begin_raw: Any, finish_raw: Any) -> tuple[datetime, datetime]:
    """A window that ends after it starts, is not over, and is near enough and short enough."""
    if begin_raw in (None, "") or finish_raw in (None, ""):
        raise FieldErrors({k: "required" for k, v in (("valid_from", begin_raw),
                                                       ("valid_until", finish_raw))
                           if v in (None, "")})
    begin, finish = _aware(begin_raw, "valid_from"), _aware(finish_raw, "valid_until")
    now = clock.now()
    if finish <= begin:
        raise FieldErrors({"valid_until": "the end must be after the start"})
    if finish <= now:
        raise FieldErrors({"valid_until": "this time is already over"})
    if begin > now + timedelta(days=MAX_DAYS_AHEAD):
        raise FieldErrors({"valid_from": f"at most {MAX_DAYS_AHEAD} days ahead"})
    if finish - begin > MAX_WINDOW:
        raise FieldErrors({"valid_until": "a pass is valid for at most 7 days"})
    return begin, finish


def visit_time_text(begin: datetime, finish: datetime, zone: ZoneInfo) -> str:
    a, b = begin.astimezone(zone), finish.astimezone(zone)
    end = b.strftime("%H:%M") if a.date() == b.date() else b.strftime("%m-%d %H:%M")
    return f"{a:%Y-%m-%d %H:%M}–{end}"


def _today(project_id: int) -> date:
    return clock.now().astimezone(project_zone(project_id)).date()


def _hosted_unit(user: User, unit_id: Any) -> Unit:
    unit = db.session.scalar(select(Unit).where(Unit.id == _int(unit_id, "unit_id")))
    if unit is None or not hosts.hosts(user.id, unit.id, _today(unit.project_id)):
        raise FieldErrors({"unit_id": "you are not a resident of this unit"})
    return unit


def _int(value: Any, field: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise FieldErrors({field: "required"}) from exc


# --- passes -----------------------------------------------------------------------------------


def issue_pass(unit: Unit, visit: Mapping[str, Any], *, kind: str, host_user_id: int | None,
               max_entries: int | None = 1, request_id: int | None = None,
               batch_id: int | None = None) -> VisitorPass:
    """A new pass with a fresh unique short code, signed with the current key."""
    current_key, _keys = passes.signing_keys()
    code = passes.new_code()
    while db.session.scalar(select(VisitorPass.id).where(VisitorPass.code == code)
                            .execution_options(all_projects=True)) is not None:
        code = passes.new_code()
    visitor_pass = VisitorPass(
        project_id=unit.project_id, unit_id=unit.id, code=code, kind=kind,
        host_user_id=host_user_id, request_id=request_id, batch_id=batch_id,
        visitor_name=visit["visitor_name"], visitor_phone=visit.get("visitor_phone"),
        plate=visit.get("plate"), party_size=visit.get("party_size", 1),
        purpose=visit.get("purpose", "visit"), valid_from=visit["valid_from"],
        valid_until=visit["valid_until"], max_entries=max_entries, entries_used=0,
        key_id=current_key, created_at=clock.now(), created_by_id=host_user_id)
    db.session.add(visitor_pass)
    db.session.flush()
    return visitor_pass


def pass_token(visitor_pass: VisitorPass) -> str:
    """The signed token of a pass (what its QR code holds)."""
    return passes.sign(visitor_pass.id, visitor_pass.code, visitor_pass.key_id)


def invite_visitor(user: User, data: Mapping[str, Any]) -> VisitorPass:
    """A resident registers a visitor and gets a pass at once (single entry unless
    ``multi_entry``)."""
    unit = _hosted_unit(user, data.get("unit_id"))
    visit = clean_visit(data)
    multi = bool(data.get("multi_entry"))
    return issue_pass(unit, visit, kind="invitation", host_user_id=user.id,
                      max_entries=None if multi else 1)


def may_revoke(visitor_pass: VisitorPass, user: User) -> bool:
    return visitor_pass.host_user_id == user.id or can("visitors.manage", user)


def revoke_pass(visitor_pass: VisitorPass, user: User) -> VisitorPass:
    """Its host (or visitor management) withdraws a pass; the gate refuses it from now on."""
    if not may_revoke(visitor_pass, user):
        raise Forbidden("Only the host can revoke this pass.")
    if visitor_pass.revoked_at is not None:
        return visitor_pass
    visitor_pass.revoked_at = clock.now()
    visitor_pass.revoked_by_id = user.id
    record_audit("visitors.revoke_pass", record_type="visitor_pass", record_id=visitor_pass.id,
                 project_id=visitor_pass.project_id, after={"code": visitor_pass.code})
    db.session.flush()
    return visitor_pass


# --- requests from the public page ------------------------------------------------------------


def find_unit(project_code: str, building: str, number: str) -> Unit | None:
    """The unit a visitor names (call inside :func:`app.scoping.unscoped` on public pages)."""
    project = db.session.scalar(select(Project).where(Project.code == project_code,
                                                      Project.active.is_(True)))
    if project is None:
        return None
    return db.session.scalar(
        select(Unit).join(Building, Building.id == Unit.building_id)
        .where(Unit.project_id == project.id, Building.name == building.strip(),
               Unit.number == number.strip()))


def _external(endpoint: str, **values: Any) -> str:
    """An absolute link for messages; outside a request (jobs, tests) from PUBLIC_BASE_URL."""
    if has_request_context():
        return url_for(endpoint, _external=True, **values)
    base = urlsplit(current_app.config.get("PUBLIC_BASE_URL")
                    or os.environ.get("PUBLIC_BASE_URL") or "http://localhost")
    adapter = current_app.url_map.bind(base.netloc, url_scheme=base.scheme or "http")
    return adapter.build(endpoint, values, force_external=True)


def _numbered(row: VisitRequest | VisitBatch, prefix: str) -> None:
    row.number = f"{prefix}-{row.created_at.astimezone(project_zone(row.project_id)):%Y%m%d}" \
                 f"-{row.id:05d}"


def submit_request(unit: Unit, data: Mapping[str, Any], client_ip: str | None) -> VisitRequest:
    """A visitor asks the unit's hosts for a pass; starts the ``visitor`` process.

    Rate-limited per client IP and per phone (RateLimited, 429).
    """
    if not allow(IP_LIMIT, client_ip or "unknown"):
        raise RateLimited("Too many requests from this network. Please try again later.")
    visit = clean_visit(data)
    if not allow(PHONE_LIMIT, visit["visitor_phone"]):
        raise RateLimited("Too many requests for this phone number. Please try again later.")
    host_ids = hosts.host_user_ids(unit.id, _today(unit.project_id))
    if not host_ids:
        raise FieldErrors({"unit": "nobody at this unit can answer online requests; please "
                                   "call the service centre or ask your host to invite you"})
    note = str(data.get("note") or "").strip()[:300] or None
    now = clock.now()
    request = VisitRequest(project_id=unit.project_id, unit_id=unit.id,
                           number=f"tmp-{secrets.token_hex(8)}",
                           status_token=secrets.token_urlsafe(24), note=note, status="pending",
                           created_at=now, **visit)
    db.session.add(request)
    db.session.flush()
    _numbered(request, "FK")
    zone = project_zone(unit.project_id)
    instance = runtime.start_instance(REQUEST_FLOW, unit.project_id, {
        "request_number": request.number, "unit_label": unit.label,
        "visitor_name": request.visitor_name, "visitor_phone": request.visitor_phone,
        "party_size": request.party_size, "purpose": request.purpose,
        "visit_time": visit_time_text(request.valid_from, request.valid_until, zone),
        "host_user_ids": host_ids, "note": note or "",
        "status_link": _external("visitors_public.status", token=request.status_token),
        "review_link": _external("visitors.index"),
    }, business_key=request.number)
    request.instance_id = instance.id
    rows = open_task_rows(instance.id)
    request.task_row_id = rows[0].id if rows else None
    db.session.flush()
    return request


def _approval_row(row: VisitRequest | VisitBatch) -> HumanTask:
    task = row.task
    if task is None:
        raise Conflict("This request has no approval step.")
    return task


def _decide(row: Any, sync: Any, apply: Any, noun: str, user: User, decision: str,
            reason: str | None) -> None:
    """Complete the approval task of a pending request or batch and apply the decision."""
    sync(row)
    if row.status != "pending":
        raise Conflict(f"This {noun} is already {row.status}.")
    data = _decision_data(decision, reason)
    runtime.complete_task(_approval_row(row).id, data, user)
    apply(row, data["decision"], data.get("decline_reason"), user.id)


def decide_request(request: VisitRequest, user: User, decision: str,
                   reason: str | None = None) -> VisitRequest:
    """The host approves (a pass is issued) or declines; the process tells the visitor."""
    _decide(request, sync_request, _apply_request, "request", user, decision, reason)
    return request


def _decision_data(decision: str, reason: str | None) -> dict[str, Any]:
    if decision not in ("approve", "decline"):
        raise FieldErrors({"decision": "approve or decline"})
    data: dict[str, Any] = {"decision": decision}
    if reason and reason.strip():
        data["decline_reason"] = reason.strip()[:300]
    return data


def _apply_request(request: VisitRequest, decision: str, reason: str | None,
                   user_id: int | None) -> None:
    request.decided_at = clock.now()
    request.decided_by_id = user_id
    if decision == "approve":
        request.status = "approved"
        visit = {k: getattr(request, k) for k in ("visitor_name", "visitor_phone", "plate",
                                                  "party_size", "purpose", "valid_from",
                                                  "valid_until")}
        issue_pass(request.unit, visit, kind="request", host_user_id=user_id,
                   request_id=request.id)
    else:
        request.status = "declined"
        request.decline_reason = reason
    db.session.flush()


def _outcome(task: HumanTask) -> tuple[str, str | None, int | None] | None:
    """(decision, reason, user id) of an approval task that is no longer open."""
    if task.status == TaskStatus.OPEN:
        return None
    if task.status == TaskStatus.CANCELLED:
        return ("expired", None, None)
    event = db.session.scalar(
        select(InstanceEvent).where(InstanceEvent.task_row_id == task.id,
                                    InstanceEvent.kind == EventKind.COMPLETED.value)
        .order_by(InstanceEvent.id.desc()).limit(1))
    changes = (event.data or {}) if event is not None else {}
    decision = (changes.get("decision") or {}).get("to") or "decline"
    reason = (changes.get("decline_reason") or {}).get("to")
    return (decision, reason, task.completed_by_id)


def sync_request(request: VisitRequest) -> VisitRequest:
    """Bring a pending request in line with its approval task (timer, staff inbox)."""
    if request.status != "pending" or request.task is None:
        return request
    outcome = _outcome(request.task)
    if outcome is None:
        return request
    decision, reason, user_id = outcome
    if decision == "expired":
        instance = request.task.instance
        request.status = "withdrawn" if instance.status == "cancelled" else "expired"
        db.session.flush()
    else:
        _apply_request(request, decision, reason, user_id)
    return request


def withdraw_request(request: VisitRequest) -> VisitRequest:
    """The visitor takes a pending request back (from their status page)."""
    sync_request(request)
    if request.status != "pending":
        raise Conflict(f"This request is already {request.status}.")
    if request.instance_id is not None:
        runtime.cancel_instance(request.instance_id, "withdrawn by the visitor")
    request.status = "withdrawn"
    request.decided_at = clock.now()
    db.session.flush()
    return request


# --- batches ----------------------------------------------------------------------------------


def request_batch(user: User, data: Mapping[str, Any]) -> VisitBatch:
    """A business tenant asks for ``count`` passes for a group; starts ``visitor_batch``."""
    unit = _hosted_unit(user, data.get("unit_id"))
    errors: dict[str, str] = {}
    company = str(data.get("company") or "").strip()
    if not company:
        errors["company"] = "required"
    try:
        count = int(data.get("count") or 0)
    except (TypeError, ValueError):
        count = 0
    if not 1 <= count <= MAX_BATCH:
        errors["count"] = f"between 1 and {MAX_BATCH}"
    purpose = str(data.get("purpose") or "business")
    if purpose not in PURPOSES:
        errors["purpose"] = f"one of {', '.join(PURPOSES)}"
    try:
        begin, finish = check_window(data.get("valid_from"), data.get("valid_until"))
    except FieldErrors as exc:
        errors.update(exc.fields)
    if errors:
        raise FieldErrors(errors)
    now = clock.now()
    batch = VisitBatch(project_id=unit.project_id, unit_id=unit.id, requested_by_id=user.id,
                       number=f"tmp-{secrets.token_hex(8)}", company=company[:200], count=count,
                       purpose=purpose, note=str(data.get("note") or "").strip()[:300] or None,
                       valid_from=begin, valid_until=finish,
                       multi_entry=bool(data.get("multi_entry")), status="pending",
                       created_at=now)
    db.session.add(batch)
    db.session.flush()
    _numbered(batch, "PL")
    instance = runtime.start_instance(BATCH_FLOW, unit.project_id, {
        "batch_number": batch.number, "company": batch.company, "count": count,
        "unit_label": unit.label, "requester_id": user.id, "note": batch.note or "",
        "visit_time": visit_time_text(begin, finish, project_zone(unit.project_id)),
        "batch_link": _external("visitors.batch", batch_id=batch.id),
    }, business_key=batch.number)
    batch.instance_id = instance.id
    rows = open_task_rows(instance.id)
    batch.task_row_id = rows[0].id if rows else None
    db.session.flush()
    return batch


def decide_batch(batch: VisitBatch, user: User, decision: str,
                 reason: str | None = None) -> VisitBatch:
    """A supervisor approves (the passes are generated) or declines a batch."""
    _decide(batch, sync_batch, _apply_batch, "batch", user, decision, reason)
    return batch


def _apply_batch(batch: VisitBatch, decision: str, reason: str | None,
                 user_id: int | None) -> None:
    batch.decided_at = clock.now()
    batch.decided_by_id = user_id
    if decision != "approve":
        batch.status = "declined"
        batch.decline_reason = reason
        db.session.flush()
        return
    batch.status = "approved"
    for n in range(1, batch.count + 1):
        visit = {"visitor_name": f"{batch.company} #{n}", "party_size": 1,
                 "purpose": batch.purpose, "valid_from": batch.valid_from,
                 "valid_until": batch.valid_until}
        issue_pass(batch.unit, visit, kind="batch", host_user_id=batch.requested_by_id,
                   max_entries=None if batch.multi_entry else 1, batch_id=batch.id)
    db.session.flush()


def sync_batch(batch: VisitBatch) -> VisitBatch:
    """Bring a pending batch in line with its review task (completed in the staff inbox)."""
    if batch.status != "pending" or batch.task is None:
        return batch
    outcome = _outcome(batch.task)
    if outcome is None:
        return batch
    decision, reason, user_id = outcome
    if decision == "expired":
        batch.status = "cancelled"
        db.session.flush()
    else:
        _apply_batch(batch, decision, reason, user_id)
    return batch
