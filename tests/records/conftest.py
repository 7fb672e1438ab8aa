"""Fixtures for customer records: a project with units and a customer factory."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from app.projects.models import Project, Unit
from app.records import operations as ops
from app.records.models import Customer

# Valid mainland ID numbers (checksums correct): born 1949-12-31 and 1990-03-07.
ELDER_ID = "11010519491231002X"
YOUNG_ID = "110101199003070011"
SH_ID = "110101195801010015"  # born 1958-01-01


@pytest.fixture
def project(create_project: Callable[..., Project]) -> Project:
    return create_project()


@pytest.fixture
def unit(project: Project) -> Unit:
    return sorted(project.buildings[0].units, key=lambda u: u.number)[0]


@pytest.fixture
def create_customer(db_session: Any) -> Callable[..., Customer]:
    counter = iter(range(1, 10_000))

    def make(project: Project, *, unit: Unit | None = None, relation: str = "owner",
             move_in: str | None = "2020-01-01", **data: Any) -> Customer:
        n = next(counter)
        data.setdefault("name", f"客户{n}")
        customer = ops.create_customer(project.id, data,
                                       allow_duplicate=data.pop("allow_duplicate", False))
        if unit is not None:
            ops.link_unit(customer, unit, relation, move_in)
        return customer

    return make
