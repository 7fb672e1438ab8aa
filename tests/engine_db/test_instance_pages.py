"""The process-instances admin page: list, suspend, resume, cancel with a reason."""

from __future__ import annotations

from app.engine import runtime
from app.engine.models import ProcessInstance
from app.extensions import db


def test_supervisor_suspends_resumes_and_cancels(client, auth, deployed, create_project,
                                                 create_user):
    project, other = create_project("A"), create_project("B")
    create_user("supervisor", projects=[project], username="sup")
    instance = runtime.start_instance("ticket", project.id, {}, "R-77")
    foreign = runtime.start_instance("ticket", other.id, {}, "R-99")
    auth.login("sup")
    page = client.get("/admin/processes/instances?q=R-")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "R-77" in text and "R-99" not in text
    token = auth.csrf("/admin/processes/instances")
    base = f"/admin/processes/instances/{instance.id}"
    assert client.post(f"{base}/suspend", data={"csrf_token": token}).status_code == 302
    assert db.session.get(ProcessInstance, instance.id).status == "suspended"
    assert client.post(f"{base}/resume", data={"csrf_token": token}).status_code == 302
    assert db.session.get(ProcessInstance, instance.id).status == "running"
    no_reason = client.post(f"{base}/cancel", data={"csrf_token": token, "reason": " "})
    assert no_reason.status_code == 422
    assert db.session.get(ProcessInstance, instance.id).status == "running"
    assert client.post(f"{base}/cancel", data={"csrf_token": token,
                                               "reason": "owner withdrew"}).status_code == 302
    assert db.session.get(ProcessInstance, instance.id).status == "cancelled"
    other_project = client.post(f"/admin/processes/instances/{foreign.id}/suspend",
                                data={"csrf_token": token})
    assert other_project.status_code == 404
