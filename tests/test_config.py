"""Operator settings read from the environment: applied, and refused with a clear message."""

from __future__ import annotations

import gc

import pytest

from app import create_app
from app.config import GC_THRESHOLD, ConfigError, load_config


@pytest.fixture
def restore_gc():
    before = gc.get_threshold()
    yield
    gc.set_threshold(*before)


def test_every_process_runs_the_collector_with_the_configured_thresholds(
        monkeypatch, tmp_path, restore_gc):
    monkeypatch.delenv("PYTHON_GC_THRESHOLD", raising=False)
    gc.set_threshold(700, 10, 10)
    create_app({"INSTANCE_PATH": str(tmp_path), "SCHEDULER_ENABLED": False})
    assert gc.get_threshold() == GC_THRESHOLD

    monkeypatch.setenv("PYTHON_GC_THRESHOLD", "20000, 15, 5")
    create_app({"INSTANCE_PATH": str(tmp_path), "SCHEDULER_ENABLED": False})
    assert gc.get_threshold() == (20000, 15, 5)

    monkeypatch.setenv("PYTHON_GC_THRESHOLD", "default")
    gc.set_threshold(700, 10, 10)
    create_app({"INSTANCE_PATH": str(tmp_path), "SCHEDULER_ENABLED": False})
    assert gc.get_threshold() == (700, 10, 10)


@pytest.mark.parametrize("raw", ["fast", "1,2,3,4", "-5", "50000,,10"])
def test_a_bad_gc_threshold_is_refused_naming_the_setting(monkeypatch, raw):
    monkeypatch.setenv("PYTHON_GC_THRESHOLD", raw)
    with pytest.raises(ConfigError, match="PYTHON_GC_THRESHOLD"):
        load_config()
