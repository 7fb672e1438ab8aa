"""``flask seed-demo`` loads one estate and one account per role, and can run twice."""

from __future__ import annotations

from sqlalchemy import func, select

from app.accounts.models import User
from app.accounts.roles import Role
from app.demo import DEMO_PASSWORD
from app.extensions import db
from app.projects.models import Unit


def test_seed_demo_creates_accounts_for_every_role(app, db_session):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    assert DEMO_PASSWORD in result.output
    roles = set()
    for user in db.session.scalars(select(User)):
        roles |= user.roles
    assert roles == set(Role)
    assert db.session.scalar(select(func.count(Unit.id))) == 36
    again = runner.invoke(args=["seed-demo"])
    assert again.exit_code == 0 and "Already present" in again.output
    assert db.session.scalar(select(func.count(Unit.id))) == 36
