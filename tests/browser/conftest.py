"""End-to-end tests in Debian's headless Chromium, driven by Playwright for Python.

The app runs in a thread on a free localhost port with its own migrated SQLite database and the
demo data, exactly as `make run` serves it. Without Chromium these tests skip with a hint;
under CI=true they must run.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask_migrate import upgrade
from playwright.sync_api import sync_playwright
from werkzeug.serving import make_server

from app import create_app
from app.demo import seed_demo
from app.uow import unit_of_work

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]


def chromium_path() -> str | None:
    configured = os.environ.get("CHROMIUM_PATH")
    if configured and Path(configured).exists():
        return configured
    for candidate in CHROMIUM_CANDIDATES:
        if Path(candidate).exists():
            return candidate
    return shutil.which("chromium")


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("live")
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{root}/live.sqlite3",
                      "INSTANCE_PATH": str(root), "SECRET_KEY": "browser-test",
                      "SCHEDULER_ENABLED": False, "REDIS_URL": None})
    with app.app_context():
        upgrade(revision="heads")
        with unit_of_work():
            seed_demo()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    path = chromium_path()
    if path is None:
        message = ("Chromium not found: install Debian's package (apt-get install chromium) "
                   "or set CHROMIUM_PATH to run the browser tests")
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=path, headless=True,
                                              args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def page(browser):  # type: ignore[no-untyped-def]
    context = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844})
    tab = context.new_page()
    yield tab
    context.close()
