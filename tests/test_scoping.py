"""A user of project A can never read or change project B's data (answer 404)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.extensions import db
from app.projects.models import Building, Project, Unit
from app.scoping import ScopeViolation, set_scope
from tests.conftest import PASSWORD


@pytest.fixture
def two_projects(create_project, create_user):
    a = create_project("AAA", "Estate A")
    b = create_project("BBB", "Estate B")
    create_user("supervisor", projects=[a], username="sup_a")
    create_user("hq", username="boss")
    return a, b


def test_pages_of_another_project_do_not_exist(client, auth, two_projects):
    a, b = two_projects
    auth.login("sup_a")
    assert client.get(f"/projects/{a.id}").status_code == 200
    response = client.get(f"/projects/{b.id}")
    assert response.status_code == 404
    listing = client.get("/projects/").get_data(as_text=True)
    assert "Estate A" in listing and "Estate B" not in listing


def test_api_of_another_project_does_not_exist(client, two_projects):
    a, b = two_projects
    token = client.post("/api/v1/auth/token", json={
        "username": "sup_a", "password": PASSWORD, "name": "t"}).get_json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert [p["code"] for p in client.get("/api/v1/projects", headers=headers).get_json()] \
        == ["AAA"]
    assert client.get(f"/api/v1/projects/{b.id}", headers=headers).status_code == 404
    response = client.get(f"/api/v1/projects/{b.id}/units", headers=headers)
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"
    assert len(client.get(f"/api/v1/projects/{a.id}/units", headers=headers).get_json()) == 2


def test_hq_sees_every_project(client, auth, two_projects):
    auth.login("boss")
    listing = client.get("/projects/").get_data(as_text=True)
    assert "Estate A" in listing and "Estate B" in listing


def test_scope_filters_every_query_and_relationship(app, db_session, two_projects):
    a, b = two_projects
    db.session.expunge_all()
    with app.test_request_context():
        set_scope(frozenset({a.id}))
        units = db.session.scalars(select(Unit)).all()
        assert units and {u.project_id for u in units} == {a.id}
        assert db.session.scalars(select(Project)).all() == [db.session.get(Project, a.id)]
        # joins and relationship loads are filtered too
        assert db.session.scalars(select(Unit).join(Building)
                                  .where(Building.project_id == b.id)).all() == []


def test_writes_into_another_project_are_refused(app, db_session, two_projects):
    a, b = two_projects
    with app.test_request_context():
        set_scope(frozenset({a.id}))
        building = Building(project_id=b.id, name="Intruder")
        db.session.add(building)
        with pytest.raises(ScopeViolation):
            db.session.flush()
        db.session.rollback()


def test_no_scope_outside_requests(app, db_session, two_projects):
    # CLI commands and scheduler jobs act as the system and see every project.
    codes = {p.code for p in db.session.scalars(select(Project))}
    assert {"AAA", "BBB"} <= codes
