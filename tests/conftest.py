"""Shared fixtures: one app per session, each test inside a rolled-back savepoint.

The database is the one ``TEST_DATABASE_URL`` or ``DATABASE_URL`` names (a fresh PostgreSQL
database is created for the run and dropped after), or a SQLite file in a temporary folder.
The schema is built by running the migrations, so every run tests them too.
"""

from __future__ import annotations

import os
import re
import socket
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.globals import _cv_app
from flask.testing import FlaskClient
from flask_migrate import upgrade
from sqlalchemy.orm import scoped_session, sessionmaker

from app import create_app
from app.accounts import operations as accounts
from app.accounts.lockout import MemoryLockoutStore
from app.accounts.models import User
from app.clock import FrozenSource, clock
from app.config import normalise_database_url
from app.extensions import db
from app.projects import operations as projects
from app.projects.models import Project
from tests.services import admin_url, postgres_available, redis_available

PASSWORD = "correct-horse-9"
START = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai


def _database_url(tmp_root: str) -> tuple[str, Callable[[], None]]:
    url = os.environ.get("TEST_DATABASE_URL") or os.environ.get("DATABASE_URL")
    if not url:
        return f"sqlite:///{tmp_root}/estateflow-test.sqlite3", lambda: None
    url = normalise_database_url(url)
    if not url.startswith("postgresql"):
        return url, lambda: None
    name = f"estateflow_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(admin_url(url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    test_url = sa.engine.make_url(url).set(database=name).render_as_string(hide_password=False)

    def drop() -> None:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()

    return test_url, drop


@pytest.fixture(scope="session")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    root = tmp_path_factory.mktemp("instance")
    url, drop = _database_url(str(root))
    application = create_app({
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": url,
        "INSTANCE_PATH": str(root),
        "SECRET_KEY": "test-secret",
        "SCHEDULER_ENABLED": False,
        "REDIS_URL": None,
    })
    with application.app_context():
        upgrade(revision="heads")

    def boom() -> str:
        raise RuntimeError("kaboom: an unexpected failure")

    application.add_url_rule("/_test/boom", "test_boom", boom)
    yield application
    with application.app_context():
        db.engine.dispose()
    drop()


@pytest.fixture(autouse=True)
def frozen_clock() -> Iterator[FrozenSource]:
    """Every test runs at a fixed instant; move it with ``frozen_clock.advance(...)``."""
    source = FrozenSource(START)
    clock.use(source)
    yield source
    clock.reset()


@pytest.fixture(autouse=True)
def no_outside_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any test that would reach beyond this machine (a real SMS, e-mail, HTTP call)."""
    real = socket.socket.connect

    def guarded(sock: socket.socket, address: Any) -> Any:
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, str) and not (
            host.startswith("127.") or host in {"::1", "localhost"} or host.startswith("/")
        ):
            raise AssertionError(f"test tried to connect to {address!r}")
        return real(sock, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


@pytest.fixture
def db_session(app: Flask) -> Iterator[Any]:
    """The app's session, inside a transaction that is rolled back after the test."""
    with app.app_context():
        connection = db.engine.connect()
        outer = connection.begin()
        original = db.session
        db.session = scoped_session(  # type: ignore[assignment]
            sessionmaker(bind=connection, join_transaction_mode="create_savepoint")
        )
        app.extensions["estateflow_lockout"].store = MemoryLockoutStore()
        try:
            yield db.session
        finally:
            db.session.remove()
            db.session = original  # type: ignore[assignment]
            outer.rollback()
            connection.close()


class IsolatedClient(FlaskClient):
    """Gives every request its own ``g``, as in production.

    Tests hold an app context open (for the rolled-back session), and Flask reuses an open app
    context for requests, so without this ``g`` (signed-in user, locale, project scope) would
    leak from one request into the next.
    """

    def open(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        ctx = _cv_app.get(None)
        saved = ctx.g if ctx is not None else None
        if ctx is not None:
            ctx.g = self.application.app_ctx_globals_class()
        try:
            return super().open(*args, **kwargs)
        finally:
            if ctx is not None:
                ctx.g = saved


@pytest.fixture
def client(app: Flask, db_session: Any) -> FlaskClient:
    app.test_client_class = IsolatedClient
    test_client = app.test_client()
    # Tests read English unless they ask for Chinese (the product's default is zh_CN).
    test_client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return test_client


@pytest.fixture
def create_project(db_session: Any) -> Callable[..., Project]:
    counter = iter(range(1, 10_000))

    def make(code: str | None = None, name: str | None = None, units: int = 2) -> Project:
        n = next(counter)
        project = projects.create_project(code or f"P{n}", name or f"Project {n}")
        building = projects.add_building(project, "1号楼")
        for i in range(units):
            projects.add_unit(building, f"10{i + 1}", floor=1)
        return project

    return make


@pytest.fixture
def create_user(db_session: Any) -> Callable[..., User]:
    counter = iter(range(1, 10_000))

    def make(*roles: str, projects: list[Project] | tuple[Project, ...] = (),
             username: str | None = None, password: str = PASSWORD) -> User:
        name = username or f"user{next(counter)}"
        return accounts.create_user(name, password, name.title(), roles,
                                    [p.id for p in projects])

    return make


CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_from(client: FlaskClient, path: str = "/login") -> str:
    page = client.get(path).get_data(as_text=True)
    match = CSRF_RE.search(page)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


class Auth:
    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def login(self, username: str, password: str = PASSWORD) -> Any:
        token = csrf_from(self.client)
        return self.client.post("/login", data={"username": username, "password": password,
                                                "csrf_token": token})

    def csrf(self, path: str = "/") -> str:
        return csrf_from(self.client, path)

    def logout(self) -> Any:
        return self.client.post("/logout", data={"csrf_token": self.csrf()})


@pytest.fixture
def auth(client: FlaskClient) -> Auth:
    return Auth(client)


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """A reachable PostgreSQL server URL (skips if none, fails under CI=true)."""
    url = postgres_available()
    if url is None:
        if os.environ.get("CI") == "true":
            pytest.fail("PostgreSQL is required under CI=true but is not reachable")
        pytest.skip("PostgreSQL not reachable (set DATABASE_URL or run it on 127.0.0.1:5432)")
    return url


@pytest.fixture(scope="session")
def redis_url() -> str:
    """A reachable Redis URL (skips if none, fails under CI=true)."""
    url = redis_available()
    if url is None:
        if os.environ.get("CI") == "true":
            pytest.fail("Redis is required under CI=true but is not reachable")
        pytest.skip("Redis not reachable (set REDIS_URL or run it on 127.0.0.1:6379)")
    return url
