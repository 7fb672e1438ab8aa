"""after_commit: callbacks run once the unit of work commits, never for rolled-back work."""

from __future__ import annotations

from app.extensions import db
from app.uow import after_commit, commit, rollback


def test_callbacks_run_after_the_commit_and_not_after_a_rollback(db_session):
    ran: list[str] = []
    after_commit(lambda: ran.append("kept"))
    assert ran == []
    commit()
    assert ran == ["kept"]
    after_commit(lambda: ran.append("dropped"))
    rollback()
    commit()
    assert ran == ["kept"]


def test_a_rolled_back_savepoint_takes_its_callbacks_along(db_session):
    ran: list[str] = []
    after_commit(lambda: ran.append("before"))
    savepoint = db.session.begin_nested()
    after_commit(lambda: ran.append("rolled back"))
    inner = db.session.begin_nested()
    after_commit(lambda: ran.append("released inside the rolled-back one"))
    inner.commit()
    savepoint.rollback()
    with db.session.begin_nested():
        after_commit(lambda: ran.append("released"))
    commit()
    assert ran == ["before", "released"]
