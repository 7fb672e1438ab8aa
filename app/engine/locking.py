"""The only way to change a process instance: lock → load → change → step → save → flush.

The lock is the instance row (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite transactions start
with ``BEGIN IMMEDIATE`` and are serialized anyway), held until the unit of work commits, plus
a Redis lock around the block when Redis is configured (several hosts). The row's
``lock_version`` catches any writer that bypassed the lock: its flush fails and the caller gets
409 instead of overwriting newer state.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any

from flask import current_app, has_app_context
from redis.exceptions import LockError
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from sqlalchemy import bindparam, inspect, select, update
from sqlalchemy.orm import ColumnProperty, lazyload
from sqlalchemy.orm.exc import StaleDataError

from app.engine.deployments import note_content_hash, restore_workflow
from app.engine.models import Deployment, HumanTask, InstanceStatus, ProcessInstance
from app.engine.projections import STEPPING_GROUP, save_workflow, subscription_keys
from app.engine.stepping import step
from app.engine.workflow_cache import cache as workflow_cache
from app.errors import Conflict, NotFound
from app.extensions import db
from app.scoping import ScopeViolation, in_scope

#: Seconds a Redis lock lives if its holder dies; and how long to wait for a busy one.
REDIS_LOCK_TIMEOUT = 60
REDIS_LOCK_WAIT = 10


@dataclass
class Locked:
    """What the block of :func:`locked_instance` works on."""

    instance: ProcessInstance
    workflow: BpmnWorkflow | None
    #: Set to False when the block changed nothing in the workflow (claims, releases).
    save: bool = True
    #: The instance's open task rows if the block read them after the lock (the save then
    #: does not read them again); after a save, its open rows.
    open_rows: list[HumanTask] | None = None


class InstanceBusy(Conflict):
    """``skip_locked``: another worker holds the instance right now (the scheduler moves on)."""


def _redis_lock(instance_id: int, *, wait: bool = True) -> Any:
    client = current_app.extensions.get("estateflow_redis") if has_app_context() else None
    if client is None:
        return nullcontext()
    return client.lock(
        f"estateflow:instance:{instance_id}",
        timeout=REDIS_LOCK_TIMEOUT,
        blocking=wait,
        blocking_timeout=REDIS_LOCK_WAIT,
    )


def _lock_statement(skip_locked: bool) -> Any:
    return (
        # The deployment's content hash comes along: loading the workflow needs it, and it
        # would otherwise be one more query per change.
        select(ProcessInstance, Deployment.content_hash)
        .join(Deployment, Deployment.id == ProcessInstance.deployment_id)
        .where(ProcessInstance.id == bindparam("instance_id"))
        .with_for_update(of=ProcessInstance, skip_locked=skip_locked)
        .execution_options(populate_existing=True)
        # Stepping never needs the deployment row: don't join it (and its process list).
        .options(lazyload(ProcessInstance.deployment))
    )


#: Built once: a statement object keeps its compiled-cache key, so a change of an instance
#: does not rebuild and re-key the same SELECT every time.
_LOCK = {skip: _lock_statement(skip) for skip in (False, True)}
_STATE = select(ProcessInstance.state).where(ProcessInstance.id == bindparam("instance_id"))


def lock_instance_row(instance_id: int, *, skip_locked: bool = False) -> ProcessInstance:
    """The instance row (without its state), locked for this transaction and re-read (or
    locked and read a moment ago by :func:`claim_group`)."""
    claimed = _claimed_row(instance_id)
    if claimed is not None:
        return claimed
    row = db.session.execute(_LOCK[skip_locked], {"instance_id": instance_id}).first()
    if row is None:
        if skip_locked and db.session.get(ProcessInstance, instance_id) is not None:
            raise InstanceBusy("This process is busy. Try again in a moment.")
        raise NotFound(f"no process instance {instance_id}")
    instance, content_hash = row
    note_content_hash(instance.deployment_id, content_hash)
    return instance


#: session.info keys: what :func:`claim_group` read for the instances it locked,
#: {instance id: (instance, deployment content hash, state token, state)}; and the
#: {instance id: (state token, state)} of those :func:`lock_instance_row` has handed out.
_CLAIMED = "estateflow.claimed_group"
_CLAIMED_STATES = "estateflow.claimed_states"


def _claim_statement(lock: bool) -> Any:
    stmt = (
        select(ProcessInstance, Deployment.content_hash, ProcessInstance.state)
        .join(Deployment, Deployment.id == ProcessInstance.deployment_id)
        .where(ProcessInstance.id.in_(bindparam("ids", expanding=True)))
        .execution_options(populate_existing=True, all_projects=True)
        .options(lazyload(ProcessInstance.deployment))
    )
    return stmt.with_for_update(of=ProcessInstance, skip_locked=True) if lock else stmt


_CLAIM = {lock: _claim_statement(lock) for lock in (False, True)}


def _redis_configured() -> bool:
    return has_app_context() and current_app.extensions.get("estateflow_redis") is not None


@contextmanager
def claim_group(instance_ids: list[int]) -> Iterator[frozenset[int] | None]:
    """Lock and read the rows and states of instances about to be changed one after another
    in this transaction (a timer pass's group) with one query instead of two each.

    PostgreSQL: ``FOR UPDATE SKIP LOCKED`` — a row another worker holds is left out, and its
    change then asks for the lock itself (and is told the instance is busy). SQLite: the
    transaction already holds the database's write lock, so what it reads is current.
    :func:`lock_instance_row` uses a claimed row once, for the instance's first change in the
    group; any later change locks and re-reads the row as usual. :func:`load_workflow` uses the
    claimed state only if the row still carries the state token it was read with.

    With Redis, every change takes the instance's Redis lock before its row lock, so two
    workers never hold one each; the rows are then not claimed ahead (only the states are
    read, without a lock).

    Yields the ids of the rows locked (None with Redis): an id left out is held by another
    worker or gone."""
    lock = not _redis_configured()
    claimed: dict[int, tuple[ProcessInstance, str, str | None, str]] = {}
    states: dict[int, tuple[str | None, str]] = {}
    if instance_ids:
        for instance, content_hash, state in db.session.execute(
                _CLAIM[lock], {"ids": list(instance_ids)}):
            if lock:
                claimed[instance.id] = (instance, content_hash, instance.state_token, state)
            else:
                states[instance.id] = (instance.state_token, state)
    db.session.info[_CLAIMED] = claimed
    db.session.info[_CLAIMED_STATES] = states
    db.session.info[STEPPING_GROUP] = tuple(instance_ids)
    try:
        yield frozenset(claimed) if lock else None
    finally:
        db.session.info.pop(_CLAIMED, None)
        db.session.info.pop(_CLAIMED_STATES, None)
        db.session.info.pop(STEPPING_GROUP, None)


def _claimed_row(instance_id: int) -> ProcessInstance | None:
    """The row :func:`claim_group` locked for this instance, once (its state set aside for
    :func:`load_workflow`)."""
    claimed = db.session.info.get(_CLAIMED)
    found = claimed.pop(instance_id, None) if claimed else None
    if found is None:
        return None
    instance, content_hash, token, state = found
    note_content_hash(instance.deployment_id, content_hash)
    db.session.info[_CLAIMED_STATES][instance_id] = (token, state)
    return instance


def _claimed_state(instance: ProcessInstance) -> str | None:
    found = db.session.info.get(_CLAIMED_STATES, {}).pop(instance.id, None)
    if found is None or found[0] is None or found[0] != instance.state_token:
        return None
    return str(found[1])


def load_workflow(instance: ProcessInstance) -> BpmnWorkflow:
    """The workflow of a locked instance: the one this process saved under the row's state
    token if it still holds it, else deserialized from the row's state (the one
    :func:`claim_group` read, if the row still carries its token)."""
    workflow = workflow_cache.take(instance.state_token)
    if workflow is None:
        state = _claimed_state(instance)
        if state is None:
            state = db.session.scalar(_STATE, {"instance_id": instance.id})
        if state is None:
            raise NotFound(f"no process instance {instance.id}")
        workflow = restore_workflow(instance, state)
    return workflow


_INSTANCE_TABLE = ProcessInstance.__table__
_COLUMN_OF = {prop.key: prop.columns[0] for prop in inspect(ProcessInstance).column_attrs}
_updates: dict[tuple[str, ...], Any] = {}


def _update_statement(keys: tuple[str, ...]) -> Any:
    """``UPDATE process_instance SET <keys>, lock_version WHERE id AND lock_version`` with
    bound parameters, built once per set of columns."""
    stmt = _updates.get(keys)
    if stmt is None:
        table = _INSTANCE_TABLE
        stmt = (update(table)
                .where(table.c.id == bindparam("row_id"),
                       table.c.lock_version == bindparam("old_version"))
                .values({_COLUMN_OF[k]: bindparam(f"v_{k}") for k in keys}
                        | {table.c.lock_version: bindparam("new_version")}))
        _updates[keys] = stmt
    return stmt


def write_row(instance: ProcessInstance) -> bool:
    """Write a changed instance row with one plain UPDATE (checked against its
    ``lock_version`` like the ORM's) instead of the ORM's flush, and mark the values as
    saved; a change is saved with the row's state after every step, so this is the engine's
    most frequent statement. False, and nothing written, when the row has changes the ORM
    must write itself (a new or deleted row, a relationship)."""
    state: Any = inspect(instance)
    if not state.persistent or state.deleted:
        return False
    if not in_scope(instance.project_id):  # what the ORM's flush checks (app.scoping)
        raise ScopeViolation("ProcessInstance belongs to a project you cannot access")
    changed: dict[str, Any] = {}
    for key, before in state.committed_state.items():
        if key not in state.dict or not isinstance(state.mapper.attrs.get(key), ColumnProperty):
            return False
        value = state.dict[key]
        if value is not before and value != before:
            changed[key] = value
    if changed:
        _update_row(instance, state, changed)
        # As after the ORM's own flush: a rollback of this transaction or savepoint expires
        # the object, so it is re-read rather than trusted.
        db.session()._register_altered([state])
    # Every value in the object is now the row's: nothing is left for the ORM to flush.
    state._commit_all(state.dict, db.session.identity_map)
    return True


def _update_row(instance: ProcessInstance, state: Any, changed: dict[str, Any]) -> None:
    keys = tuple(sorted(changed))
    old = instance.lock_version
    result = db.session.connection().execute(
        _update_statement(keys),
        {"row_id": instance.id, "old_version": old, "new_version": old + 1,
         **{f"v_{k}": changed[k] for k in keys}})
    if result.rowcount != 1:
        raise StaleDataError(f"process instance {instance.id}: lock_version {old} is gone")
    state.dict["lock_version"] = old + 1


@contextmanager
def locked_instance(
    instance_id: int, *, load: bool = True, skip_locked: bool = False
) -> Iterator[Locked]:
    """Lock an instance, load its workflow (``load=False``: the row only), yield it, then step
    the engine and save the state with its projections — or, if the block raises, save nothing.

    ``skip_locked`` (the scheduler): raise :class:`InstanceBusy` at once instead of waiting
    when another worker holds the instance (``SKIP LOCKED`` / a non-blocking Redis lock).
    """
    try:
        with _redis_lock(instance_id, wait=not skip_locked):
            instance = lock_instance_row(instance_id, skip_locked=skip_locked)
            workflow = load_workflow(instance) if load else None
            # What the subscription rows hold (read before the block changes the workflow).
            before = subscription_keys(instance, workflow) if workflow is not None else None
            locked = Locked(instance, workflow)
            yield locked
            if workflow is not None and locked.save:
                if instance.status in (InstanceStatus.RUNNING, InstanceStatus.WAITING):
                    # Runs service tasks too; a failing step becomes an incident, not an error.
                    step(instance, workflow)
                locked.open_rows = save_workflow(instance, workflow, open_rows=locked.open_rows,
                                                 subscriptions_before=before)
            write_row(instance)
            db.session.flush()  # new task rows, history, subscriptions: the ORM writes them
    except StaleDataError as exc:
        raise Conflict(
            "Someone else changed this process at the same time. Reload and try again."
        ) from exc
    except LockError as exc:  # Redis: the lock stayed busy longer than REDIS_LOCK_WAIT
        raise InstanceBusy("This process is busy. Try again in a moment.") from exc
