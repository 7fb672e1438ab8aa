"""The complaint flow's world: a project with staff and a resident, the deployed flow, and
helpers to lodge complaints, work on their tasks and move the clock."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from app.accounts.models import User
from app.clock import FrozenSource
from app.complaints import operations as ops
from app.complaints.models import Complaint
from app.engine import deployments, runtime, services
from app.engine.models import HumanTask
from app.engine.projections import open_task_rows
from app.engine.timer_jobs import fire_due
from app.extensions import db
from app.projects.models import Project

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local(text: str) -> datetime:
    """A Shanghai wall-clock time: local("2026-11-23 16:00")."""
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


@pytest.fixture(autouse=True)
def fresh_caches() -> Iterator[None]:
    deployments.clear_cache()
    services.clear_cache()
    yield
    deployments.clear_cache()
    services.clear_cache()


@dataclass
class World:
    project: Project
    owner: User
    cs: User
    supervisor: User
    manager: User
    hq: User
    clock: FrozenSource

    def at(self, text: str) -> None:
        self.clock.set(local(text))

    def lodge(self, **form: Any) -> Complaint:
        data = {"category": "facilities", "title": "电梯异响",
                "description": "电梯运行时有很大的异响"}
        data.update(form)
        return ops.create_complaint(self.project.id, data, channel="portal",
                                    complainant=self.owner)

    def tasks(self, complaint: Complaint) -> list[HumanTask]:
        assert complaint.instance_id is not None
        return open_task_rows(complaint.instance_id)

    def steps(self, complaint: Complaint) -> list[str]:
        return [t.element_id for t in self.tasks(complaint)]

    def task(self, complaint: Complaint, element_id: str) -> HumanTask:
        found = [t for t in self.tasks(complaint) if t.element_id == element_id]
        assert found, f"no open {element_id}; open: {self.steps(complaint)}"
        return found[0]

    def complete(self, complaint: Complaint, element_id: str, user: User,
                 **data: Any) -> Complaint:
        runtime.complete_task(self.task(complaint, element_id).id, data, user)
        db.session.refresh(complaint)
        return complaint

    def triage(self, complaint: Complaint, **data: Any) -> Complaint:
        values: dict[str, Any] = {"category": complaint.category, "severity": "normal",
                                  "in_scope": True}
        values.update(data)
        return self.complete(complaint, "Triage", self.cs, **values)

    def handle(self, complaint: Complaint, outcome: str = "done", **data: Any) -> Complaint:
        values: dict[str, Any] = {"findings": "导靴磨损", "action_plan": "更换导靴",
                                  "outcome": outcome}
        if outcome == "done":
            values["result"] = "已更换导靴，异响消除"
        values.update(data)
        return self.complete(complaint, "Handle", self.supervisor, **values)

    def fire(self, complaint: Complaint | None = None) -> int:
        fired = fire_due()
        if complaint is not None:
            db.session.refresh(complaint)
        return fired


@pytest.fixture
def world(db_session: Any, deploy_flow: Callable[..., Any], create_project: Callable[..., Project],
          create_user: Callable[..., User], frozen_clock: FrozenSource) -> World:
    deploy_flow("complaint")
    project = create_project()
    return World(
        project=project,
        owner=create_user("owner", projects=[project]),
        cs=create_user("customer_service", projects=[project]),
        supervisor=create_user("supervisor", projects=[project]),
        manager=create_user("project_manager", projects=[project]),
        hq=create_user("hq", projects=[project]),  # role:hq resolves through grants
        clock=frozen_clock,
    )
