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
from sqlalchemy import bindparam, select
from sqlalchemy.orm import lazyload
from sqlalchemy.orm.exc import StaleDataError

from app.engine.deployments import note_content_hash, restore_workflow
from app.engine.models import Deployment, HumanTask, InstanceStatus, ProcessInstance
from app.engine.projections import save_workflow, subscription_keys
from app.engine.stepping import step
from app.engine.workflow_cache import cache as workflow_cache
from app.errors import Conflict, NotFound
from app.extensions import db

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
    """The instance row (without its state), locked for this transaction and re-read."""
    row = db.session.execute(_LOCK[skip_locked], {"instance_id": instance_id}).first()
    if row is None:
        if skip_locked and db.session.get(ProcessInstance, instance_id) is not None:
            raise InstanceBusy("This process is busy. Try again in a moment.")
        raise NotFound(f"no process instance {instance_id}")
    instance, content_hash = row
    note_content_hash(instance.deployment_id, content_hash)
    return instance


#: session.info key: {instance id: (state token, state)} read ahead by :func:`prefetch_states`.
_PREFETCHED = "estateflow.prefetched_states"
_STATES = (select(ProcessInstance.id, ProcessInstance.state_token, ProcessInstance.state)
           .where(ProcessInstance.id.in_(bindparam("ids", expanding=True)))
           .execution_options(all_projects=True))


@contextmanager
def prefetch_states(instance_ids: list[int]) -> Iterator[None]:
    """Read the states of instances about to be changed one after another (a timer pass's
    group) in one query instead of one each, without locking them. :func:`load_workflow` uses
    a prefetched state only when its token is the one on the row it locked: a token is written
    once, with its state, so an instance changed in between is simply read again."""
    rows = db.session.execute(_STATES, {"ids": list(instance_ids)}) if instance_ids else []
    db.session.info[_PREFETCHED] = {i: (token, state) for i, token, state in rows}
    try:
        yield
    finally:
        db.session.info.pop(_PREFETCHED, None)


def _prefetched_state(instance: ProcessInstance) -> str | None:
    found = db.session.info.get(_PREFETCHED, {}).pop(instance.id, None)
    if found is None or found[0] is None or found[0] != instance.state_token:
        return None
    return str(found[1])


def load_workflow(instance: ProcessInstance) -> BpmnWorkflow:
    """The workflow of a locked instance: the one this process saved under the row's state
    token if it still holds it, else deserialized from the row's state (read ahead by
    :func:`prefetch_states` if its token still matches)."""
    workflow = workflow_cache.take(instance.state_token)
    if workflow is None:
        state = _prefetched_state(instance)
        if state is None:
            state = db.session.scalar(_STATE, {"instance_id": instance.id})
        if state is None:
            raise NotFound(f"no process instance {instance.id}")
        workflow = restore_workflow(instance, state)
    return workflow


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
            db.session.flush()
    except StaleDataError as exc:
        raise Conflict(
            "Someone else changed this process at the same time. Reload and try again."
        ) from exc
    except LockError as exc:  # Redis: the lock stayed busy longer than REDIS_LOCK_WAIT
        raise InstanceBusy("This process is busy. Try again in a moment.") from exc
