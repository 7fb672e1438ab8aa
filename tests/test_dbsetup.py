"""SQLite connections: the write lock is taken promptly once another writer lets go."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from app.dbsetup import begin_immediate


@pytest.fixture
def database(tmp_path):
    path = tmp_path / "locks.sqlite3"
    setup = sqlite3.connect(path, isolation_level=None)
    setup.execute("PRAGMA journal_mode=WAL")
    setup.execute("CREATE TABLE t (n INTEGER)")
    setup.close()
    return path


def _connect(path) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None, check_same_thread=False)


def test_second_writer_waits_for_the_first_and_then_writes(database):
    first, second = _connect(database), _connect(database)
    begin_immediate(first)
    first.execute("INSERT INTO t VALUES (1)")
    waiting = threading.Event()
    done: list[BaseException | None] = []

    def write() -> None:
        waiting.set()
        try:
            begin_immediate(second)
            second.execute("INSERT INTO t VALUES (2)")
            second.commit()
            done.append(None)
        except BaseException as exc:  # noqa: BLE001 - reported below
            done.append(exc)

    worker = threading.Thread(target=write)
    worker.start()
    waiting.wait()
    assert not done  # it cannot write while the first holds the lock
    first.commit()
    worker.join(timeout=30)
    assert done == [None]
    assert [n for (n,) in first.execute("SELECT n FROM t ORDER BY n")] == [1, 2]
    # The connection's own lock timeout is back for the statements that follow.
    assert second.execute("PRAGMA busy_timeout").fetchone()[0] == 30000


def test_a_lock_held_too_long_is_reported(database):
    first, second = _connect(database), _connect(database)
    begin_immediate(first)
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        begin_immediate(second, timeout=0.01)
    first.rollback()
    begin_immediate(second)  # free again
    second.rollback()


def test_savepoints_roll_back_alone_and_release(db_session, create_project):
    """Savepoints (issued as plain SQL text by app.dbsetup): one rolled back takes its own
    writes only, a released one keeps them."""
    from sqlalchemy import event, select

    from app.extensions import db
    from app.projects.models import Project

    statements: list[str] = []
    engine = db.session.get_bind()
    engine = getattr(engine, "engine", engine)

    def seen(conn, cursor, statement, *args):  # noqa: ANN001, ANN002
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        kept = create_project("KEEP")
        inner = db.session.begin_nested()
        create_project("GONE")
        inner.rollback()
        released = db.session.begin_nested()
        create_project("ALSO")
        released.commit()
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    codes = set(db.session.scalars(select(Project.code)))
    assert {"KEEP", "ALSO"} <= codes and "GONE" not in codes
    assert kept.code == "KEEP"
    assert any(s.startswith("SAVEPOINT sa_savepoint_") for s in statements)
    assert any(s.startswith("ROLLBACK TO SAVEPOINT sa_savepoint_") for s in statements)
    assert any(s.startswith("RELEASE SAVEPOINT sa_savepoint_") for s in statements)
