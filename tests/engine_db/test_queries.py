"""Cost guards: list pages never deserialize workflows and do not grow queries per row."""

from __future__ import annotations

from contextlib import contextmanager

import pytest
from sqlalchemy import event

from app.engine import runtime, spiff
from app.extensions import db


@contextmanager
def count_queries():
    statements: list[str] = []
    engine = db.session.get_bind()

    def before(conn, cursor, statement, *args):
        statements.append(statement)

    target = engine.engine if hasattr(engine, "engine") else engine
    event.listen(target, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        event.remove(target, "before_cursor_execute", before)


@pytest.fixture
def busy_estate(deployed, create_project, create_user):
    project = create_project("A")
    create_user("customer_service", projects=[project], username="cs")
    return project


def _list(client, headers):
    response = client.get("/api/v1/tasks?view=roles&per_page=50", headers=headers)
    assert response.status_code == 200
    return response.get_json()


def test_inbox_and_instance_lists_cost_the_same_for_1_or_20_rows(
        client, busy_estate, token_headers, monkeypatch):
    headers = token_headers("cs")
    runtime.start_instance("ticket", busy_estate.id, {}, business_key="K-0")

    def refuse(*args, **kwargs):
        raise AssertionError("a list deserialized a workflow")

    monkeypatch.setattr(spiff, "deserialize", refuse)
    monkeypatch.setattr(spiff, "deserialize", refuse)
    with count_queries() as one:
        assert _list(client, headers)["total"] == 1
        client.get("/api/v1/instances", headers=headers)
    monkeypatch.undo()
    for n in range(1, 20):
        runtime.start_instance("ticket", busy_estate.id, {}, business_key=f"K-{n}")
    monkeypatch.setattr(spiff, "deserialize", refuse)
    monkeypatch.setattr(spiff, "deserialize", refuse)
    with count_queries() as twenty:
        assert _list(client, headers)["total"] == 20
        assert client.get("/api/v1/instances", headers=headers).get_json()["total"] == 20
    # Sign-in bookkeeping (token last use, its audit row) varies; the list queries must not.
    def lists(statements):
        return [s for s in statements if s.startswith("SELECT") and "api_token" not in s]

    assert len(lists(twenty)) == len(lists(one)), lists(twenty)


def test_starting_and_completing_cost_few_queries(busy_estate, create_user):
    cs = create_user("customer_service", projects=[busy_estate], username="cs9")
    runtime.start_instance("ticket", busy_estate.id, {})  # warms the spec cache
    with count_queries() as started:
        instance = runtime.start_instance("ticket", busy_estate.id, {})
    task = db.session.scalars(db.select(runtime.HumanTask).where(
        runtime.HumanTask.instance_id == instance.id)).one()
    with count_queries() as completed:
        runtime.complete_task(task.id, {"category": "other", "urgent": False}, cs)
    assert len(started) <= 12, started
    assert len(completed) <= 14, completed
