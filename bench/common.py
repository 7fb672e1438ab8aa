"""Shared set-up for the benchmarks: a fresh database (SQLite file or PostgreSQL) with the
schema migrated, one project and the users a benchmark needs."""

from __future__ import annotations

import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask_migrate import upgrade

from app import create_app
from app.config import normalise_database_url

ROOT = Path(__file__).resolve().parent.parent

DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


@contextmanager
def bench_database(kind: str) -> Iterator[str]:
    """A URL of a new, empty database of ``kind`` ("sqlite" or "postgres"), dropped after."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{tmp}/bench.sqlite3"
        return
    server = normalise_database_url(os.environ.get("BENCH_POSTGRES_URL", DEFAULT_POSTGRES))
    name = f"estateflow_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield sa.engine.make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def make_app(url: str, instance: str | None = None) -> Any:
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SCHEDULER_ENABLED": False,
                      "INSTANCE_PATH": instance or tempfile.mkdtemp(), "SECRET_KEY": "bench",
                      "REDIS_URL": None})
    with app.app_context():
        upgrade(revision="heads")
    return app


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))
    return ordered[index]


def timed(func: Callable[[], Any]) -> float:
    start = time.perf_counter()
    func()
    return time.perf_counter() - start


def summary(values: list[float]) -> str:
    return (f"p50 {percentile(values, 50) * 1000:.1f} ms, p95 {percentile(values, 95) * 1000:.1f} "
            f"ms, mean {statistics.mean(values) * 1000:.1f} ms (n={len(values)})")
