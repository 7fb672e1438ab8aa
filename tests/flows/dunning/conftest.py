"""The dunning flow's world: billed units with owners, the deployed flow, day-by-day time."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from app.clock import FrozenSource
from app.engine import deployments, services
from tests.billing.world import BillingWorld, make_world


@pytest.fixture(autouse=True)
def fresh_caches() -> Iterator[None]:
    deployments.clear_cache()
    services.clear_cache()
    yield
    deployments.clear_cache()
    services.clear_cache()


@pytest.fixture
def world(db_session: Any, deploy_flow: Callable[..., Any], create_project: Callable[..., Any],
          create_user: Callable[..., Any], frozen_clock: FrozenSource) -> BillingWorld:
    deploy_flow("dunning")
    return make_world(create_project, create_user, frozen_clock)
