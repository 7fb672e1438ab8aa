"""Billing tests run in the same world as the dunning flow tests (the flow is deployed, so a
payment can reach an open case)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from app.clock import FrozenSource
from app.engine import deployments, services
from tests.billing.world import BillingWorld, make_world
from tests.flows.conftest import deploy_flow  # noqa: F401,F811 - fixture


@pytest.fixture(autouse=True)
def fresh_caches() -> Iterator[None]:
    deployments.clear_cache()
    services.clear_cache()
    yield
    deployments.clear_cache()
    services.clear_cache()


@pytest.fixture
def world(db_session: Any, deploy_flow: Callable[..., Any], create_project: Callable[..., Any],  # noqa: F811
          create_user: Callable[..., Any], frozen_clock: FrozenSource) -> BillingWorld:
    deploy_flow("dunning")
    return make_world(create_project, create_user, frozen_clock)
