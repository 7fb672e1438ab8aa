"""A project with an owner living in a unit, two plumbing technicians in a team, one civil
technician, a supervisor, customer service and a project manager; the repair flow deployed."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from app.accounts.models import User
from app.clock import FrozenSource
from app.engine import deployments
from app.engine.models import HumanTask, InstanceEvent, ProcessInstance, TaskStatus
from app.engine.timer_jobs import fire_due
from app.extensions import db
from app.notifications.models import Notification
from app.outbox.models import OutboxMessage
from app.projects.models import Project, Unit
from app.records import operations as records
from app.repairs import operations as ops
from app.repairs.models import Ticket
from app.repairs.people import create_team
from app.uploads.models import Upload
from tests.conftest import PASSWORD


@dataclass
class World:
    project: Project
    unit: Unit
    owner: User
    neighbour: User
    tech: User
    tech2: User
    civil_tech: User
    supervisor: User
    cs: User
    manager: User


@pytest.fixture(autouse=True)
def fresh_caches() -> Iterator[None]:
    deployments.clear_cache()
    yield
    deployments.clear_cache()


@pytest.fixture
def world(db_session: Any, create_project: Callable[..., Project],
          create_user: Callable[..., User], deploy_flow: Callable[..., Any]) -> World:
    project = create_project()
    unit = db.session.scalars(select(Unit).where(Unit.project_id == project.id)).first()
    assert unit is not None
    owner = create_user("owner", projects=[project], username="wang")
    neighbour = create_user("owner", projects=[project], username="li")
    customer = records.create_customer(project.id, {"name": "王业主"})
    customer.user_id = owner.id
    records.link_unit(customer, unit, "owner")
    tech = create_user("technician", projects=[project], username="zhang")
    tech2 = create_user("technician", projects=[project], username="zhao")
    civil_tech = create_user("technician", projects=[project], username="qian")
    create_team(project.id, "water_electric", "水电班", [tech.id, tech2.id])
    create_team(project.id, "civil", "土建班", [civil_tech.id])
    world = World(project, unit, owner, neighbour, tech, tech2, civil_tech,
                  create_user("supervisor", projects=[project], username="liu"),
                  create_user("customer_service", projects=[project], username="chen"),
                  create_user("project_manager", projects=[project], username="zhou"))
    deploy_flow("repair")
    db.session.flush()
    return world


@pytest.fixture
def submit(world: World) -> Callable[..., Ticket]:
    def make(**overrides: Any) -> Ticket:
        data = {"category": "plumbing", "area": "unit", "description": "厨房水龙头漏水",
                "urgency": "normal", **overrides}
        return ops.submit_repair(world.project.id, overrides.pop("requester", world.owner),
                                 data)

    return make


@pytest.fixture
def advance(frozen_clock: FrozenSource) -> Callable[..., int]:
    """Move the clock and fire the timers that fell due, as the scheduler would."""

    def move(**delta: float) -> int:
        frozen_clock.advance(timedelta(**delta))
        return fire_due()

    return move


def tasks_of(ticket: Ticket, status: str = TaskStatus.OPEN) -> list[HumanTask]:
    return list(db.session.scalars(select(HumanTask).where(
        HumanTask.instance_id == ticket.instance_id, HumanTask.status == status)
        .order_by(HumanTask.id)))


def open_steps(ticket: Ticket) -> list[str]:
    return [t.element_id for t in tasks_of(ticket)]


def reload(ticket: Ticket) -> Ticket:
    db.session.expire_all()
    fresh = db.session.get(Ticket, ticket.id)
    assert fresh is not None
    instance = db.session.get(ProcessInstance, fresh.instance_id)
    assert instance is not None and instance.status != "error", "the repair flow hit an incident"
    return fresh


def notified(event: str) -> set[int]:
    """The users told of a repair event (any channel)."""
    outbox = db.session.scalars(select(OutboxMessage.user_id).where(OutboxMessage.event == event))
    inapp = db.session.scalars(select(Notification.user_id).where(Notification.event == event))
    return {u for u in [*outbox, *inapp] if u is not None}


def history_kinds(ticket: Ticket) -> list[tuple[str, str | None]]:
    return [(e.kind, e.element_id) for e in db.session.scalars(
        select(InstanceEvent).where(InstanceEvent.instance_id == ticket.instance_id)
        .order_by(InstanceEvent.id))]


def png_upload(project: Project, user: User) -> str:
    upload = Upload(project_id=project.id, stored_name=secrets.token_urlsafe(18),
                    original_name="a.png", content_type="image/png", size=10, sha256="0" * 64,
                    uploaded_by_id=user.id)
    db.session.add(upload)
    db.session.flush()
    return f"upload:{upload.id}"


@pytest.fixture
def token_headers(client: Any) -> Callable[[str], dict[str, str]]:
    """token_headers("wang") → Authorization header of a fresh API token of that user."""

    def make(username: str) -> dict[str, str]:
        response = client.post("/api/v1/auth/token",
                               json={"username": username, "password": PASSWORD, "name": "t"})
        assert response.status_code == 201, response.get_json()
        return {"Authorization": f"Bearer {response.get_json()['token']}"}

    return make
