"""The in-memory workflow cache: changes skip deserializing, and never act on a stale state."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event, select, update

from app.audit.actor import Actor, acting_as
from app.engine import runtime
from app.engine.locking import claim_group, locked_instance
from app.engine.models import HumanTask, ProcessInstance, TaskStatus
from app.engine.workflow_cache import WorkflowCache
from app.engine.workflow_cache import cache as workflow_cache
from app.errors import FieldErrors
from app.extensions import db


def _open(instance: ProcessInstance) -> HumanTask:
    return db.session.scalars(select(HumanTask).where(
        HumanTask.instance_id == instance.id, HumanTask.status == TaskStatus.OPEN)).one()


def _complete(instance: ProcessInstance, user: Any, data: dict[str, Any]) -> HumanTask:
    with acting_as(Actor(user.id, "sup")):
        return runtime.complete_task(_open(instance).id, data, user)


def test_next_change_uses_the_workflow_saved_last(ticket, restores):
    instance, user = ticket
    _complete(instance, user, {"category": "plumbing", "urgent": False})
    _complete(instance, user, {"fixed": True, "hours": 1.5})
    assert restores == []  # both changes used the workflow this process saved
    assert _open(instance).element_id == "Review"
    # What is stored is the same: a process without the cache sees the same workflow.
    workflow_cache.clear()
    _complete(instance, user, {"approved": True})
    assert restores == [1]
    db.session.refresh(instance)
    assert instance.status == "completed"


def test_a_state_saved_elsewhere_is_read_from_the_row(ticket, restores):
    """Another process saved the instance (new token): the cached workflow is not used."""
    instance, user = ticket
    state = db.session.scalar(select(ProcessInstance.state)
                              .where(ProcessInstance.id == instance.id))
    db.session.execute(update(ProcessInstance).where(ProcessInstance.id == instance.id)
                       .values(state=state, state_token="saved-by-another-process"))
    _complete(instance, user, {"category": "plumbing", "urgent": False})
    assert restores == [1]
    assert _open(instance).element_id == "Repair"


def test_a_failed_change_leaves_no_half_changed_workflow_behind(ticket, restores):
    instance, user = ticket
    with pytest.raises(RuntimeError), locked_instance(instance.id) as locked:
        assert locked.workflow is not None
        locked.workflow.data["half"] = "written"
        raise RuntimeError("the change failed")
    # The object the failed block changed was dropped: the next change reads the row.
    with locked_instance(instance.id) as locked:
        assert locked.workflow is not None and "half" not in locked.workflow.data
    assert restores == [1]


def test_invalid_form_data_changes_nothing_and_the_next_change_still_works(ticket, restores):
    instance, user = ticket
    with pytest.raises(FieldErrors):
        _complete(instance, user, {"category": "magic"})
    done = _complete(instance, user, {"category": "plumbing", "urgent": False})
    assert done.status == "completed" and _open(instance).element_id == "Repair"


def test_cache_forgets_the_least_recently_saved():
    cache = WorkflowCache(size=2)
    first, second, third = object(), object(), object()
    cache.put("a", first)  # type: ignore[arg-type]
    cache.put("b", second)  # type: ignore[arg-type]
    cache.put("c", third)  # type: ignore[arg-type]
    assert cache.take("a") is None and cache.take("c") is third
    assert cache.take("c") is None  # taken once: the holder owns it now
    assert len(cache) == 1


def _statements_on_state(run: Any) -> int:
    """How many statements that read ``process_instance.state`` ``run()`` issued."""
    seen: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "process_instance.state " in statement or "process_instance.state," in statement:
            seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        run()
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    return len(seen)


def _statements_locking_instances(run: Any) -> int:
    """How many statements that lock ``process_instance`` rows ``run()`` issued (SQLite
    drops FOR UPDATE from the SQL: there, the SELECTs of the instance row are counted)."""
    seen: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        flat = " ".join(statement.split())
        if "FROM process_instance JOIN deployment" in flat:
            seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        run()
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    return len(seen)


def test_a_claimed_group_spares_the_lock_and_the_state_read(ticket, restores):
    """A timer pass locks and reads its group's rows and states in one query; the change of
    each instance then neither locks nor reads its row again."""
    instance, user = ticket
    workflow_cache.clear()
    with claim_group([instance.id]):
        locks = _statements_locking_instances(lambda: _statements_on_state(
            lambda: _complete(instance, user, {"category": "plumbing", "urgent": False})))
    assert locks == 0 and restores == [1]
    assert _open(instance).element_id == "Repair"
    # Without the claim the change locks the row itself.
    workflow_cache.clear()
    assert _statements_locking_instances(
        lambda: _complete(instance, user, {"fixed": True, "hours": 1.5})) == 1


def test_a_claimed_row_serves_one_change_only(ticket, restores):
    """Claimed, then changed (new token, new version): the next change in the same group
    locks and reads the row again — otherwise it would act on the workflow as it was."""
    instance, user = ticket
    with claim_group([instance.id]):
        _complete(instance, user, {"category": "plumbing", "urgent": False})
        workflow_cache.clear()
        _complete(instance, user, {"fixed": True, "hours": 1.5})
    assert _open(instance).element_id == "Review"
    assert restores == [1]


def test_a_claimed_state_the_row_no_longer_holds_is_not_used(ticket, restores):
    """The row was saved again between the claim and the change (its token changed): the
    change reads the state the row holds now."""
    instance, user = ticket
    workflow_cache.clear()
    with claim_group([instance.id]):
        state = db.session.scalar(select(ProcessInstance.state)
                                  .where(ProcessInstance.id == instance.id))
        db.session.execute(update(ProcessInstance).where(ProcessInstance.id == instance.id)
                           .values(state=state, state_token="saved-in-between"))
        db.session.refresh(instance)
        reads = _statements_on_state(
            lambda: _complete(instance, user, {"category": "plumbing", "urgent": False}))
    assert reads == 1 and restores == [1]
    assert _open(instance).element_id == "Repair"


def test_a_timer_group_does_not_keep_the_workflows_it_saved(ticket, restores):
    """A timer pass steps thousands of instances whose next change is days away: keeping their
    workflows would only fill memory (and slow garbage collection)."""
    instance, user = ticket
    workflow_cache.clear()
    with claim_group([instance.id]):
        _complete(instance, user, {"category": "plumbing", "urgent": False})
    assert len(workflow_cache) == 0 and restores == [1]
    _complete(instance, user, {"fixed": True, "hours": 1.5})  # reads the state again
    assert restores == [1, 1]
    assert len(workflow_cache) == 1  # outside a group the saved workflow is kept
