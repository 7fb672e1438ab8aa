"""The runtime on PostgreSQL with real commits: two people completing the same task."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from app.accounts import operations as accounts
from app.accounts.models import User
from app.engine import runtime
from app.engine.deployments import deploy, read_bundle
from app.engine.models import HumanTask, InstanceEvent, ProcessInstance
from app.errors import Conflict
from app.extensions import db
from app.projects import operations as projects
from app.uow import unit_of_work
from tests.engine_db.conftest import BUNDLE_MIN
from tests.services import fresh_postgres_database, migrated_app

pytestmark = pytest.mark.postgres


@pytest.fixture(params=["no-redis", "redis"])
def pg_app(request: Any, postgres_url: str, tmp_path: Any) -> Iterator[Flask]:
    """A fresh migrated PostgreSQL database; once without and once with a Redis lock."""
    redis = request.getfixturevalue("redis_url") if request.param == "redis" else None
    with fresh_postgres_database(postgres_url, "estateflow_engine") as url, \
            migrated_app(url, str(tmp_path), redis) as app:
        yield app


def _setup(app: Flask) -> tuple[int, list[int]]:
    """A project, two customer-service users, the ticket flow and one started instance."""
    with app.app_context(), unit_of_work():
        project = projects.create_project("PG", "PG estate")
        ids = [accounts.create_user(f"cs{n}", "long-enough-1", f"CS {n}",
                                    ["customer_service"], [project.id]).id for n in (1, 2)]
        deploy(read_bundle(BUNDLE_MIN))
        instance = runtime.start_instance("ticket", project.id, {}, business_key="PG-1")
        task_id = db.session.scalar(sa.select(HumanTask.id).where(
            HumanTask.instance_id == instance.id))
    return task_id, ids


def test_two_concurrent_completions_one_wins(pg_app):
    task_id, user_ids = _setup(pg_app)
    barrier = threading.Barrier(2)
    results: dict[int, str] = {}

    def work(user_id: int) -> None:
        with pg_app.app_context():
            try:
                user = db.session.get(User, user_id)
                barrier.wait(timeout=10)
                with unit_of_work():
                    runtime.complete_task(task_id, {"category": "plumbing", "urgent": False},
                                          user)
                results[user_id] = "won"
            except Conflict as exc:
                results[user_id] = f"conflict: {exc.message}"
            except Exception as exc:  # reported by the assertion below
                results[user_id] = f"error: {exc!r}"
            finally:
                db.session.remove()

    threads = [threading.Thread(target=work, args=(uid,)) for uid in user_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    outcomes = sorted(results.values())
    assert len(outcomes) == 2, results
    assert outcomes[1] == "won", results
    assert outcomes[0].startswith("conflict: This task was already completed by CS"), results

    with pg_app.app_context():
        task = db.session.get(HumanTask, task_id)
        assert task.status == "completed"
        completions = db.session.scalar(sa.select(sa.func.count()).select_from(InstanceEvent)
                                        .where(InstanceEvent.kind == "completed"))
        assert completions == 1
        open_rows = db.session.scalars(sa.select(HumanTask.element_id).where(
            HumanTask.status == "open")).all()
        assert open_rows == ["Repair"]


def test_a_writer_without_the_lock_loses(pg_app):
    """lock_version: a stale copy of the instance cannot overwrite a newer state."""
    task_id, user_ids = _setup(pg_app)
    with pg_app.app_context():
        stale_session = Session(db.engine)
        stale = stale_session.scalar(sa.select(ProcessInstance))
        with unit_of_work():
            runtime.complete_task(task_id, {"category": "other", "urgent": True},
                                  db.session.get(User, user_ids[0]))
        stale.current_steps = "overwritten"
        with pytest.raises(StaleDataError):
            stale_session.flush()
        stale_session.rollback()
        stale_session.close()
