"""Diagrams name who may work on a task: ``candidates`` restrict it, ``assignee`` assigns it."""

from __future__ import annotations

import pytest

from app.audit.actor import Actor, acting_as
from app.engine import deployments, runtime
from app.engine.inbox import InboxFilter, inbox_query
from app.engine.models import HumanTask
from app.engine.projections import open_task_rows
from app.errors import Forbidden
from app.extensions import db

PROP = b'<spiffworkflow:property name="%s" value="%s" />'
REPAIR_PROPS = PROP % (b"formJsonSchemaFilename", b"ticket/repair.json")
REVIEW_PROPS = PROP % (b"formJsonSchemaFilename", b"ticket/review.json")


@pytest.fixture
def people_bundle(db_session, bundle_min):
    files = dict(bundle_min)
    bpmn = files["processes/ticket.bpmn"]
    assert REPAIR_PROPS in bpmn and REVIEW_PROPS in bpmn
    bpmn = bpmn.replace(REPAIR_PROPS, REPAIR_PROPS + PROP % (b"assignee", b"=technician_id"))
    bpmn = bpmn.replace(REVIEW_PROPS, REVIEW_PROPS + PROP % (b"candidates", b"=[reviewer_id]"))
    files["processes/ticket.bpmn"] = bpmn
    with acting_as(Actor(None, "test")):
        deployments.deploy(files)
    return files


def _inbox(user, view):
    return [row[0].element_id for row in db.session.execute(inbox_query(user, InboxFilter(view)))]


def test_assignee_and_candidates_from_task_data(people_bundle, create_project, create_user):
    project = create_project()
    cs = create_user("customer_service", projects=[project])
    tech = create_user("technician", projects=[project])
    other_tech = create_user("technician", projects=[project])
    reviewer = create_user("customer_service", projects=[project])
    instance = runtime.start_instance("ticket", project.id, {
        "technician_id": tech.id, "reviewer_id": reviewer.id})
    [accept] = open_task_rows(instance.id)
    runtime.complete_task(accept.id, {"category": "plumbing", "urgent": False}, cs)

    # The repair goes straight into the named technician's inbox.
    assert _inbox(tech, "mine") == ["Repair"]
    assert _inbox(other_tech, "mine") == []
    repair = db.session.scalars(db.select(HumanTask).where(
        HumanTask.element_id == "Repair")).one()
    assert repair.assignee_id == tech.id
    runtime.complete_task(repair.id, {"fixed": True}, tech)

    # The review is restricted to the named reviewer: not in other customer-service inboxes.
    assert _inbox(reviewer, "mine") == ["Review"]
    assert "Review" not in _inbox(cs, "roles")
    review = db.session.scalars(db.select(HumanTask).where(
        HumanTask.element_id == "Review")).one()
    assert review.restricted and review.candidate_user_ids == [reviewer.id]
    with pytest.raises(Forbidden):
        runtime.complete_task(review.id, {"approved": True}, cs)
    runtime.complete_task(review.id, {"approved": True}, reviewer)
