"""Fixtures for the lost-and-found flow: the deployed flow, an estate with people, helpers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from app.accounts.models import User
from app.engine.models import HumanTask
from app.engine.projections import open_task_rows
from app.lostfound import operations as ops
from app.lostfound.models import Item
from app.projects.models import Project

#: A valid resident ID number (checksum X) and its masked form.
ID_NUMBER = "11010519491231002X"
ID_MASKED = "110***********002X"


@dataclass
class Estate:
    project: Project
    owner: User
    tenant: User
    cs: User
    supervisor: User
    guard: User


@pytest.fixture
def estate(deploy_flow: Callable[..., Any], create_project: Callable[..., Project],
           create_user: Callable[..., User]) -> Estate:
    deploy_flow("lost_found")
    project = create_project()
    return Estate(project, create_user("owner", projects=[project]),
                  create_user("tenant", projects=[project]),
                  create_user("customer_service", projects=[project]),
                  create_user("supervisor", projects=[project]),
                  create_user("guard", projects=[project]))


def report(user: User, **overrides: Any) -> Item:
    data = {"kind": "found", "category": "wallet", "description": "黑色皮质钱包，内有门禁卡",
            "place": "3号楼大堂", "occurred_at": "2026-11-22T08:30:00+08:00",
            "contact": "13800138000"}
    data.update(overrides)
    return ops.report_item(user, data)


def task(item: Item, element_id: str) -> HumanTask:
    rows = [t for t in open_task_rows(item.instance_id or 0) if t.element_id == element_id]
    assert rows, f"no open {element_id} task; open: {open_elements(item)}"
    return rows[0]


def open_elements(item: Item) -> list[str]:
    return sorted(t.element_id for t in open_task_rows(item.instance_id or 0))
