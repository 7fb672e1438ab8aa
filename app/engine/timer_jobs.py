"""Firing due timers: the scheduler's pass over the timer index.

Every save of an instance records its earliest waiting timer in the indexed column
``process_instance.next_timer_due`` (:mod:`app.engine.projections`). A pass reads only that
index — instances with ``next_timer_due <= now`` and an active status, oldest first, in
bounded batches — so a pass over any number of waiting instances of which none is due is one
index range scan that returns nothing and deserializes no workflow.

Each due instance is then stepped through :func:`app.engine.locking.locked_instance` with
``skip_locked``: the instance row is claimed with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL (a
non-blocking Redis lock first when Redis is configured; SQLite serializes writers with
``BEGIN IMMEDIATE``), re-read, checked to be still due, advanced (due timers fire) and saved
with its projections, which moves ``next_timer_due`` on. Another scheduler that selected the
same instance either skips it (locked) or finds it no longer due (committed): a timer fires
once.

Due instances are committed in groups of :data:`COMMIT_GROUP`, each stepped inside its own
savepoint: a failing instance rolls back alone, a crash loses at most the group in flight, which
the next pass redoes from the committed state, and one commit (a disk flush on PostgreSQL)
serves fifty instances. The group's rows are locked (``SKIP LOCKED``) and read with their states
in one query before stepping (:func:`app.engine.locking.claim_group`); a row another worker
holds is left out of the claim, and that instance's own lock attempt then skips it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from datetime import datetime

from flask import Flask
from sqlalchemy import select

from app.audit.actor import Actor, acting_as
from app.clock import clock
from app.engine import services
from app.engine.locking import InstanceBusy, claim_group, locked_instance
from app.engine.models import InstanceStatus, ProcessInstance
from app.errors import Conflict, NotFound
from app.extensions import db
from app.outbox.operations import insert_later
from app.uow import commit, unit_of_work

log = logging.getLogger(__name__)

#: Who the history says moved an instance on when a timer fired.
SCHEDULER = Actor(None, "scheduler")

#: Statuses whose timers fire (suspended, error, cancelled and completed ones never do).
ACTIVE_STATUSES = (InstanceStatus.WAITING.value, InstanceStatus.RUNNING.value)

#: Instance ids read from the index per query.
BATCH_SIZE = 100

#: Instances one :func:`fire_due` call steps at most.
DEFAULT_LIMIT = 500

#: :func:`fire_all_due` stops after this many full passes (the next job run goes on).
MAX_PASSES = 20


def due_instance_ids(
    now: datetime,
    limit: int,
    after: tuple[datetime, int] | None = None,
    shard: tuple[int, int] | None = None,
) -> list[tuple[datetime, int]]:
    """(due, id) of active instances whose next timer is due, oldest first, after a cursor;
    ``shard=(k, n)``: only ids with ``id % n == k`` (parallel workers of one pass).

    Only the ``(next_timer_due, id)`` index is read: the rest of the cursor's moment first
    (``due = d AND id > last``), then later moments — two range scans rather than one ``OR``
    that no index serves when thousands of timers fall due at the same moment (reminders at
    09:00). The status test is kept out of the index choice (``status || ''``): SQLite, which
    has no statistics, would otherwise walk every waiting instance through the status index.
    """
    base = (
        select(ProcessInstance.next_timer_due, ProcessInstance.id)
        .where((ProcessInstance.status + "").in_(ACTIVE_STATUSES))
        .execution_options(all_projects=True)
    )
    if shard is not None:
        base = base.where(ProcessInstance.id % shard[1] == shard[0])
    rows: list[tuple[datetime, int]] = []
    if after is not None:
        due, last_id = after
        if due <= now:
            same = (base.where(ProcessInstance.next_timer_due == due, ProcessInstance.id > last_id)
                    .order_by(ProcessInstance.id).limit(limit))
            rows = [(d, i) for d, i in db.session.execute(same)]
        later = base.where(ProcessInstance.next_timer_due > due,
                           ProcessInstance.next_timer_due <= now)
    else:
        later = base.where(ProcessInstance.next_timer_due <= now)
    if len(rows) < limit:
        stmt = (later.order_by(ProcessInstance.next_timer_due, ProcessInstance.id)
                .limit(limit - len(rows)))
        rows += [(d, i) for d, i in db.session.execute(stmt)]
    return rows


#: Instances stepped per transaction: one commit (a disk flush on PostgreSQL) per group, each
#: instance inside its own savepoint so a failure rolls back that instance alone.
COMMIT_GROUP = 50


def _step_if_due(instance_id: int, now: datetime) -> bool:
    with locked_instance(instance_id, skip_locked=True) as locked:
        instance = locked.instance
        due = instance.next_timer_due
        if due is None or due > now or instance.status not in ACTIVE_STATUSES:
            locked.save = False
            return False
    return True


def _fire_in_savepoint(instance_id: int, now: datetime, *, guarded: bool = False) -> bool:
    """Step one due instance inside a savepoint; False when another worker holds it, it is no
    longer due (someone fired it first) or stepping it failed (rolled back alone).

    The step first runs with :func:`~app.engine.services.unguarded_handlers`; if it fails,
    the savepoint is rolled back and the instance stepped again ``guarded`` (a savepoint per
    service task), which records the incident as any other change would."""
    savepoint = db.session.begin_nested()
    try:
        with nullcontext() if guarded else services.unguarded_handlers():
            fired = _step_if_due(instance_id, now)
    except services.StepFailed:
        savepoint.rollback()
        return _fire_in_savepoint(instance_id, now, guarded=True)
    except (InstanceBusy, NotFound, Conflict):  # Conflict: a writer bypassed the lock
        savepoint.rollback()
        return False
    except Exception:
        # The incidents layer turns engine failures into an error status (out of the index);
        # anything else is logged, rolled back alone and retried next pass.
        savepoint.rollback()
        log.exception("firing the timers of process instance %s failed", instance_id)
        return False
    savepoint.commit()
    return fired


def fire_instance(instance_id: int, now: datetime) -> bool:
    """Step one instance whose timer is due at ``now`` and commit (see _fire_in_savepoint)."""
    with unit_of_work():
        return _fire_in_savepoint(instance_id, now)


def fire_due_instances(
    now: datetime | None = None,
    limit: int = DEFAULT_LIMIT,
    batch_size: int = BATCH_SIZE,
    shard: tuple[int, int] | None = None,
) -> list[int]:
    """The ids of the instances stepped because a timer was due, oldest due first."""
    moment = now or clock.now()
    fired: list[int] = []
    cursor: tuple[datetime, int] | None = None
    seen = 0
    with acting_as(SCHEDULER):
        while seen < limit:
            batch = due_instance_ids(moment, min(batch_size, limit - seen), cursor, shard)
            # End the read (SQLite: release the write lock) before stepping; a commit rather
            # than a rollback so that work a caller flushed before (tests, flows) stays.
            commit()
            if not batch:
                break
            for start in range(0, len(batch), COMMIT_GROUP):
                group = batch[start:start + COMMIT_GROUP]
                fired += _fire_group([i for _, i in group], moment)
                seen += len(group)
                cursor = group[-1]
    return fired


def _fire_group(instance_ids: list[int], now: datetime) -> list[int]:
    """Step a group of due instances in one transaction; the ids of those stepped.

    First without savepoints (each costs two statements per instance, a round trip each on
    PostgreSQL): the instances one after another, service handlers unguarded, the outbox
    messages they queue written together at the end (:func:`insert_later`). If any step
    fails, that transaction is rolled back as a whole and the group stepped again with a
    savepoint per instance (:func:`_fire_in_savepoint`), where a failure stays the
    instance's own. A row the claim could not lock (another worker holds it, or it is gone)
    is left to that second way."""
    fired: list[int] = []
    try:
        with (unit_of_work(), claim_group(instance_ids) as claimed,
              services.unguarded_handlers(), insert_later()):
            left = [] if claimed is None else [i for i in instance_ids if i not in claimed]
            fired = [i for i in instance_ids if i not in left and _step_if_due(i, now)]
    except Exception:  # rolled back: the work of every instance in the group is undone
        log.info("timer group of %s instances stepped again one by one", len(instance_ids),
                 exc_info=True)
        fired, left = [], instance_ids
    if not left:
        return fired
    with unit_of_work(), claim_group(left):
        return fired + [i for i in left if _fire_in_savepoint(i, now)]


def fire_due(
    now: datetime | None = None, limit: int = DEFAULT_LIMIT, shard: tuple[int, int] | None = None
) -> int:
    """Fire the timers due at ``now`` (default: the clock) on up to ``limit`` instances,
    oldest first; returns how many instances were stepped. Commits on its own (per
    instance): call it outside a unit of work.

    ``now`` bounds which instances are woken; the engine reads the clock itself to decide
    which of their timers fire.
    """
    return len(fire_due_instances(now, limit, shard=shard))


def fire_all_due(
    now: datetime | None = None, limit: int = DEFAULT_LIMIT, shard: tuple[int, int] | None = None
) -> int:
    """:func:`fire_due` until a pass finds less than a full batch (catching up after downtime
    or a clock advance); returns the total."""
    total = 0
    for _ in range(MAX_PASSES):
        fired = fire_due(now, limit, shard)
        total += fired
        if fired < limit:
            break
    return total


@contextmanager
def job_context(app: Flask) -> Iterator[None]:
    """A fresh app context and session for one scheduler job (threads share nothing)."""
    with app.app_context():
        try:
            yield
        finally:
            db.session.remove()


def run_fire_due(app: Flask) -> int:
    """Scheduler job: fire every due timer. (Threads do not speed a pass up — stepping is
    Python-bound; run more scheduler processes instead.)"""
    with job_context(app):
        return fire_all_due()
