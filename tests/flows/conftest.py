"""Flow tests drive the real files in processes/, forms/ and notifications/ through the engine.

``deploy_flow("repair")`` deploys only that flow's files (``processes/repair*.bpmn|dmn``,
``forms/repair/**``, ``notifications/repair/**``), so a flow under construction elsewhere in
the tree cannot break another flow's tests; ``tests/flows/test_all_flows.py`` deploys the
whole bundle together.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from app.engine.deployments import deploy, read_bundle
from app.engine.models import Deployment

ROOT = Path(__file__).resolve().parents[2]


def flow_files(*names: str) -> dict[str, bytes]:
    """The bundle files that belong to the named flows."""
    files = read_bundle(ROOT)
    prefixes = tuple(
        p for name in names
        for p in (f"processes/{name}", f"forms/{name}/", f"notifications/{name}/")
    )
    return {path: content for path, content in files.items() if path.startswith(prefixes)}


@pytest.fixture
def deploy_flow(db_session: Any) -> Callable[..., Deployment]:
    def _deploy(*names: str) -> Deployment:
        deployment, _created = deploy(flow_files(*names))
        return deployment

    return _deploy
