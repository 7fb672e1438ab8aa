"""The scheduler on PostgreSQL with real commits: several schedulers, each timer once."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from app.audit.actor import Actor, acting_as
from app.engine import runtime, timer_jobs, timer_starts
from app.engine.deployments import clear_cache, deploy
from app.engine.models import HumanTask, InstanceEvent, ProcessInstance
from app.extensions import db
from app.projects import operations as projects
from app.uow import unit_of_work
from tests.engine_db.timers_support import timer_bundle
from tests.services import fresh_postgres_database, migrated_app

pytestmark = pytest.mark.postgres
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["no-redis", "redis"])
def pg(request: Any, postgres_url: str, tmp_path: Path) -> Iterator[tuple[Flask, str, str | None]]:
    """(app, database URL, Redis URL) of a fresh migrated PostgreSQL database."""
    redis = request.getfixturevalue("redis_url") if request.param == "redis" else None
    with fresh_postgres_database(postgres_url, "estateflow_sched") as url, \
            migrated_app(url, str(tmp_path), redis) as app:
        clear_cache()
        timer_starts.forget_sync()
        try:
            yield app, url, redis
        finally:
            clear_cache()
            timer_starts.forget_sync()


def _start_many(app: Flask, flow: str, n: int) -> tuple[int, list[int]]:
    with app.app_context(), acting_as(Actor(None, "test")), unit_of_work():
        project = projects.create_project("PG", "PG estate")
        deploy(timer_bundle())
        ids = [runtime.start_instance(flow, project.id, {}).id for _ in range(n)]
        project_id = project.id
    return project_id, ids


def _reminders_per_instance(app: Flask) -> dict[int, int]:
    with app.app_context():
        rows = db.session.execute(
            sa.select(HumanTask.instance_id, sa.func.count())
            .where(HumanTask.element_id == "Remind").group_by(HumanTask.instance_id)).all()
        db.session.remove()
    return {instance_id: count for instance_id, count in rows}


def test_two_scheduler_processes_fire_each_timer_once(pg, frozen_clock, tmp_path):
    app, url, redis = pg
    # Started 31 days ago by the real clock: the subprocesses (real time) find them due.
    frozen_clock.set(datetime.now(UTC) - timedelta(days=31))
    n = 300
    _project, ids = _start_many(app, "boundary_timers", n)
    env = {**os.environ, "FLASK_APP": "wsgi.py", "DATABASE_URL": url,
           "SCHEDULER_ENABLED": "false", "ESTATEFLOW_INSTANCE": str(tmp_path),
           "ESTATEFLOW_CLOCK": "system", "REDIS_URL": redis or ""}
    flask = str(Path(sys.executable).parent / "flask")
    workers = [subprocess.Popen([flask, "scheduler", "run", "--once"], cwd=ROOT, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for _ in range(2)]
    outputs = [w.communicate(timeout=300) for w in workers]
    for worker, (out, err) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, err[-3000:]
    fired = [int(out.split("timers=")[1].split()[0]) for out, _ in outputs]
    assert sum(fired) == n, (fired, [err[-2000:] for _, err in outputs])
    assert _reminders_per_instance(app) == dict.fromkeys(ids, 1)
    with app.app_context():
        created = db.session.scalar(sa.select(sa.func.count()).select_from(InstanceEvent).where(
            InstanceEvent.kind == "task_created", InstanceEvent.title == "Chase the repair"))
        assert created == n
        db.session.remove()


def test_two_scheduler_threads_racing_fire_each_timer_once(pg, frozen_clock):
    app, _url, _redis = pg
    _project, ids = _start_many(app, "boundary_timers", 120)
    frozen_clock.advance(timedelta(days=31))
    barrier = threading.Barrier(2)
    results: list[Any] = []

    def work() -> None:
        with app.app_context():
            try:
                barrier.wait(timeout=10)
                results.append(timer_jobs.fire_due_instances(batch_size=10))
            except Exception as exc:  # reported by the assertion below
                results.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert all(isinstance(r, list) for r in results), results
    first, second = results
    assert not set(first) & set(second)
    assert sorted(first + second) == sorted(ids)
    assert _reminders_per_instance(app) == dict.fromkeys(ids, 1)


def test_a_row_another_transaction_holds_is_left_for_the_next_pass(pg, frozen_clock):
    """The pass claims its group's rows with one FOR UPDATE SKIP LOCKED: a row held elsewhere
    (an admin suspending it, say) is left out and fired by a later pass, the others now."""
    app, url, _redis = pg
    _project, ids = _start_many(app, "boundary_timers", 5)
    frozen_clock.advance(timedelta(days=31))
    held = ids[2]
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1)
                              if url.startswith("postgresql://") else url)
    try:
        with engine.connect() as other:
            other.execute(sa.text("SELECT id FROM process_instance WHERE id = :id FOR UPDATE"),
                          {"id": held})
            with app.app_context():
                assert timer_jobs.fire_due_instances() == [i for i in ids if i != held]
                db.session.remove()
            other.rollback()
        with app.app_context():
            assert timer_jobs.fire_due_instances() == [held]
            db.session.remove()
    finally:
        engine.dispose()
    assert _reminders_per_instance(app) == dict.fromkeys(ids, 1)


def test_catch_up_after_downtime_on_postgres(pg, frozen_clock):
    app, _url, _redis = pg
    _project, ids = _start_many(app, "cycle_timer", 5)
    frozen_clock.advance(timedelta(days=10))
    with app.app_context():
        assert timer_jobs.fire_due_instances(limit=3, batch_size=2) == ids[:3]
        assert timer_jobs.fire_all_due() == 2
        reminders = db.session.execute(
            sa.select(HumanTask.instance_id, sa.func.count())
            .where(HumanTask.element_id == "Reminder").group_by(HumanTask.instance_id)).all()
        assert dict(reminders) == dict.fromkeys(ids, 3)
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ProcessInstance).where(
            ProcessInstance.next_timer_due.is_not(None))) == 0
        db.session.remove()


def test_two_schedulers_start_each_timer_start_once(pg, frozen_clock):
    app, _url, _redis = pg
    frozen_clock.set(datetime(2026, 11, 22, tzinfo=UTC))
    with app.app_context(), acting_as(Actor(None, "test")), unit_of_work():
        for n in range(5):
            projects.create_project(f"P{n}", f"Estate {n}")
        deploy(timer_bundle())
    with app.app_context():
        timer_starts.start_due_timer_starts()
        db.session.remove()
    frozen_clock.set(datetime(2027, 3, 2, tzinfo=UTC))  # four months due in five estates
    barrier = threading.Barrier(2)
    results: list[Any] = []

    def work() -> None:
        with app.app_context():
            try:
                barrier.wait(timeout=10)
                results.append(timer_starts.start_due_instances())
            except Exception as exc:
                results.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert all(isinstance(r, list) for r in results), results
    assert len(results[0]) + len(results[1]) == 20
    with app.app_context():
        count = db.session.scalar(sa.select(sa.func.count()).select_from(ProcessInstance).where(
            ProcessInstance.flow == "monthly_inspection"))
        assert count == 20
        db.session.remove()
