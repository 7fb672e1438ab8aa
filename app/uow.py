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

from flask import Flask, Response, g, has_request_context

from app.extensions import db

_pending: ContextVar[list[Callable[[], None]] | None] = ContextVar(
    "estateflow_after_commit", default=None
)


def after_commit(callback: Callable[[], None]) -> None:
    """Run ``callback`` after the current unit of work commits (dropped on rollback)."""
    pending = _pending.get()
    if pending is None:
        pending = []
        _pending.set(pending)
    pending.append(callback)


def keep_changes_on_error() -> None:
    """Commit this request's changes even though it answers with an error (failed logins)."""
    g._keep_changes = True


def _run_after_commit() -> None:
    pending = _pending.get() or []
    _pending.set(None)
    for callback in pending:
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
