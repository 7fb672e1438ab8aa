"""Messages on PostgreSQL with real commits: two senders of the same message, one delivery."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from app.engine import messaging, runtime
from app.engine.deployments import deploy, read_bundle
from app.engine.models import HumanTask, InstanceEvent, MessageSubscription
from app.errors import NotFound
from app.extensions import db
from app.projects import operations as projects
from app.uow import unit_of_work
from tests.engine_db.services_support import BUNDLE_SERVICES
from tests.services import fresh_postgres_database, migrated_app

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_app(postgres_url: str, tmp_path: Any) -> Iterator[Flask]:
    with fresh_postgres_database(postgres_url, "estateflow_msg") as url, \
            migrated_app(url, str(tmp_path)) as app:
        yield app


def test_two_concurrent_senders_deliver_once(pg_app):
    with pg_app.app_context(), unit_of_work():
        project = projects.create_project("PGM", "PG estate")
        deploy(read_bundle(BUNDLE_SERVICES))
        instance_id = runtime.start_instance("svc_payment", project.id,
                                             {"ticket_no": "BX-7"}).id
    barrier = threading.Barrier(2)
    results: list[str] = []

    def send() -> None:
        with pg_app.app_context():
            try:
                barrier.wait()
                with unit_of_work():
                    messaging.send_message("payment_received", {"ticket_no": "BX-7"},
                                           {"amount": 5})
                results.append("delivered")
            except NotFound:
                results.append("not found")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(results) == ["delivered", "not found"]
    with pg_app.app_context():
        tasks = db.session.scalars(sa.select(HumanTask.element_id).where(
            HumanTask.instance_id == instance_id)).all()
        assert tasks == ["Check"]
        assert db.session.scalar(sa.select(sa.func.count()).select_from(InstanceEvent).where(
            InstanceEvent.instance_id == instance_id, InstanceEvent.kind == "message")) == 1
        assert db.session.scalar(sa.select(sa.func.count()).select_from(
            MessageSubscription)) == 0
