"""Visitors in a browser: a resident invites a visitor and gets a pass; the guard types its
code at the gate, the visitor is let in, and the same pass is refused the second time.

This module serves its own copy of the demo (the demo owner lives in 1号楼-101), so the
passes it issues cannot meet other browser tests' data.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator

import pytest
from flask_migrate import upgrade
from playwright.sync_api import expect
from werkzeug.serving import make_server

from app import create_app
from app.demo import DEMO_PASSWORD, seed_demo
from app.uow import unit_of_work

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def visitor_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("visitors-live")
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{root}/live.sqlite3",
                      "INSTANCE_PATH": str(root), "SECRET_KEY": "browser-test",
                      "SCHEDULER_ENABLED": False, "REDIS_URL": None})
    with app.app_context():
        upgrade(revision="heads")
        with unit_of_work():
            seed_demo()  # links the demo owner to 1号楼-101, the unit the visitor comes to
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def sign_in(page, base: str, username: str) -> None:
    page.context.clear_cookies()
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/$"))


def test_invite_a_visitor_and_let_them_in_once(page, visitor_server):
    base = visitor_server
    sign_in(page, base, "owner")
    page.goto(f"{base}/my/visitors/")
    page.fill("#visitor_name", "张三")
    page.fill("#visitor_phone", "13800138000")
    page.fill("#party_size", "2")
    page.fill("#start", "00:00")
    page.fill("#end", "23:59")
    page.click("[data-testid=invite]")
    expect(page.locator("[data-testid=pass]")).to_be_visible()
    expect(page.locator(".qr svg")).to_be_visible()
    code = page.inner_text("[data-testid=pass-code]").strip()
    assert re.fullmatch(r"[A-Z2-9]{4}-[A-Z2-9]{4}", code)

    sign_in(page, base, "guard")
    page.goto(f"{base}/gate")
    page.fill("#code", code.lower().replace("-", " "))
    page.click("[data-testid=check-entry]")
    verdict = page.locator("[data-testid=verdict]")
    expect(verdict).to_have_attribute("data-reason", "ok")
    expect(verdict).to_contain_text("张三")
    expect(verdict).to_contain_text("138****8000")

    page.fill("#code", code)
    page.click("[data-testid=check-entry]")
    expect(page.locator("[data-testid=verdict]")).to_have_attribute("data-reason", "used")

    page.fill("#code", code)
    page.click("[data-testid=check-exit]")
    expect(page.locator("[data-testid=verdict]")).to_have_attribute("data-reason", "ok")
