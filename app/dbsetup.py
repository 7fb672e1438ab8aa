"""Database connection settings that SQLAlchemy does not apply by itself."""

from __future__ import annotations

import sqlite3
import time
from typing import Any

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from app.extensions import db

_installed = False


def _on_connect(dbapi_connection: Any, connection_record: Any) -> None:
    if isinstance(dbapi_connection, sqlite3.Connection):
        # Let SQLAlchemy emit BEGIN itself (pysqlite's own handling breaks SAVEPOINT), wait for
        # locks instead of failing, and enforce foreign keys as PostgreSQL does.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


#: Milliseconds a statement waits for a lock (SQLite's own busy handler).
BUSY_TIMEOUT_MS = 30000
#: Longest pause between two tries to take the write lock, in seconds.
BEGIN_RETRY_MAX_PAUSE = 0.002


def begin_immediate(raw: sqlite3.Connection, timeout: float = BUSY_TIMEOUT_MS / 1000) -> None:
    """``BEGIN IMMEDIATE``, retried every few hundred microseconds while another connection
    writes. SQLite's own busy handler sleeps 1, 2, 5, 10, 15, 20, 25… ms between tries: with
    short transactions (a task completion takes a few ms) the waiter would sleep longer than
    the holder works, and two web workers would mostly wait on each other."""
    deadline = time.monotonic() + timeout
    pause = 0.0001
    raw.execute("PRAGMA busy_timeout=0")
    try:
        while True:
            try:
                raw.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() >= deadline:
                    raise
            time.sleep(pause)
            pause = min(pause * 2, BEGIN_RETRY_MAX_PAUSE)
    finally:
        raw.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")


def _on_begin(connection: Connection) -> None:
    autocommit = connection.get_execution_options().get("isolation_level") == "AUTOCOMMIT"
    if connection.dialect.name == "sqlite" and not autocommit:
        # IMMEDIATE takes the write lock at once: writers are serialized instead of failing
        # with "database is locked" when a reader upgrades.
        raw = connection.connection.driver_connection
        assert isinstance(raw, sqlite3.Connection)
        begin_immediate(raw)


def _plain_savepoints(dialect: Any) -> None:
    """Savepoints as plain SQL text. SQLAlchemy compiles every SAVEPOINT / RELEASE / ROLLBACK
    TO statement anew (each has a new name, so none is cached): ~0.1 ms per savepoint, three
    per dunning reminder (the timer pass's per-instance savepoint and one per service task).
    The names are SQLAlchemy's own (``sa_savepoint_<n>``), quoted as its compiler would."""
    quote = dialect.identifier_preparer.quote

    def do_savepoint(connection: Connection, name: str) -> None:
        connection.exec_driver_sql(f"SAVEPOINT {quote(name)}")

    def do_release_savepoint(connection: Connection, name: str) -> None:
        connection.exec_driver_sql(f"RELEASE SAVEPOINT {quote(name)}")

    def do_rollback_to_savepoint(connection: Connection, name: str) -> None:
        connection.exec_driver_sql(f"ROLLBACK TO SAVEPOINT {quote(name)}")

    dialect.do_savepoint = do_savepoint
    dialect.do_release_savepoint = do_release_savepoint
    dialect.do_rollback_to_savepoint = do_rollback_to_savepoint


def init_app(app: Flask) -> None:
    global _installed
    if not _installed:
        event.listen(Engine, "connect", _on_connect)
        event.listen(Engine, "begin", _on_begin)
        _installed = True
    with app.app_context():
        for engine in db.engines.values():
            _plain_savepoints(engine.dialect)
