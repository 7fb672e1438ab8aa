"""The same migrations build the schema on an empty SQLite and an empty PostgreSQL database."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from app import create_app
from app.extensions import db
from tests.services import fresh_postgres_database


def _migrate_and_compare(url: str, instance: str) -> None:
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "INSTANCE_PATH": instance,
                      "SCHEDULER_ENABLED": False, "TESTING": True})
    with app.app_context():
        upgrade(revision="heads")
        with db.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(context, db.metadata)
        assert diff == [], f"models and migrations disagree: {diff}"
        tables = set(sa.inspect(db.engine).get_table_names())
        assert {"user_account", "project", "unit", "audit_event"} <= tables
        downgrade(revision="base")
        assert set(sa.inspect(db.engine).get_table_names()) <= {"alembic_version"}
        db.engine.dispose()


def test_migrations_on_empty_sqlite(tmp_path):
    _migrate_and_compare(f"sqlite:///{tmp_path}/empty.sqlite3", str(tmp_path))


@pytest.mark.postgres
def test_migrations_on_empty_postgresql(postgres_url, tmp_path):
    with fresh_postgres_database(postgres_url, "estateflow_migrate") as url:
        _migrate_and_compare(url, str(tmp_path))
