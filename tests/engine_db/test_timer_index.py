"""The scheduler's look-up of due instances: a cursor over (due, id) served by one index."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from app.engine.models import ProcessInstance
from app.engine.timer_jobs import due_instance_ids
from app.extensions import db
from tests.conftest import START


def _instances(deployed, project, dues: list) -> list[int]:
    rows = [{"project_id": project.id, "flow": "ticket", "deployment_id": deployed.id,
             "business_key": f"D-{n}", "status": "waiting" if n % 5 else "suspended",
             "current_steps": "", "state": "{}", "lock_version": 1,
             "started_by_label": "test", "started_at": START, "next_timer_due": due}
            for n, due in enumerate(dues)]
    db.session.execute(sa.insert(ProcessInstance), rows)
    return list(db.session.scalars(sa.select(ProcessInstance.id).where(
        ProcessInstance.business_key.like("D-%")).order_by(ProcessInstance.id)))


def test_paging_through_many_timers_due_at_one_moment_finds_each_once(deployed,
                                                                       create_project):
    """800 reminders at 09:00 and a few earlier and later ones, read 64 at a time."""
    nine = START + timedelta(days=30)
    dues = ([nine] * 800 + [nine - timedelta(hours=n) for n in range(1, 6)]
            + [nine + timedelta(minutes=1)])
    ids = _instances(deployed, create_project(), dues)
    expected = sorted((due, i) for due, i in zip(dues, ids, strict=True)
                      if due <= nine and (i - ids[0]) % 5)  # suspended ones never fire
    seen, cursor = [], None
    while True:
        page = due_instance_ids(nine, 64, cursor)
        if not page:
            break
        seen += page
        cursor = page[-1]
    assert [i for _d, i in seen] == [i for _d, i in expected]


def test_due_look_up_reads_the_timer_index(deployed, create_project):
    if db.engine.dialect.name != "sqlite":
        return  # PostgreSQL plans by statistics; SQLite has none, so its choice is pinned
    nine = START + timedelta(days=30)
    _instances(deployed, create_project(), [nine] * 50)
    plans = []
    real = db.session.execute

    def explained(stmt, *args, **kwargs):
        compiled = stmt.compile(db.engine, compile_kwargs={"literal_binds": True})
        plans.append(" ".join(str(row[-1]) for row in db.session.connection().exec_driver_sql(
            f"EXPLAIN QUERY PLAN {compiled}")))
        return real(stmt, *args, **kwargs)

    db.session.execute = explained  # type: ignore[method-assign]
    try:
        due_instance_ids(nine, 10, (nine, 0))
    finally:
        del db.session.execute
    assert plans and all("ix_process_instance_next_timer_due" in plan for plan in plans), plans
