"""The history of an instance: one :class:`InstanceEvent` per transition, in the same flush."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import event, insert, select
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction

from app.audit.actor import current_actor
from app.clock import clock
from app.engine.models import EventKind, HumanTask, InstanceEvent, ProcessInstance
from app.extensions import db


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON (dates and other objects become strings)."""
    return json.loads(json.dumps(value, default=str))


def data_diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """{key: {"from": old, "to": new}} for every key whose value changed."""
    diff = {}
    for key in sorted(set(before) | set(after)):
        old, new = jsonable(before.get(key)), jsonable(after.get(key))
        if old != new:
            diff[key] = {"from": old, "to": new}
    return diff


def record_event(
    instance: ProcessInstance,
    kind: EventKind,
    task: HumanTask | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    """Add a history row for ``instance`` attributed to the current actor.

    The row is written at the end of the session's next flush (or at its commit, or before its
    next query), with the other events of the transaction in one multi-row INSERT. History is
    append-only and never read back as objects in the transaction that writes it, so it skips
    the ORM's unit of work, which would insert each event by itself and load its id back. An
    event recorded inside a savepoint that rolls back goes with it.
    """
    actor = current_actor()
    session = db.session()
    pending: list[NewEvent] = session.info.setdefault(_PENDING, [])
    pending.append(NewEvent(
        session.get_nested_transaction() or session.get_transaction(),
        task if task is not None and task.id is None else None,
        {
            "project_id": instance.project_id,
            "instance_id": instance.id,
            "task_row_id": task.id if task is not None else None,
            "at": clock.now(),
            "user_id": actor.user_id,
            "actor_label": actor.label,
            "kind": kind.value,
            "element_id": task.element_id if task is not None else None,
            "title": task.title if task is not None else None,
            "data": jsonable(data) if data else None,
        },
    ))


#: session.info key of the events recorded but not written yet.
_PENDING = "estateflow.pending_events"


@dataclass(slots=True)
class NewEvent:
    """An event recorded in the current transaction, as listeners see it before it is
    written (the columns of :class:`InstanceEvent`, read-only)."""

    transaction: SessionTransaction | None  # the innermost one open when it was recorded
    new_task: HumanTask | None  # a task row that a later flush inserts: its id comes then
    row: dict[str, Any]
    dispatched: bool = False

    @property
    def kind(self) -> str:
        return str(self.row["kind"])

    @property
    def instance_id(self) -> int:
        return int(self.row["instance_id"])

    @property
    def task_row_id(self) -> int | None:
        return self.new_task.id if self.new_task is not None else self.row["task_row_id"]

    @property
    def element_id(self) -> str | None:
        return self.row["element_id"]  # type: ignore[no-any-return]

    @property
    def data(self) -> dict[str, Any] | None:
        return self.row["data"]  # type: ignore[no-any-return]

    @property
    def at(self) -> datetime:
        return self.row["at"]  # type: ignore[no-any-return]

    @property
    def user_id(self) -> int | None:
        return self.row["user_id"]  # type: ignore[no-any-return]


EventListener = Callable[[Session, list[NewEvent]], None]
_listeners: list[EventListener] = []


def on_new_events(listener: EventListener) -> EventListener:
    """Call ``listener(session, events)`` with each transaction's new events, in order, before
    the flush that writes them (a domain keeping its rows in step with its flow's history, in
    the same transaction). The session does not autoflush while it runs."""
    _listeners.append(listener)
    return listener


def _dispatch(session: Session, pending: list[NewEvent]) -> None:
    new = [p for p in pending if not p.dispatched]
    for p in new:
        p.dispatched = True
    if new and _listeners:
        with session.no_autoflush:
            for listener in _listeners:
                listener(session, new)


def _write(session: Session, *, flushing: bool = False) -> None:
    """INSERT the events recorded so far. Outside a flush, one that inserts a task row an
    event names runs first; inside one (after_flush), such a row already has its id."""
    pending: list[NewEvent] | None = session.info.get(_PENDING)
    if not pending:
        return
    _dispatch(session, pending)
    if not flushing and any(p.new_task is not None and p.new_task.id is None for p in pending):
        session.flush()  # its after_flush writes them
        return
    ready = [p for p in pending if p.new_task is None or p.new_task.id is not None]
    session.info[_PENDING] = [p for p in pending if p.new_task is not None
                              and p.new_task.id is None]
    if ready:
        for p in ready:
            p.row["task_row_id"] = p.task_row_id
        session.connection().execute(insert(InstanceEvent.__table__), [p.row for p in ready])


def write_pending_events() -> None:
    """Write the events recorded so far now (raw SQL about to read the history)."""
    _write(db.session())


@event.listens_for(Session, "before_flush")
def _dispatch_before_the_flush(session: Session, _context: Any, _instances: Any) -> None:
    pending: list[NewEvent] | None = session.info.get(_PENDING)
    if pending:
        _dispatch(session, pending)


@event.listens_for(Session, "after_flush")
def _write_with_the_flush(session: Session, _context: Any) -> None:
    _write(session, flushing=True)


@event.listens_for(Session, "before_commit")
def _write_before_commit(session: Session) -> None:
    _write(session)


@event.listens_for(Session, "do_orm_execute")
def _write_before_a_query(state: ORMExecuteState) -> None:
    session = state.session
    # Not from inside a flush or a no_autoflush block (a listener's look-ups).
    if (state.is_select and session.info.get(_PENDING) and session.autoflush
            and not session._flushing):
        _write(session)


@event.listens_for(Session, "after_transaction_end")
def _forget_rolled_back(session: Session, transaction: SessionTransaction) -> None:
    pending: list[NewEvent] | None = session.info.get(_PENDING)
    if not pending:
        return
    if transaction.parent is None:
        session.info[_PENDING] = []  # committed (written before) or rolled back
    elif transaction.nested:
        # A savepoint that was released wrote its events first; one rolled back takes them.
        session.info[_PENDING] = [p for p in pending if p.transaction is not transaction]


def timeline(instance_id: int) -> list[InstanceEvent]:
    """Every event of an instance, oldest first."""
    return list(
        db.session.scalars(
            select(InstanceEvent)
            .where(InstanceEvent.instance_id == instance_id)
            .order_by(InstanceEvent.at, InstanceEvent.id)
        )
    )
