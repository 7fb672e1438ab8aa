"""Delivering the outbox after commit, exactly once as far as the provider lets us know.

How a row travels: ``queued``/``held`` → (claim, committed) ``sending`` → provider call →
(committed) ``sent`` | ``queued`` again with backoff | ``failed``.

The guarantee, precisely:

1. A row exists only if the transaction of its event committed (operations add + flush).
2. One dispatcher at a time owns a row: the claim locks it (``FOR UPDATE SKIP LOCKED`` on
   PostgreSQL; SQLite serializes writers with ``BEGIN IMMEDIATE``), sets ``sending``, a lease
   (``next_attempt_at = now + OUTBOX_SENDING_LEASE_SECONDS``) and ``claimed_at``, and commits
   *before* the provider is called. The result is written only if the row still carries the
   same ``claimed_at`` (fencing).
3. A row whose outcome is unknown — found still ``sending`` after its lease (the dispatcher
   died between the provider call and the commit), or whose last attempt ended in a timeout, a
   5xx or an unexpected error — is never sent blindly. The deliverer's ``check`` asks the
   provider whether the message already exists (Twilio: messages to the same number with the
   same body created since ``claimed_at`` and not recorded on another row; a signed status
   callback carrying the row's key adopts the SID too). Found → recorded as sent; not found →
   sent again. A kind without ``check`` (e-mail) is marked ``failed`` with "outcome unknown"
   for an admin to verify and resend: at most once rather than maybe twice.
4. Limits: the lease must exceed the provider timeout (300 s vs 30 s by default), or a slow
   attempt could be checked while still in flight; a provider lookup that lags behind its own
   create (not observed with Twilio) would lead to a second send.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import Flask, current_app
from sqlalchemy import select

from app.audit.actor import Actor, acting_as
from app.clock import clock
from app.extensions import db
from app.outbox.models import DUE_STATUSES, FAILED, HELD, QUEUED, SENDING, SENT, OutboxMessage
from app.uow import unit_of_work

log = logging.getLogger(__name__)

DISPATCHER = Actor(None, "outbox-dispatcher")

DEFAULTS: dict[str, Any] = {
    "OUTBOX_MAX_ATTEMPTS": 6,
    "OUTBOX_BACKOFF_SECONDS": 30,
    "OUTBOX_BACKOFF_MAX_SECONDS": 3600,
    "OUTBOX_SENDING_LEASE_SECONDS": 300,
}


def setting(name: str) -> Any:
    return current_app.config.get(name, DEFAULTS[name])


@dataclass(frozen=True)
class Delivery:
    """A snapshot of a claimed row, handed to deliverers outside any transaction."""

    id: int
    kind: str
    idempotency_key: str
    recipient: str | None
    subject: str | None
    body: str | None
    payload: dict[str, Any]
    project_id: int | None
    urgent: bool
    attempts: int
    claimed_at: datetime
    #: Start of the window in which an earlier, interrupted attempt may have reached the provider.
    check_since: datetime


@dataclass(frozen=True)
class DeliveryResult:
    provider_id: str | None = None
    provider_status: str | None = None


class DeliveryError(Exception):
    """Base of deliverer failures; ``message`` is shown to admins."""


class PermanentDeliveryError(DeliveryError):
    """Retrying cannot help (invalid number, 4xx): the row fails at once."""


class TransientDeliveryError(DeliveryError):
    """Retry later. ``outcome_unknown``: the provider may have acted (timeout, 5xx)."""

    def __init__(self, message: str, *, outcome_unknown: bool = False) -> None:
        super().__init__(message)
        self.outcome_unknown = outcome_unknown


Send = Callable[[Delivery], DeliveryResult]
Check = Callable[[Delivery], list[DeliveryResult]]
HoldUntil = Callable[[OutboxMessage], datetime | None]


@dataclass(frozen=True)
class Deliverer:
    send: Send
    #: Provider lookup for rows whose outcome is unknown: candidates, oldest first.
    check: Check | None = None
    #: Asked in the claim transaction: a time to hold the row until (quiet hours), or None.
    hold_until: HoldUntil | None = None


_registry: dict[str, Deliverer] = {}
_sqlite_lock = threading.Lock()


def register_deliverer(kind: str, send: Send, *, check: Check | None = None,
                       hold_until: HoldUntil | None = None) -> None:
    """Make the dispatcher deliver rows of ``kind`` with ``send`` (replaces an earlier one)."""
    _registry[kind] = Deliverer(send, check, hold_until)


def deliverer_for(kind: str) -> Deliverer | None:
    return _registry.get(kind)


@dataclass(frozen=True)
class _Claim:
    delivery: Delivery
    needs_check: bool


_SKIPPED = "skipped"


def backoff(attempts: int) -> timedelta:
    base = int(setting("OUTBOX_BACKOFF_SECONDS"))
    cap = int(setting("OUTBOX_BACKOFF_MAX_SECONDS"))
    return timedelta(seconds=min(base * 2 ** max(attempts - 1, 0), cap))


def _claim_one(skip: set[int]) -> _Claim | str | None:
    """Lock one due row, mark it ``sending`` and commit; ``None`` when nothing is due."""
    with unit_of_work():
        now = clock.now()
        stmt = (select(OutboxMessage)
                .where(OutboxMessage.status.in_(DUE_STATUSES),
                       OutboxMessage.next_attempt_at <= now)
                .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
                .limit(1))
        if skip:
            stmt = stmt.where(OutboxMessage.id.not_in(skip))
        if db.session.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        row = db.session.scalar(stmt)
        if row is None:
            return None
        skip.add(row.id)
        spec = deliverer_for(row.kind)
        if spec is None:
            row.status, row.last_error = FAILED, f"no deliverer registered for kind {row.kind!r}"
            return _SKIPPED
        hold = spec.hold_until(row) if spec.hold_until and row.status != SENDING else None
        if hold is not None and hold > now:
            row.status, row.next_attempt_at = HELD, hold
            return _SKIPPED
        needs_check = row.status == SENDING or row.outcome_unknown
        if row.status == SENDING:
            row.last_error = "interrupted while sending; checked with the provider before resending"
        previous = row.claimed_at or row.created_at
        row.status = SENDING
        row.attempts += 1
        row.claimed_at = now
        row.next_attempt_at = now + timedelta(seconds=int(setting("OUTBOX_SENDING_LEASE_SECONDS")))
        db.session.flush()
        return _Claim(_snapshot(row, previous if needs_check else now), needs_check)


def _snapshot(row: OutboxMessage, check_since: datetime) -> Delivery:
    assert row.claimed_at is not None
    return Delivery(
        id=row.id, kind=row.kind, idempotency_key=row.idempotency_key,
        recipient=row.recipient, subject=row.subject, body=row.body,
        payload=dict(row.payload or {}), project_id=row.project_id, urgent=row.urgent,
        attempts=row.attempts, claimed_at=row.claimed_at, check_since=check_since,
    )


def _adoptable(candidates: list[DeliveryResult], own_id: int) -> DeliveryResult | None:
    ids = [c.provider_id for c in candidates if c.provider_id]
    if not ids:
        return None
    taken = set(db.session.scalars(select(OutboxMessage.provider_id).where(
        OutboxMessage.provider_id.in_(ids), OutboxMessage.id != own_id)))
    return next((c for c in candidates if c.provider_id not in taken), None)


def _finish(claim: _Claim, outcome: Callable[[OutboxMessage], None]) -> None:
    with unit_of_work():
        row = db.session.get(OutboxMessage, claim.delivery.id)
        if row is None or row.status != SENDING or row.claimed_at != claim.delivery.claimed_at:
            log.warning("outbox %s changed hands while sending; result dropped",
                        claim.delivery.id)
            return
        outcome(row)
        db.session.flush()


def _sent(result: DeliveryResult) -> Callable[[OutboxMessage], None]:
    def apply(row: OutboxMessage) -> None:
        row.status, row.sent_at, row.outcome_unknown = SENT, clock.now(), False
        row.provider_id = result.provider_id or row.provider_id
        row.provider_status = result.provider_status or row.provider_status
        row.last_error = None
    return apply


def _failed(reason: str) -> Callable[[OutboxMessage], None]:
    def apply(row: OutboxMessage) -> None:
        row.status, row.last_error = FAILED, reason
    return apply


def _retry(reason: str, unknown: bool) -> Callable[[OutboxMessage], None]:
    def apply(row: OutboxMessage) -> None:
        row.last_error = reason
        row.outcome_unknown = unknown
        if row.attempts >= int(setting("OUTBOX_MAX_ATTEMPTS")):
            row.status = FAILED
            row.last_error = f"gave up after {row.attempts} attempts: {reason}"
        else:
            row.status = QUEUED
            row.next_attempt_at = clock.now() + backoff(row.attempts)
    return apply


def _deliver(claim: _Claim) -> None:
    spec = deliverer_for(claim.delivery.kind)
    assert spec is not None
    delivery = claim.delivery
    try:
        if claim.needs_check:
            if spec.check is None:
                _finish(claim, _failed("outcome unknown: the attempt was interrupted and this "
                                       "channel cannot be checked; verify, then resend by hand"))
                return
            found = spec.check(delivery)
            if found:
                with unit_of_work():
                    adopted = _adoptable(found, delivery.id)
                if adopted is not None:
                    _finish(claim, _sent(adopted))
                    return
        result = spec.send(delivery)
    except PermanentDeliveryError as exc:
        _finish(claim, _failed(str(exc)))
    except TransientDeliveryError as exc:
        _finish(claim, _retry(str(exc), exc.outcome_unknown))
    except Exception as exc:  # a bug or an unexpected library error: maybe sent, so check
        log.exception("outbox %s: unexpected delivery error", delivery.id)
        _finish(claim, _retry(f"{type(exc).__name__}: {exc}", unknown=True))
    else:
        _finish(claim, _sent(result))


def dispatch_due(limit: int = 100) -> int:
    """Deliver up to ``limit`` due rows, one claim at a time; returns how many were attempted.

    Commits on its own (claim, then result): call it outside a request's unit of work — from
    the scheduler, :func:`run_dispatcher_loop` or after a commit.
    """
    sqlite = db.session.get_bind().dialect.name == "sqlite"
    if sqlite and not _sqlite_lock.acquire(blocking=False):
        return 0  # another thread of this process is dispatching; it will drain the queue
    try:
        done = 0
        skip: set[int] = set()
        with acting_as(DISPATCHER):
            while done < limit:
                claim = _claim_one(skip)
                if claim is None:
                    break
                if isinstance(claim, _Claim):
                    _deliver(claim)
                    done += 1
        return done
    finally:
        if sqlite:
            _sqlite_lock.release()


def run_dispatcher_once(app: Flask, limit: int = 100) -> int:
    """One scheduler job: dispatch what is due in a fresh app context."""
    with app.app_context():
        try:
            return dispatch_due(limit)
        finally:
            db.session.remove()


def run_dispatcher_loop(app: Flask, *, interval: float = 5.0,
                        stop: threading.Event | None = None) -> None:
    """Dispatch every ``interval`` seconds until ``stop`` is set (a worker thread or process)."""
    stop = stop or threading.Event()
    while not stop.is_set():
        try:
            run_dispatcher_once(app)
        except Exception:
            log.exception("outbox dispatcher pass failed")
        stop.wait(interval)


_wake_lock = threading.Lock()
_wake_running = False
_wake_again = False


def wake_dispatcher() -> None:
    """Dispatch soon in a background thread (one at a time); for ``after_commit``.

    Does nothing unless ``OUTBOX_DISPATCH_ON_COMMIT`` is on (default: with the scheduler), so
    tests and CLI runs stay single-threaded; the periodic job catches whatever this misses.
    """
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    enabled = app.config.get("OUTBOX_DISPATCH_ON_COMMIT", app.config.get("SCHEDULER_ENABLED"))
    if not enabled:
        return
    global _wake_running, _wake_again
    with _wake_lock:
        if _wake_running:
            _wake_again = True
            return
        _wake_running = True

    def work() -> None:
        global _wake_running, _wake_again
        while True:
            try:
                run_dispatcher_once(app)
            except Exception:
                log.exception("outbox dispatch after commit failed")
            with _wake_lock:
                if not _wake_again:
                    _wake_running = False
                    return
                _wake_again = False

    threading.Thread(target=work, name="outbox-wake", daemon=True).start()
