"""Finding the PostgreSQL and Redis servers that tests may use."""

from __future__ import annotations

import os

import redis
import sqlalchemy as sa

from app.config import normalise_database_url

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
