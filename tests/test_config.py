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


def test_server_connections_are_tested_as_they_leave_the_pool_sqlite_files_are_not(
        monkeypatch):
    """A database server's pooled connections can go stale (a restart): each is pinged as it
    is taken; a SQLite file's cannot, so its transactions skip the extra statement."""
    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    assert load_config()["SQLALCHEMY_ENGINE_OPTIONS"] == {"pool_pre_ping": True}
    sqlite = load_config({"SQLALCHEMY_DATABASE_URI": "sqlite:///x.sqlite3"})
    assert sqlite["SQLALCHEMY_ENGINE_OPTIONS"] == {"pool_pre_ping": False}
    chosen = load_config({"SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": 3}})
    assert chosen["SQLALCHEMY_ENGINE_OPTIONS"] == {"pool_size": 3}
