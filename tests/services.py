"""Finding the PostgreSQL and Redis servers that tests may use."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import redis
import sqlalchemy as sa
from flask import Flask
from flask_migrate import upgrade

from app import create_app
from app.config import normalise_database_url
from app.extensions import db

DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"


def admin_url(url: str) -> str:
    """The same server, connected to its ``postgres`` maintenance database."""
    return sa.engine.make_url(url).set(database="postgres").render_as_string(hide_password=False)


def postgres_available() -> str | None:
    candidates = [os.environ.get("TEST_POSTGRES_URL"), os.environ.get("DATABASE_URL"),
                  DEFAULT_POSTGRES]
    for candidate in candidates:
        if not candidate:
            continue
        url = normalise_database_url(candidate)
        if not url.startswith("postgresql"):
            continue
        engine = sa.create_engine(admin_url(url), connect_args={"connect_timeout": 3})
        try:
            with engine.connect():
                return url
        except sa.exc.OperationalError:
            continue
        finally:
            engine.dispose()
    return None


def redis_available() -> str | None:
    for candidate in (os.environ.get("REDIS_URL"), DEFAULT_REDIS):
        if not candidate:
            continue
        try:
            redis.Redis.from_url(candidate, socket_connect_timeout=2).ping()
            return candidate
        except redis.exceptions.ConnectionError:
            continue
    return None


@contextmanager
def fresh_postgres_database(server_url: str, prefix: str) -> Iterator[str]:
    """The URL of a new, empty database on the server of ``server_url``; dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(admin_url(server_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield sa.engine.make_url(server_url).set(database=name).render_as_string(
            hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@contextmanager
def migrated_app(url: str, instance_path: str, redis_url: str | None = None) -> Iterator[Flask]:
    """An app on ``url`` with every migration applied (multi-connection tests commit for real)."""
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "INSTANCE_PATH": instance_path,
                      "SCHEDULER_ENABLED": False, "TESTING": True, "REDIS_URL": redis_url,
                      "SECRET_KEY": "test"})
    with app.app_context():
        upgrade(revision="heads")
    try:
        yield app
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
