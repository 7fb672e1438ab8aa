"""Outbox operations: they add and flush; the caller's unit of work commits."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, TypedDict, Unpack

from sqlalchemy import bindparam, insert, select
from sqlalchemy.orm import make_transient_to_detached

from app.audit.recorder import record_audit
from app.clock import clock
from app.errors import Conflict
from app.extensions import db
from app.outbox.models import FAILED, QUEUED, SENT, OutboxMessage

MAX_KEY_LENGTH = 255


def normalise_key(key: str) -> str:
    """Keys longer than the column keep a readable prefix and a hash of the whole."""
    if len(key) <= MAX_KEY_LENGTH:
        return key
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()
    return f"{key[:MAX_KEY_LENGTH - 65]}#{digest}"


_BY_KEY = select(OutboxMessage).where(OutboxMessage.idempotency_key == bindparam("key"))
_BY_KEYS = select(OutboxMessage).where(
    OutboxMessage.idempotency_key.in_(bindparam("keys", expanding=True)))


def find_by_key(key: str) -> OutboxMessage | None:
    return db.session.scalar(_BY_KEY, {"key": normalise_key(key)})


#: Key look-ups by number of keys, each an ``IN`` of that many plain parameters (a call asks
#: for one to a few keys): an expanding parameter would re-render the SQL on every call.
_KEYS_TAKEN = {
    n: select(OutboxMessage.idempotency_key).where(
        OutboxMessage.idempotency_key.in_([bindparam(f"k{i}") for i in range(n)]))
    for n in range(1, 9)}
_KEYS_TAKEN_MANY = select(OutboxMessage.idempotency_key).where(
    OutboxMessage.idempotency_key.in_(bindparam("keys", expanding=True)))


def _keys_taken(keys: list[str]) -> list[str]:
    connection = db.session.connection()
    stmt = _KEYS_TAKEN.get(len(keys))
    if stmt is None:
        return list(connection.execute(_KEYS_TAKEN_MANY, {"keys": keys}).scalars())
    return list(connection.execute(stmt, {f"k{i}": k for i, k in enumerate(keys)}).scalars())


def find_by_keys(keys: list[str]) -> dict[str, OutboxMessage]:
    """{normalised key: the row holding it} for those of ``keys`` already in the outbox.

    Usually none is: one look-up of the keys alone on the transaction's connection (rows of
    this transaction included: they are inserted at once, see :func:`insert_messages`), and
    the rows themselves only for keys found."""
    if not keys:
        return {}
    taken = _keys_taken(list(dict.fromkeys(normalise_key(k) for k in keys)))
    if not taken:
        return {}
    return {row.idempotency_key: row for row in db.session.scalars(_BY_KEYS, {"keys": taken})}


_TABLE = OutboxMessage.__table__
#: The columns a new row is written with (all of them but the id: nothing is left to load).
_COLUMNS = [c.key for c in _TABLE.columns if c.key != "id"]
_INSERT_ONE = insert(_TABLE).returning(_TABLE.c.id)
_INSERT = insert(_TABLE).returning(_TABLE.c.id, sort_by_parameter_order=True)


_INSERT_PLAIN = insert(_TABLE)
#: session.info key: rows :func:`insert_messages` leaves to the end of :func:`insert_later`.
_LATER = "estateflow.outbox.insert_later"


@contextmanager
def insert_later() -> Iterator[None]:
    """Within the block, :func:`insert_messages` collects its rows (the messages get no id and
    stay out of the session), and they are written in one statement when the block ends
    without an error — for work that sends many messages and reads none back before it
    commits (a timer pass's group). A duplicate key then fails the whole block."""
    session = db.session()
    rows: list[dict[str, Any]] = []
    outer = session.info.get(_LATER)
    session.info[_LATER] = rows
    try:
        yield
    finally:
        session.info[_LATER] = outer
        if outer is None:
            session.info.pop(_LATER, None)
    if rows:
        session.connection().execute(_INSERT_PLAIN, rows)


def insert_messages(messages: list[OutboxMessage]) -> None:
    """INSERT rows made by :func:`new_message` in one statement and attach them to the
    session as persistent (ids set), without the ORM's unit of work: a notification pass
    writes one or two per reminder. (Inside :func:`insert_later`: at its end.)"""
    if not messages:
        return
    rows = [{key: getattr(m, key) for key in _COLUMNS} for m in messages]
    later: list[dict[str, Any]] | None = db.session.info.get(_LATER)
    if later is not None:
        later.extend(rows)
        return
    connection = db.session.connection()
    if len(rows) == 1:  # the usual case: a plain INSERT … RETURNING, no batching machinery
        ids = [connection.execute(_INSERT_ONE, rows[0]).scalar_one()]
    else:
        ids = list(connection.execute(_INSERT, rows).scalars())
    for message, row_id in zip(messages, ids, strict=True):
        message.id = row_id
        make_transient_to_detached(message)
        db.session.add(message)


class MessageFields(TypedDict, total=False):
    """What a new outbox row may be given besides its kind and key (:func:`new_message`)."""

    payload: dict[str, Any] | None
    recipient: str | None
    body: str | None
    subject: str | None
    event: str | None
    project_id: int | None
    user_id: int | None
    urgent: bool
    #: ``held`` (with ``not_before``), or ``sent`` for effects already done in the transaction
    #: itself (in-app notifications); default ``queued``.
    status: str
    not_before: datetime | None


def enqueue(kind: str, *, idempotency_key: str, **fields: Unpack[MessageFields]
            ) -> OutboxMessage:
    """Add a side effect to the outbox, or return the row already holding ``idempotency_key``.

    Flushes, never sends: the dispatcher delivers after the caller's transaction commits.
    """
    existing = find_by_key(idempotency_key)
    if existing is not None:
        return existing
    message = new_message(kind, idempotency_key, **fields)
    db.session.add(message)
    db.session.flush()
    return message


def new_message(kind: str, key: str, **fields: Unpack[MessageFields]) -> OutboxMessage:
    """A new row, not added to the session: for :func:`enqueue`, or for a caller that looked
    its keys up itself (:func:`find_by_keys`) and writes its rows with
    :func:`insert_messages`. Every column is set."""
    now = clock.now()
    status = fields.get("status", QUEUED)
    return OutboxMessage(
        kind=kind, idempotency_key=normalise_key(key), payload=fields.get("payload") or {},
        recipient=fields.get("recipient"), body=fields.get("body"),
        subject=fields.get("subject"), event=fields.get("event"),
        project_id=fields.get("project_id"), user_id=fields.get("user_id"),
        urgent=fields.get("urgent", False), status=status, attempts=0,
        next_attempt_at=fields.get("not_before") or now, created_at=now,
        sent_at=now if status == SENT else None, claimed_at=None, outcome_unknown=False,
        last_error=None, provider_id=None, provider_status=None,
    )


def resend(message: OutboxMessage) -> OutboxMessage:
    """Queue a failed message again (an admin decided, after reading its error)."""
    if message.status != FAILED:
        raise Conflict("only failed messages can be sent again", field="status")
    record_audit("outbox.resend", record_type="outbox_message", record_id=message.id,
                 project_id=message.project_id,
                 before={"status": message.status, "last_error": message.last_error,
                         "attempts": message.attempts},
                 after={"status": QUEUED})
    message.status = QUEUED
    message.attempts = 0
    message.outcome_unknown = False
    message.next_attempt_at = clock.now()
    db.session.flush()
    return message
