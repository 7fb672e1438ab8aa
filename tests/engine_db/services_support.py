"""Fixtures for the service task, message, signal and incident tests (bundle_services).

Import ``FIXTURES_IMPORTED`` names into a test module to use them (``svc``,
``bundle_services``, and the autouse template-cache reset).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from app.accounts.models import User
from app.audit.actor import Actor, acting_as
from app.engine import deployments, runtime, services
from app.engine.deployments import read_bundle
from app.engine.models import Deployment, HumanTask, ProcessInstance, TaskStatus
from app.extensions import db
from app.projects.models import Project
from tests.engine_db.conftest import FIXTURES

BUNDLE_SERVICES = FIXTURES / "bundle_services"


@dataclass
class Svc:
    project: Project
    supervisor: User
    requester: User
    deployment: Deployment

    def start(self, flow: str, data: dict[str, Any] | None = None,
              business_key: str | None = None, project: Project | None = None
              ) -> ProcessInstance:
        """Start ``flow`` as the requester."""
        with acting_as(Actor(self.requester.id, self.requester.display_name)):
            return runtime.start_instance(flow, (project or self.project).id, data or {},
                                          business_key)

    def open_tasks(self, instance: ProcessInstance) -> list[str]:
        return [t.element_id for t in db.session.scalars(
            select(HumanTask).where(HumanTask.instance_id == instance.id,
                                    HumanTask.status == TaskStatus.OPEN.value)
            .order_by(HumanTask.id))]

    def complete(self, instance: ProcessInstance, element_id: str,
                 data: dict[str, Any] | None = None) -> HumanTask:
        task = db.session.scalar(select(HumanTask).where(
            HumanTask.instance_id == instance.id, HumanTask.element_id == element_id,
            HumanTask.status == TaskStatus.OPEN.value))
        assert task is not None, f"no open task {element_id}"
        with acting_as(Actor(self.supervisor.id, self.supervisor.display_name)):
            return runtime.complete_task(task.id, data or {}, self.supervisor)


@pytest.fixture(name="fresh_template_cache", autouse=True)
def fresh_template_cache_fixture() -> Iterator[None]:
    services.clear_cache()
    yield
    services.clear_cache()


@pytest.fixture(name="bundle_services")
def bundle_services_fixture() -> dict[str, bytes]:
    return read_bundle(BUNDLE_SERVICES)


@pytest.fixture(name="svc")
def svc_fixture(db_session: Any, create_project: Callable[..., Project],
                create_user: Callable[..., User], bundle_services: dict[str, bytes]) -> Svc:
    project = create_project()
    supervisor = create_user("supervisor", projects=[project])
    requester = create_user("owner", projects=[project])
    with acting_as(Actor(None, "test")):
        deployment, _ = deployments.deploy(bundle_services)
    return Svc(project, supervisor, requester, deployment)


#: What a test module imports to get these fixtures.
FIXTURES_IMPORTED = (fresh_template_cache_fixture, bundle_services_fixture, svc_fixture)
