"""The staff inbox pages and the task page."""

from __future__ import annotations

import re

from sqlalchemy import select

from app.engine import runtime
from app.engine.models import HumanTask
from app.extensions import db


def _setup(deployed, create_project, create_user, n=1):
    project = create_project("A")
    create_user("customer_service", projects=[project], username="cs")
    instances = [runtime.start_instance("ticket", project.id, {}, business_key=f"R-{i}")
                 for i in range(n)]
    tasks = db.session.scalars(select(HumanTask).order_by(HumanTask.id)).all()
    return project, instances, tasks


def test_inbox_tabs_counts_and_search(client, auth, deployed, create_project, create_user):
    _setup(deployed, create_project, create_user, n=3)
    auth.login("cs")
    home = client.get("/").get_data(as_text=True)
    assert 'href="/inbox"' in home
    page = client.get("/inbox?view=roles").get_data(as_text=True)
    assert re.search(r'data-count="roles">3<', page)
    assert re.search(r'data-count="mine">0<', page)
    assert page.count("data-task=") == 3
    found = client.get("/inbox?view=roles&q=R-1").get_data(as_text=True)
    assert found.count("data-task=") == 1
    assert "No tasks here." in client.get("/inbox").get_data(as_text=True)


def test_task_page_claim_and_complete(client, auth, deployed, create_project, create_user):
    _project, _instances, [task] = _setup(deployed, create_project, create_user)
    auth.login("cs")
    page = client.get(f"/tasks/{task.id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Accept the ticket" in html and 'data-testid="claim"' in html
    assert 'name="category"' in html and 'data-kind="task_created"' in html
    assert "<svg" in html  # the diagram, current step highlighted
    token = auth.csrf(f"/tasks/{task.id}")
    claimed = client.post(f"/tasks/{task.id}/claim", data={"csrf_token": token},
                          follow_redirects=True)
    assert 'data-testid="release"' in claimed.get_data(as_text=True)
    invalid = client.post(f"/tasks/{task.id}/complete",
                          data={"csrf_token": token, "category": "magic"})
    assert invalid.status_code == 422
    assert 'data-field="category"' in invalid.get_data(as_text=True)
    done = client.post(f"/tasks/{task.id}/complete", data={
        "csrf_token": token, "category": "plumbing", "urgent": "true"})
    assert done.status_code == 302, done.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(HumanTask, task.id).status == "completed"
    history = client.get(f"/tasks/{task.id}").get_data(as_text=True)
    assert 'data-kind="completed"' in history and 'data-testid="complete"' not in history


def test_processes_page_needs_permission(client, auth, create_user):
    create_user("customer_service", username="cs")
    auth.login("cs")
    assert client.get("/admin/processes/").status_code == 403
