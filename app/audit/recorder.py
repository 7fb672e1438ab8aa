"""Writes audit events in the same transaction as the change they describe.

Models opt in by inheriting :class:`Audited`; every insert, update and delete of such a row is
recorded with before/after values when the session flushes. Actions that change no row (a
login, the reveal of a protected value) call :func:`record_audit`.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import event, insert, inspect
from sqlalchemy.orm import Session

from app.audit.actor import current_actor
from app.audit.models import AuditEvent
from app.clock import clock
from app.extensions import db


class Audited:
    """Mixin: changes to rows of this model are written to the audit trail."""

    #: Columns whose values never enter the trail (only the fact that they changed).
    __audit_redact__: ClassVar[frozenset[str]] = frozenset()
    #: Bookkeeping columns whose changes alone are not worth a trail row (a token's last use).
    __audit_ignore__: ClassVar[frozenset[str]] = frozenset()


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return "<binary>"
    return value


def _column_values(obj: Any, which: str) -> dict[str, Any]:
    state = inspect(obj)
    redact = type(obj).__audit_redact__
    values: dict[str, Any] = {}
    for attr in state.mapper.column_attrs:
        history = state.attrs[attr.key].history
        if which == "before":
            value = history.deleted[0] if history.deleted else (
                history.unchanged[0] if history.unchanged else None
            )
        else:
            value = getattr(obj, attr.key)
        values[attr.key] = "***" if attr.key in redact else _jsonable(value)
    return values


def _changes(obj: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    state = inspect(obj)
    redact = type(obj).__audit_redact__
    ignore = type(obj).__audit_ignore__
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for attr in state.mapper.column_attrs:
        if attr.key in ignore:
            continue
        history = state.attrs[attr.key].history
        if not history.has_changes():
            continue
        old = history.deleted[0] if history.deleted else None
        new = history.added[0] if history.added else None
        hide = attr.key in redact
        before[attr.key] = "***" if hide else _jsonable(old)
        after[attr.key] = "***" if hide else _jsonable(new)
    return before, after


def _row(action: str, obj: Any, before: Any, after: Any) -> dict[str, Any]:
    actor = current_actor()
    identity = inspect(obj).identity
    return {
        "at": clock.now(),
        "user_id": actor.user_id,
        "actor_label": actor.label,
        "action": action,
        "record_type": type(obj).__tablename__,
        "record_id": ",".join(str(i) for i in identity) if identity else None,
        "project_id": getattr(obj, "project_id", None),
        "before": before,
        "after": after,
        "ip": actor.ip,
    }


@event.listens_for(Session, "after_flush")
def _write_audit(session: Session, flush_context: Any) -> None:
    rows: list[dict[str, Any]] = []
    for obj in session.new:
        if isinstance(obj, Audited):
            rows.append(_row("create", obj, None, _column_values(obj, "after")))
    for obj in session.dirty:
        if isinstance(obj, Audited) and session.is_modified(obj, include_collections=False):
            before, after = _changes(obj)
            if after:
                rows.append(_row("update", obj, before, after))
    for obj in session.deleted:
        if isinstance(obj, Audited):
            rows.append(_row("delete", obj, _column_values(obj, "before"), None))
    if rows:
        session.connection().execute(insert(AuditEvent.__table__), rows)


def record_audit(
    action: str,
    *,
    record_type: str | None = None,
    record_id: Any = None,
    project_id: int | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEvent:
    """Add an audit event for an action that is not a row change; flushed with the session."""
    actor = current_actor()
    audit = AuditEvent(
        at=clock.now(),
        user_id=actor.user_id,
        actor_label=actor.label,
        action=action,
        record_type=record_type,
        record_id=None if record_id is None else str(record_id),
        project_id=project_id,
        before=before,
        after=after,
        ip=actor.ip,
    )
    db.session.add(audit)
    return audit
