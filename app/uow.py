"""One commit per unit of work, in one place.

A request commits after its handler returned a response that reports success, and rolls back
otherwise, so a failed form or API call leaves nothing half-written. CLI commands and scheduler
jobs use :func:`unit_of_work`. Work registered with :func:`after_commit` (delivering an outbox,
waking a dispatcher) runs only once the commit succeeded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from flask import Flask, Response, g, has_app_context, has_request_context
from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from app.extensions import db

#: (callback, the savepoint open when it was registered, if any)
_Pending = tuple[Callable[[], None], SessionTransaction | None]
_pending: ContextVar[list[_Pending] | None] = ContextVar(
    "estateflow_after_commit", default=None
)


def after_commit(callback: Callable[[], None]) -> None:
    """Run ``callback`` after the current unit of work commits (dropped on rollback, and
    with a savepoint that rolls back if it was registered inside one)."""
    pending = _pending.get()
    if pending is None:
        pending = []
        _pending.set(pending)
    savepoint = db.session().get_nested_transaction() if has_app_context() else None
    pending.append((callback, savepoint))


def _inside(transaction: SessionTransaction | None, savepoint: SessionTransaction) -> bool:
    while transaction is not None:
        if transaction is savepoint:
            return True
        transaction = transaction.parent
    return False


@event.listens_for(Session, "after_soft_rollback")
def _forget_rolled_back(_session: Session, transaction: SessionTransaction) -> None:
    pending = _pending.get()
    if pending and transaction.nested:
        pending[:] = [p for p in pending if not _inside(p[1], transaction)]


@contextmanager
def session_flag(key: str) -> Iterator[None]:
    """Set ``db.session.info[key]`` within the block (the previous value comes back after): a
    mode of the work in progress that code further down reads with :func:`session_flagged`."""
    session = db.session()
    previous = session.info.get(key, False)
    session.info[key] = True
    try:
        yield
    finally:
        session.info[key] = previous


def session_flagged(key: str) -> bool:
    return bool(db.session().info.get(key))


def keep_changes_on_error() -> None:
    """Commit this request's changes even though it answers with an error (failed logins)."""
    g._keep_changes = True


def _run_after_commit() -> None:
    pending = _pending.get() or []
    _pending.set(None)
    for callback, _savepoint in pending:
        callback()


def commit() -> None:
    db.session.commit()
    _run_after_commit()


def rollback() -> None:
    db.session.rollback()
    _pending.set(None)


@contextmanager
def unit_of_work() -> Iterator[None]:
    """Commit when the block succeeds, roll back when it raises."""
    try:
        yield
    except BaseException:
        rollback()
        raise
    commit()


def init_app(app: Flask) -> None:
    @app.after_request
    def _finish(response: Response) -> Response:
        if response.status_code < 400 or g.get("_keep_changes", False):
            commit()
        else:
            rollback()
        return response

    @app.teardown_request
    def _teardown(exc: BaseException | None) -> None:
        if exc is not None and has_request_context():
            rollback()
