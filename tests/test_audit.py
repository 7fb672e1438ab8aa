"""The audit trail: same transaction, before/after values, filters, Excel export."""

from __future__ import annotations

from io import BytesIO

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from app.audit.models import AuditEvent, AuditTrailIsAppendOnly
from app.audit.recorder import record_audit
from app.extensions import db


def _events(record_type: str | None = None) -> list[AuditEvent]:
    stmt = select(AuditEvent).order_by(AuditEvent.id)
    if record_type:
        stmt = stmt.where(AuditEvent.record_type == record_type)
    return list(db.session.scalars(stmt))


def test_changes_are_recorded_with_before_and_after(db_session, create_user):
    user = create_user("owner", username="wang")
    created = _events("user_account")[-1]
    assert created.action == "create" and created.after["username"] == "wang"
    assert created.after["password_hash"] == "***"  # secrets never enter the trail
    user.display_name = "Wang Wei"
    db.session.flush()
    updated = _events("user_account")[-1]
    assert updated.action == "update"
    assert updated.before == {"display_name": "Wang"}
    assert updated.after == {"display_name": "Wang Wei"}
    assert updated.record_id == str(user.id)


def test_audit_is_in_the_same_transaction(db_session, create_user):
    before = len(_events())
    nested = db.session.begin_nested()
    create_user("owner", username="ghost")
    assert len(_events()) > before
    nested.rollback()
    assert len(_events()) == before  # the change and its record vanish together


def test_audit_events_cannot_be_changed(db_session):
    event = record_audit("reveal", record_type="customer", record_id=1)
    db.session.flush()
    event.action = "tampered"
    with pytest.raises(AuditTrailIsAppendOnly):
        db.session.flush()
    db.session.rollback()


def test_audit_page_filters_and_exports(client, auth, create_user):
    create_user("super_admin", username="root")
    create_user("owner", username="wang")
    auth.login("root")
    page = client.get("/admin/audit/?record_type=user_account&action=create")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "wang" in text
    assert client.get("/admin/audit/?since=not-a-date").status_code == 422
    export = client.get("/admin/audit/export.xlsx?action=login")
    assert export.status_code == 200
    sheet = load_workbook(BytesIO(export.data)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "time (UTC)"
    assert rows[1:] and all(row[2] == "login" for row in rows[1:])
    assert any(row[1] == "root" for row in rows[1:])


def test_audit_records_the_acting_user(client, auth, create_user, create_project):
    project = create_project()
    create_user("super_admin", username="root")
    user = create_user("owner", username="wang", projects=[project])
    auth.login("root")
    token = auth.csrf(f"/admin/users/{user.id}")
    client.post(f"/admin/users/{user.id}", data={
        "csrf_token": token, "username": "wang", "display_name": "Renamed",
        "roles": ["owner"], "projects": [str(project.id)], "active": "y"})
    change = [e for e in _events("user_account") if e.action == "update"][-1]
    assert change.actor_label == "root"
    assert change.after["display_name"] == "Renamed"
