"""The adjustable clock: refused in production, moves every reading of the clock forward."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.clock import clock
from app.config import ConfigError, load_config
from app.timetravel import operations as ops
from tests.conftest import START


@pytest.fixture
def adjustable(app):
    app.config["CLOCK_MODE"] = "adjustable"
    cache = ops.OffsetCache(app)
    app.extensions["estateflow_clock_offset"] = cache
    clock.use_offset(cache)
    yield
    app.config["CLOCK_MODE"] = "system"
    app.extensions.pop("estateflow_clock_offset", None)
    clock.use_offset(None)


def test_production_refuses_the_adjustable_clock(monkeypatch):
    monkeypatch.setenv("ESTATEFLOW_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "a-real-secret")
    monkeypatch.setenv("ESTATEFLOW_CLOCK", "adjustable")
    with pytest.raises(ConfigError, match="adjustable clock"):
        load_config()


def test_admin_advances_the_clock_and_due_work_fires(client, auth, create_user, adjustable):
    fired = []
    ops.on_clock_advanced(fired.append)
    try:
        create_user("process_admin", username="pa")
        auth.login("pa")
        token = auth.csrf("/admin/clock/")
        response = client.post("/admin/clock/advance", data={"csrf_token": token,
                                                              "duration": "P31D"})
        assert response.status_code == 302
        assert clock.now() == START + timedelta(days=31)
        assert fired == [START + timedelta(days=31)]
        bad = client.post("/admin/clock/advance", data={"csrf_token": token,
                                                         "duration": "31 days"})
        assert bad.status_code == 422
        assert clock.now() == START + timedelta(days=31)
    finally:
        ops._advance_listeners.remove(fired.append)


def test_time_only_moves_forward(db_session, adjustable):
    with pytest.raises(Exception, match="forward"):
        ops.parse_duration("-P1D")
    with pytest.raises(Exception, match="months"):
        ops.parse_duration("P1M")


def test_clock_cannot_move_in_system_mode(client, auth, create_user):
    create_user("process_admin", username="pa")
    auth.login("pa")
    token = auth.csrf("/admin/clock/")
    response = client.post("/admin/clock/advance", data={"csrf_token": token,
                                                          "duration": "P1D"})
    assert response.status_code == 409
    assert clock.now() == START


def test_cli_advance_in_adjustable_mode(app, db_session, adjustable):
    result = app.test_cli_runner().invoke(args=["clock", "advance", "PT2H"])
    assert result.exit_code == 0, result.output
    assert clock.now() == START + timedelta(hours=2)


def test_cli_refuses_in_system_mode(app, db_session):
    result = app.test_cli_runner().invoke(args=["clock", "advance", "P1D"])
    assert result.exit_code != 0
    assert "not adjustable" in result.output
