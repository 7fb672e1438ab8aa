"""One complaint end to end in the browser: lodged by a resident, triaged, handled, disputed,
escalated when its reopened handling passes the limit overnight, handled again and accepted.

The server here is this module's own (the shared live server hides its app): the same demo
data, plus the complaint flow deployed and the demo calendar seeded. The frozen clock of the
test is shared with the server thread; timers fire through ``fire_due`` as the scheduler would.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask_migrate import upgrade
from playwright.sync_api import expect
from werkzeug.serving import make_server

from app import create_app
from app.complaints.demo import seed_complaints_demo
from app.complaints.models import Complaint
from app.demo import DEMO_PASSWORD, seed_demo
from app.engine.deployments import deploy
from app.engine.timer_jobs import fire_due
from app.extensions import db
from app.uow import unit_of_work
from tests.flows.conftest import flow_files

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Flask]]:
    root = tmp_path_factory.mktemp("complaint-live")
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{root}/live.sqlite3",
                      "INSTANCE_PATH": str(root), "SECRET_KEY": "browser-test",
                      "SCHEDULER_ENABLED": False, "REDIS_URL": None})
    with app.app_context():
        upgrade(revision="heads")
        with unit_of_work():
            project, _accounts, _new = seed_demo()
            seed_complaints_demo(project)
            deploy(flow_files("complaint"))
    http = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{http.server_port}", app
    http.shutdown()


def sign_in(page: Any, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/$"))


def sign_out(page: Any) -> None:
    page.click("[data-testid=logout]")


def open_step(page: Any, base: str, complaint_id: int, element: str) -> None:
    page.goto(f"{base}/complaints/{complaint_id}")
    page.click(f"a[data-element={element}]")


def complaint(app: Flask, number: str) -> Complaint:
    with app.app_context():
        row = db.session.query(Complaint).filter_by(number=number).one()
        db.session.expunge(row)
        return row


def test_a_complaint_through_a_dispute_and_an_escalation(page, server, frozen_clock):
    base, app = server
    # Sunday 22 November 09:00 in Shanghai: a resident lodges a complaint.
    sign_in(page, base, "owner")
    page.goto(f"{base}/my/complaints/new")
    page.select_option("select[name=category]", "facilities")
    page.fill("input[name=title]", "电梯异响")
    page.fill("[name=description]", "2号楼电梯运行时有很大的异响")
    page.click("[data-testid=submit]")
    number = page.inner_text("[data-testid=number]").strip()
    assert number.startswith("TS-20261122-")
    c = complaint(app, number)
    sign_out(page)

    # Customer service triages it with a 1-hour limit.
    sign_in(page, base, "cs")
    open_step(page, base, c.id, "Triage")
    page.select_option("select[name=category]", "facilities")
    page.select_option("select[name=severity]", "normal")
    page.check("input[name=in_scope][type=checkbox]")
    page.fill("input[name=limit_hours]", "1")
    page.click("[data-testid=complete]")
    sign_out(page)

    # The department handles it.
    sign_in(page, base, "supervisor")
    open_step(page, base, c.id, "Handle")
    page.fill("[name=findings]", "导靴磨损")
    page.fill("[name=action_plan]", "更换导靴")
    page.select_option("select[name=outcome]", "done")
    page.fill("[name=result]", "已更换导靴")
    page.click("[data-testid=complete]")
    sign_out(page)

    # The resident disputes the result: handling reopens (the dispute is counted).
    sign_in(page, base, "owner")
    page.goto(f"{base}/my/complaints/{c.id}")
    page.select_option("select[name=feedback]", "dispute")
    page.fill("[name=dispute_reason]", "还是有异响")
    page.click("[data-testid=send]")
    assert complaint(app, number).disputes == 1
    sign_out(page)

    # Nobody acts; Monday 10:00 the reopened 1-hour limit has passed (the weekend and the
    # night did not count): the complaint is escalated to the supervisor.
    frozen_clock.advance(timedelta(hours=25))
    with app.app_context():
        assert fire_due() >= 1
    assert complaint(app, number).escalation_level == 1
    sign_in(page, base, "supervisor")
    page.goto(f"{base}/complaints/{c.id}")
    assert page.locator("[data-testid=escalation]").count() == 1
    assert page.inner_text("[data-testid=disputes]").strip() == "1"
    page.goto(f"{base}/notifications/")
    assert number in page.content()
    open_step(page, base, c.id, "Handle")
    page.fill("[name=findings]", "曳引机轴承异响")
    page.fill("[name=action_plan]", "更换轴承")
    page.select_option("select[name=outcome]", "done")
    page.fill("[name=result]", "已更换曳引机轴承")
    page.click("[data-testid=complete]")
    sign_out(page)

    # The resident accepts: closed, and customer service has a revisit to do.
    sign_in(page, base, "owner")
    page.goto(f"{base}/my/complaints/{c.id}")
    assert "escalation" in page.content()
    page.select_option("select[name=feedback]", "accept")
    page.click("[data-testid=send]")
    assert complaint(app, number).status == "closed"
    # The click's redirect may still be loading: wait for the page rather than race it.
    expect(page.locator("[data-testid=status] [data-status=closed]")).to_have_count(1)
