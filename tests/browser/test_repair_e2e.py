"""A repair from the owner's phone to a revisited, closed ticket, in headless Chromium.

Owner reports a public-area leak with a photo → the supervisor dispatches → the technician
accepts on a 375-px phone → checks in and finishes → the owner rates 1 star → the supervisor
rectifies → customer service revisits → closed.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from flask_migrate import upgrade
from werkzeug.serving import make_server

from app import create_app
from app.demo import DEMO_PASSWORD, DEMO_PROJECT, seed_demo
from app.engine.deployments import deploy
from app.extensions import db
from app.projects.models import Project
from app.repairs.demo import seed_repair_demo
from app.uow import unit_of_work
from tests.flows.conftest import flow_files

pytestmark = pytest.mark.browser

PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00"
       b"\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N"
       b"\x00\x00\x00\x00IEND\xaeB`\x82")
PHONE = {"width": 375, "height": 667}


@pytest.fixture(scope="module")
def repair_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The demo estate with its repair teams and the repair flow deployed."""
    root = tmp_path_factory.mktemp("repair-live")
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{root}/live.sqlite3",
                      "INSTANCE_PATH": str(root), "SECRET_KEY": "browser-test",
                      "SCHEDULER_ENABLED": False, "REDIS_URL": None})
    with app.app_context():
        upgrade(revision="heads")
        with unit_of_work():
            seed_demo()
            project = db.session.query(Project).filter_by(code=DEMO_PROJECT).one()
            seed_repair_demo(project, DEMO_PASSWORD)
            deploy(flow_files("repair"))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def session(browser: Any, base: str, username: str, viewport: dict[str, int] | None = None) -> Any:
    context = browser.new_context(locale="zh-CN", viewport=viewport or {"width": 390,
                                                                          "height": 844})
    tab = context.new_page()
    tab.goto(f"{base}/login")
    tab.fill("input[name=username]", username)
    tab.fill("input[name=password]", DEMO_PASSWORD)
    tab.click("button[type=submit]")
    tab.wait_for_url(f"{base}/")
    return tab


def status_of(tab: Any) -> str:
    return str(tab.get_attribute("[data-testid=ticket-status]", "data-status"))


def complete_open_step(tab: Any, base: str, ticket_url: str, title: str,
                       fields: dict[str, str]) -> None:
    """A staff member opens the step from the ticket page and completes it in the inbox."""
    tab.goto(ticket_url)
    tab.click(f"a:has-text('{title}')")
    for name, value in fields.items():
        locator = tab.locator(f"[name='{name}']")
        if locator.evaluate("e => e.tagName") == "SELECT":
            locator.select_option(value)
        else:
            locator.fill(value)
    tab.click("[data-testid=complete]")
    tab.wait_for_url(f"{base}/inbox*")


def test_repair_from_the_phone_to_a_revisited_close(browser, repair_server, tmp_path):
    base = repair_server
    photo = tmp_path / "leak.png"
    photo.write_bytes(PNG)

    owner = session(browser, base, "owner")
    owner.goto(f"{base}/repairs/new")
    owner.select_option("select[name=category]", "plumbing")
    owner.select_option("select[name=area]", "public")
    owner.fill("[name=location]", "2号楼一层大堂")
    owner.fill("[name=description]", "大堂水管漏水，地面有积水")
    owner.set_input_files("input[name=photos__file]", str(photo))
    owner.wait_for_selector("input[type=hidden][name=photos]", state="attached")
    owner.click("[data-testid=submit-repair]")
    number = owner.inner_text("[data-testid=ticket-number]").strip()
    assert number.startswith("BX-")
    ticket_url = owner.url
    assert status_of(owner) == "pending"
    assert owner.locator(".rp-photos img").count() == 1

    supervisor = session(browser, base, "supervisor")
    supervisor.goto(f"{base}/repairs/tickets")
    supervisor.click(f"[data-testid='ticket-{number}']")
    supervisor.select_option("select[name=technician_id]", index=0)
    technician_name = supervisor.locator("select[name=technician_id] option").first.inner_text()
    assert "张师傅" in technician_name
    supervisor.click("[data-testid=dispatch]")
    assert status_of(supervisor) == "assigned"

    tech = session(browser, base, "tech", PHONE)
    tech.goto(f"{base}/repairs/jobs")
    tech.click(f"[data-testid='job-{number}']")
    accept = tech.locator("[data-testid=accept]")
    box = accept.bounding_box()
    assert box is not None and box["width"] >= 300 and box["height"] >= 44  # thumb-sized
    assert tech.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    accept.click()
    assert status_of(tech) == "accepted"
    tech.fill("[name=diagnosis]", "接头老化")
    tech.click("[data-testid=submit-Check_in]")
    assert status_of(tech) == "in_progress"
    tech.fill("[name=work_done]", "更换接头并清理积水")
    tech.click("[data-testid=submit-Record_work]")
    assert status_of(tech) == "completed"

    owner.goto(ticket_url)
    owner.click("[data-testid=star-1]")
    owner.fill("[name=rating_comment]", "修得太慢")
    owner.click("[data-testid=send-rating]")
    assert status_of(owner) == "rectifying"

    complete_open_step(supervisor, base, ticket_url, "Rectify a bad rating",
                       {"cause": "师傅到场晚", "rectification": "已向业主致歉并复查"})
    cs = session(browser, base, "cs")
    complete_open_step(cs, base, ticket_url, "Revisit the owner",
                       {"revisit_result": "satisfied", "revisit_notes": "业主表示满意"})

    owner.goto(ticket_url)
    assert status_of(owner) == "closed"
    timeline = owner.inner_text("[data-testid=timeline]")
    assert timeline.count("\n") >= 8
