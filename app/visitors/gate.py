"""The gate: check a scanned token or a typed short code, record entries and exits.

Every check leaves a :class:`GateEvent` (an entry, an exit or a refusal with its reason), and
the answer says in plain words why a pass is refused. A single-use pass is consumed with one
conditional ``UPDATE``, so two guards scanning the same pass at once let one person in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import has_request_context
from flask_babel import gettext
from sqlalchemy import and_, case, func, or_, select, update

from app.accounts.models import User
from app.clock import clock
from app.extensions import db
from app.scoping import in_scope
from app.visitors import passes
from app.visitors.models import GateEvent, VisitorPass
from app.visitors.operations import project_zone

#: How far back "who is inside" looks for an entry without an exit.
INSIDE_LOOKBACK = timedelta(days=2)


def _(text: str, **values: Any) -> str:
    """Translated in a request (the guard's language); plain English in jobs and tests."""
    if has_request_context():
        return gettext(text, **values)
    return text % values if values else text


def _reason_text(reason: str, p: VisitorPass | None, zone: ZoneInfo) -> str:
    def at(moment: datetime | None) -> str:
        return moment.astimezone(zone).strftime("%m-%d %H:%M") if moment else ""

    texts = {
        "unreadable": _("This is not a visitor pass code. Check the code and type it again."),
        "unknown_key": _("This pass was not issued by this estate's system (unknown key). "
                         "Do not let the visitor in."),
        "forged": _("This pass is forged or was altered: its signature does not match. "
                    "Do not let the visitor in."),
        "not_found": _("No pass has this code. Check the code; if it is right, the pass "
                       "does not exist."),
        "other_estate": _("This pass is for another estate."),
        "revoked": _("The host cancelled this pass on %(when)s.",
                     when=at(p.revoked_at if p else None)),
        "not_yet_valid": _("This pass is not valid yet: it starts at %(when)s.",
                           when=at(p.valid_from if p else None)),
        "expired": _("This pass expired at %(when)s.", when=at(p.valid_until if p else None)),
        "used": _("This single-entry pass was already used (%(when)s).",
                  when=at(_last_entry_at(p.id) if p else None)),
        "not_inside": _("No entry is recorded for this pass, so there is no exit to record."),
        "ok_entry": _("Valid. Let the visitor in."),
        "ok_exit": _("Exit recorded. Goodbye."),
    }
    return texts[reason]


@dataclass
class GateResult:
    ok: bool
    reason: str
    message: str
    direction: str
    visitor_pass: VisitorPass | None = None
    details: dict[str, Any] = field(default_factory=dict)


def _last_entry_at(pass_id: int) -> datetime | None:
    return db.session.scalar(select(func.max(GateEvent.at)).where(
        GateEvent.pass_id == pass_id, GateEvent.kind == "entry"))


def _find(text: str) -> tuple[VisitorPass | None, str | None]:
    """(pass, refusal reason) for a scanned token or a typed code, across every project."""
    unscoped = {"all_projects": True}
    if passes.looks_like_token(text):
        try:
            content = passes.verify(text)
        except passes.TokenInvalid as exc:
            return None, exc.reason
        found = db.session.scalar(select(VisitorPass).where(VisitorPass.id == content.pass_id)
                                  .execution_options(**unscoped))
        if found is None or found.code != content.code:
            return None, "forged"  # a valid signature over a pass that is not this one
        return found, None
    code = passes.normalise_code(text)
    if len(code) != passes.CODE_LENGTH or any(ch not in passes.ALPHABET for ch in code):
        return None, "unreadable"
    found = db.session.scalar(select(VisitorPass).where(VisitorPass.code == code)
                              .execution_options(**unscoped))
    return (found, None) if found is not None else (None, "not_found")


def _refusal(visitor_pass: VisitorPass, now: datetime) -> str | None:
    if visitor_pass.revoked_at is not None:
        return "revoked"
    if visitor_pass.purged_at is not None or now > visitor_pass.valid_until:
        return "expired"
    if now < visitor_pass.valid_from:
        return "not_yet_valid"
    if visitor_pass.max_entries is not None and \
            visitor_pass.entries_used >= visitor_pass.max_entries:
        return "used"
    return None


def _consume(visitor_pass: VisitorPass) -> bool:
    """Count one entry unless the pass is used up meanwhile (atomic)."""
    result = db.session.execute(
        update(VisitorPass)
        .where(VisitorPass.id == visitor_pass.id, VisitorPass.revoked_at.is_(None),
               or_(VisitorPass.max_entries.is_(None),
                   VisitorPass.entries_used < VisitorPass.max_entries))
        .values(entries_used=VisitorPass.entries_used + 1)
        .execution_options(synchronize_session=False))
    db.session.refresh(visitor_pass)
    return bool(result.rowcount)  # type: ignore[attr-defined]


def _inside(pass_id: int) -> bool:
    counts = db.session.execute(select(
        func.sum(case((GateEvent.kind == "entry", 1), else_=0)),
        func.sum(case((GateEvent.kind == "exit", 1), else_=0)),
    ).where(GateEvent.pass_id == pass_id)).one()
    return (counts[0] or 0) > (counts[1] or 0)


def check_pass(text: str, project_id: int, guard: User, direction: str = "entry",
               gate: str | None = None) -> GateResult:
    """Check a pass at the gate of ``project_id`` and record the entry, exit or refusal."""
    now = clock.now()
    zone = project_zone(project_id)
    direction = "exit" if direction == "exit" else "entry"
    visitor_pass, reason = _find((text or "").strip())
    if visitor_pass is not None and (visitor_pass.project_id != project_id
                                     or not in_scope(visitor_pass.project_id)):
        visitor_pass, reason = None, "other_estate"
    if visitor_pass is not None and reason is None:
        if direction == "exit":
            reason = None if _inside(visitor_pass.id) else "not_inside"
        else:
            reason = _refusal(visitor_pass, now)
            if reason is None and not _consume(visitor_pass):
                reason = "used"  # another gate consumed it a moment ago
    event = GateEvent(project_id=project_id, pass_id=visitor_pass.id if visitor_pass else None,
                      kind=direction if reason is None else "refused", reason=reason or "ok",
                      at=now, guard_user_id=guard.id, gate=(gate or None) and gate[:64])
    db.session.add(event)
    db.session.flush()
    ok = reason is None
    message = _reason_text(f"ok_{direction}" if ok else str(reason), visitor_pass, zone)
    return GateResult(ok, reason or "ok", message, direction, visitor_pass,
                      pass_details(visitor_pass, zone) if visitor_pass is not None else {})


def pass_details(visitor_pass: VisitorPass, zone: ZoneInfo) -> dict[str, Any]:
    """What a guard sees of a pass: masked phone, times in the estate's zone."""
    return {
        "code": passes.display_code(visitor_pass.code),
        "visitor_name": visitor_pass.visitor_name,
        "visitor_phone": mask_phone(visitor_pass.visitor_phone),
        "plate": visitor_pass.plate,
        "party_size": visitor_pass.party_size,
        "purpose": visitor_pass.purpose,
        "unit": visitor_pass.unit.label,
        "valid_from": visitor_pass.valid_from.astimezone(zone).isoformat(),
        "valid_until": visitor_pass.valid_until.astimezone(zone).isoformat(),
        "entries_used": visitor_pass.entries_used,
        "max_entries": visitor_pass.max_entries,
    }


def mask_phone(phone: str | None) -> str | None:
    """``+8613812345678`` → ``138****5678``."""
    if not phone:
        return phone
    digits = phone[3:] if phone.startswith("+86") else phone.lstrip("+")
    if len(digits) < 7:
        return "*" * len(digits)
    return f"{digits[:3]}****{digits[-4:]}"


def inside_now(project_id: int) -> list[VisitorPass]:
    """Passes with more entries than exits in the last two days (who is still inside)."""
    since = clock.now() - INSIDE_LOOKBACK
    entries = func.sum(case((GateEvent.kind == "entry", 1), else_=0))
    exits = func.sum(case((GateEvent.kind == "exit", 1), else_=0))
    ids = select(GateEvent.pass_id).where(
        and_(GateEvent.project_id == project_id, GateEvent.at >= since,
             GateEvent.pass_id.is_not(None), GateEvent.kind.in_(("entry", "exit")))
    ).group_by(GateEvent.pass_id).having(entries > exits)
    return list(db.session.scalars(select(VisitorPass).where(VisitorPass.id.in_(ids))
                                   .order_by(VisitorPass.valid_until)))
