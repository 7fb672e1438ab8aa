"""Fixtures for the runtime tests: the small bundles, a deployed ticket flow, API tokens."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from app.audit.actor import Actor, acting_as
from app.engine import deployments, runtime, spiff
from app.engine.deployments import read_bundle
from app.engine.models import Deployment
from tests.conftest import PASSWORD

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
BUNDLE_MIN = FIXTURES / "bundle_min"
BUNDLE_REPAIR = FIXTURES / "bpmn" / "bundle"


@pytest.fixture
def restores(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """One entry per workflow restored from a stored state (not taken from memory)."""
    counted: list[int] = []
    real = spiff.deserialize

    def counting(text: Any, *args: Any, **kwargs: Any) -> Any:
        counted.append(1)
        return real(text, *args, **kwargs)

    monkeypatch.setattr(spiff, "deserialize", counting)
    return counted


@pytest.fixture(autouse=True)
def fresh_spec_cache() -> Iterator[None]:
    deployments.clear_cache()
    yield
    deployments.clear_cache()


@pytest.fixture
def bundle_min() -> dict[str, bytes]:
    return read_bundle(BUNDLE_MIN)


@pytest.fixture
def deployed(db_session: Any, bundle_min: dict[str, bytes]) -> Deployment:
    with acting_as(Actor(None, "test")):
        deployment, _ = deployments.deploy(bundle_min)
    return deployment


@pytest.fixture
def token_headers(client: Any) -> Callable[[str], dict[str, str]]:
    """token_headers("cs1") → Authorization header of a fresh API token of that user."""

    def make(username: str) -> dict[str, str]:
        response = client.post("/api/v1/auth/token",
                               json={"username": username, "password": PASSWORD, "name": "t"})
        assert response.status_code == 201, response.get_json()
        return {"Authorization": f"Bearer {response.get_json()['token']}"}

    return make


@pytest.fixture
def ticket(deployed: Any, create_project: Any, create_user: Any) -> tuple[Any, Any]:
    """A started "ticket" instance (waiting at its first user task) and a supervisor."""
    project = create_project("A")
    user = create_user("supervisor", projects=[project])
    with acting_as(Actor(user.id, "sup")):
        instance = runtime.start_instance("ticket", project.id, {}, "T-1")
    return instance, user
