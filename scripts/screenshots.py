"""Take the documentation screenshots: serves the demo app and drives Debian's Chromium.

Usage: .venv/bin/python scripts/screenshots.py   (writes docs/screenshots/*.png)
"""

from __future__ import annotations

import sys
import tempfile
import threading
from pathlib import Path

from flask_migrate import upgrade
from playwright.sync_api import sync_playwright
from werkzeug.serving import make_server

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app import create_app  # noqa: E402
from app.demo import DEMO_PASSWORD, seed_demo  # noqa: E402
from app.uow import unit_of_work  # noqa: E402
from tests.browser.conftest import CHROMIUM_ARGS, chromium_path  # noqa: E402

OUT = ROOT / "docs" / "screenshots"

SHOTS = [
    # (file, user, path, language, width)
    ("login.png", None, "/login", "zh-CN", 390),
    ("home-supervisor.png", "supervisor", "/", "zh-CN", 390),
    ("home-admin-en.png", "admin", "/", "en", 1100),
    ("audit-en.png", "admin", "/admin/audit/", "en", 1100),
]


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/shots.sqlite3",
                          "INSTANCE_PATH": tmp, "SCHEDULER_ENABLED": False})
        with app.app_context():
            upgrade(revision="heads")
            with unit_of_work():
                seed_demo()
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{server.server_port}"
        OUT.mkdir(parents=True, exist_ok=True)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
            for name, user, path, lang, width in SHOTS:
                context = browser.new_context(locale=lang, viewport={"width": width,
                                                                     "height": 800})
                page = context.new_page()
                if user:
                    page.goto(f"{base}/login")
                    page.fill("input[name=username]", user)
                    page.fill("input[name=password]", DEMO_PASSWORD)
                    page.click("button[type=submit]")
                page.goto(f"{base}{path}")
                page.screenshot(path=str(OUT / name), full_page=True)
                context.close()
                print("wrote", OUT / name)
            browser.close()
        server.shutdown()


if __name__ == "__main__":
    main()
