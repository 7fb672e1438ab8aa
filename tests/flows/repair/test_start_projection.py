"""The ticket projection of an instance whose first write carries its state."""

from __future__ import annotations

import re

from sqlalchemy import select

from app.engine.deployments import deploy
from app.engine.models import ProcessInstance
from app.extensions import db
from tests.flows.conftest import flow_files
from tests.flows.repair.conftest import open_steps


def _without_service_tasks() -> dict[str, bytes]:
    """The repair flow with its notices as script tasks (the engine runs them), so a new
    instance waits for people right after the engine's own steps."""
    files = flow_files("repair")
    bpmn = files["processes/repair.bpmn"].decode()
    changed, count = re.subn(
        r'<bpmn:serviceTask ([^>]*)>\s*<bpmn:extensionElements>.*?</bpmn:extensionElements>'
        r'(.*?)</bpmn:serviceTask>',
        r'<bpmn:scriptTask \1>\2<bpmn:script>notified = None</bpmn:script></bpmn:scriptTask>',
        bpmn, flags=re.S)
    assert count > 10
    return {**files, "processes/repair.bpmn": changed.encode()}


def test_a_ticket_is_linked_when_its_instance_is_written_in_one_insert(world, submit):
    deploy(_without_service_tasks())
    ticket = submit()
    assert ticket.instance_id is not None
    instance = db.session.scalar(select(ProcessInstance).where(
        ProcessInstance.id == ticket.instance_id))
    assert instance is not None and instance.lock_version == 1  # inserted, never updated
    assert instance.status == "running" and instance.state
    assert ticket.status == "pending"
    assert (ticket.team, ticket.dispatch_mode) == ("water_electric", "pool")
    assert open_steps(ticket) == ["Accept"]
