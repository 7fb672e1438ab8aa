"""Starting many instances of a flow at once (dunning cases of a billing run)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.audit.actor import Actor, acting_as
from app.engine import runtime
from app.engine.models import HumanTask, InstanceEvent, ProcessInstance
from app.engine.runtime import NewInstance
from app.engine.workflow_cache import cache as workflow_cache
from app.errors import FieldErrors
from app.extensions import db


def _count(model, *where) -> int:
    return int(db.session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def test_many_instances_get_the_rows_one_start_gets(deployed, create_project):
    project = create_project("A")
    with acting_as(Actor(None, "billing run")):
        single = runtime.start_instance("ticket", project.id, {"n": 0}, "T-0")
        many = runtime.start_instances("ticket", project.id, [
            NewInstance({"n": n}, f"T-{n}") for n in range(1, 4)])
    assert [i.business_key for i in many] == ["T-1", "T-2", "T-3"]
    for instance in [single, *many]:
        assert instance.status == "running" and instance.current_steps == "Accept the ticket"
        assert instance.state_token
        [task] = db.session.scalars(select(HumanTask).where(
            HumanTask.instance_id == instance.id)).all()
        assert task.element_id == "Accept" and task.role == "customer_service"
        kinds = [e.kind for e in db.session.scalars(select(InstanceEvent).where(
            InstanceEvent.instance_id == instance.id).order_by(InstanceEvent.id))]
        assert kinds == ["started", "task_created"]
        started = db.session.scalar(select(InstanceEvent).where(
            InstanceEvent.instance_id == instance.id, InstanceEvent.kind == "started"))
        assert started.actor_label == "billing run"


def test_one_bad_business_key_starts_none(deployed, create_project):
    project = create_project("A")
    before = _count(ProcessInstance)
    with pytest.raises(FieldErrors) as raised:
        runtime.start_instances("ticket", project.id, [
            NewInstance({}, "T-1"), NewInstance({}, "X" * 65)])
    assert "business_key" in raised.value.fields
    assert _count(ProcessInstance) == before


def test_many_instances_started_together_are_not_kept_in_memory(deployed, create_project):
    """A billing run's cases change next weeks later: keeping thousands of their workflows
    would only fill the cache."""
    project = create_project("A")
    workflow_cache.clear()
    with acting_as(Actor(None, "billing run")):
        runtime.start_instances("ticket", project.id, [NewInstance({"n": n}) for n in range(3)])
    assert len(workflow_cache) == 0
    with acting_as(Actor(None, "billing run")):
        runtime.start_instance("ticket", project.id, {"n": 9})
    assert len(workflow_cache) == 1  # one started alone is kept for its next change
