"""Fixtures for the pure engine tests: a frozen clock and the hand-written BPMN fixtures."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow

from app.clock import FrozenSource, clock
from app.engine import spiff
from app.engine.parsing import create_parser

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "bpmn"
START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@pytest.fixture
def frozen_clock() -> Iterator[FrozenSource]:
    source = FrozenSource(START)
    clock.use(source)
    yield source
    clock.reset()


@pytest.fixture(scope="session")
def parser():
    return create_parser({p.name: p.read_bytes() for p in FIXTURES.glob("*.bpmn")})


@pytest.fixture
def start_workflow(parser, frozen_clock) -> Callable[..., BpmnWorkflow]:
    """start_workflow("boundary_timers", data={...}) → an advanced workflow."""

    def start(process_id: str, data: dict | None = None) -> BpmnWorkflow:
        workflow = spiff.create_workflow(
            parser.get_spec(process_id), parser.get_subprocess_specs(process_id), data=data
        )
        spiff.advance(workflow)
        return workflow

    return start


@pytest.fixture
def bundle_files() -> dict[str, bytes]:
    root = FIXTURES / "bundle"
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}
