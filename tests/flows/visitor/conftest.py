"""Fixtures for the visitor flow: an estate with a host, a business tenant, a guard and a
supervisor; the deployed ``visitor`` flows; helpers for timers and sent notifications."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from app.accounts.models import User
from app.audit.actor import Actor, acting_as
from app.clock import clock
from app.engine import deployments
from app.engine.timer_jobs import fire_due
from app.extensions import db
from app.outbox.models import OutboxMessage
from app.projects.models import Project, Unit
from app.records import operations as records
from app.visitors import operations as ops
from app.visitors.ratelimit import EXTENSION

TEST_ACTOR = Actor(None, "test")


@dataclass
class World:
    project: Project
    unit: Unit  # hosted by ``host``
    tenant_unit: Unit  # the business tenant's office; its owner is not a host
    empty_unit: Unit  # nobody linked
    host: User
    tenant: User
    landlord: User  # owns tenant_unit but does not live there
    guard: User
    supervisor: User
    manager: User


def _resident(project: Project, unit: Unit, user: User, relation: str, name: str) -> None:
    customer = records.create_customer(project.id, {"name": name}, allow_duplicate=True)
    records.link_unit(customer, unit, relation)
    records.link_user(customer, user.id)


@pytest.fixture(autouse=True)
def fresh_limits(app: Flask) -> Iterator[None]:
    app.extensions.pop(EXTENSION, None)
    deployments.clear_cache()
    yield
    app.extensions.pop(EXTENSION, None)


@pytest.fixture
def world(db_session: Any, create_project: Callable[..., Project],
          create_user: Callable[..., User], deploy_flow: Callable[..., Any]) -> World:
    project = create_project("VIS", "Visit Garden", units=3)
    units = sorted(project.buildings[0].units, key=lambda u: u.number)
    host = create_user("owner", projects=[project], username="host")
    tenant = create_user("tenant", projects=[project], username="bizten")
    landlord = create_user("owner", projects=[project], username="landlord")
    _resident(project, units[0], host, "owner", "王业主")
    _resident(project, units[2], tenant, "tenant", "星辰科技")
    _resident(project, units[2], landlord, "owner", "李房东")
    world = World(project, units[0], units[2], units[1], host, tenant, landlord,
                  create_user("guard", projects=[project], username="gate1"),
                  create_user("supervisor", projects=[project], username="sup1"),
                  create_user("project_manager", projects=[project], username="pm1"))
    with acting_as(TEST_ACTOR):
        deploy_flow("visitor")
    return world


def window(hours_from_now: float = 1, length_hours: float = 2) -> tuple[datetime, datetime]:
    begin = clock.now() + timedelta(hours=hours_from_now)
    return begin, begin + timedelta(hours=length_hours)


def visit(**overrides: Any) -> dict[str, Any]:
    begin, finish = window()
    data: dict[str, Any] = {"visitor_name": "张三", "visitor_phone": "138 0013 8000",
                            "party_size": 2, "purpose": "visit", "valid_from": begin,
                            "valid_until": finish}
    data.update(overrides)
    return data


@pytest.fixture
def invite(world: World) -> Callable[..., Any]:
    def make(**overrides: Any) -> Any:
        return ops.invite_visitor(world.host, {"unit_id": world.unit.id, **visit(**overrides)})

    return make


def move_clock(frozen_clock: Any, delta: timedelta) -> int:
    """Advance the clock and fire what fell due (app.engine.timer_jobs)."""
    frozen_clock.advance(delta)
    return fire_due()


def sent(event: str) -> list[OutboxMessage]:
    """The outbox rows (SMS, in-app) written for a notification event, oldest first."""
    return list(db.session.scalars(select(OutboxMessage).where(OutboxMessage.event == event)
                                   .order_by(OutboxMessage.id)))
