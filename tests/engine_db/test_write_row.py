"""The instance row is saved with one plain UPDATE checked against lock_version."""

from __future__ import annotations

import pytest
from sqlalchemy import event, select, update
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError

from app.audit.actor import Actor, acting_as
from app.engine import runtime
from app.engine.locking import locked_instance, write_row
from app.engine.models import HumanTask, ProcessInstance, TaskStatus
from app.errors import Conflict
from app.extensions import db


@pytest.fixture
def started(ticket):
    db.session.commit()  # the tests below roll back their own work
    return ticket


@pytest.fixture
def statements():
    seen: list[str] = []

    def log(_conn, _cursor, statement, *_args):
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", log)
    yield seen
    event.remove(db.engine, "before_cursor_execute", log)


def _row(instance_id: int) -> tuple[str, int]:
    return db.session.execute(select(ProcessInstance.current_steps, ProcessInstance.lock_version)
                              .where(ProcessInstance.id == instance_id)).one()._tuple()


def test_a_change_is_one_update_and_leaves_nothing_to_flush(started, statements):
    instance, _user = started
    version = instance.lock_version
    instance.current_steps = "Somewhere else"
    assert write_row(instance)
    updates = [s for s in statements if s.startswith("UPDATE process_instance")]
    assert len(updates) == 1
    assert instance.lock_version == version + 1
    assert instance not in db.session.dirty
    db.session.flush()
    assert len([s for s in statements if s.startswith("UPDATE process_instance")]) == 1
    assert _row(instance.id) == ("Somewhere else", version + 1)


def test_an_unchanged_row_writes_nothing(started, statements):
    instance, _user = started
    instance.current_steps = instance.current_steps  # set, but to the same value
    assert write_row(instance)
    assert not [s for s in statements if s.startswith("UPDATE")]


def test_a_stale_copy_cannot_overwrite_a_newer_row(started):
    instance, _user = started
    before = _row(instance.id)
    # This copy was read before another writer saved the row.
    set_committed_value(instance, "lock_version", instance.lock_version - 1)
    instance.current_steps = "mine"
    with pytest.raises(StaleDataError):
        write_row(instance)
    db.session.rollback()
    assert _row(instance.id) == before


def test_a_rolled_back_savepoint_reloads_the_row(started):
    """The object is not trusted after its write was rolled back: it is read again."""
    instance, _user = started
    before = _row(instance.id)
    savepoint = db.session.begin_nested()
    instance.current_steps = "rolled back"
    write_row(instance)
    savepoint.rollback()
    assert (instance.current_steps, instance.lock_version) == before


def test_a_completion_through_the_engine_saves_the_row(started):
    instance, user = started
    version = instance.lock_version
    task = db.session.scalars(select(HumanTask).where(
        HumanTask.instance_id == instance.id, HumanTask.status == TaskStatus.OPEN)).one()
    with acting_as(Actor(user.id, "sup")):
        runtime.complete_task(task.id, {"category": "plumbing", "urgent": False}, user)
    db.session.commit()
    steps, saved_version = _row(instance.id)
    assert saved_version == version + 1 and steps == instance.current_steps != ""
    # A second writer working from the old version is refused.
    with pytest.raises(Conflict), locked_instance(instance.id) as locked:
        db.session.execute(update(ProcessInstance)
                           .where(ProcessInstance.id == instance.id)
                           .values(lock_version=saved_version + 5),
                           execution_options={"synchronize_session": False})
        locked.instance.current_steps = "stale"
