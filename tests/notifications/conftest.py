"""Fixtures for notifications: a fake Twilio REST API at the HTTP level, template folders."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from werkzeug import Request, Response

from app.clock import clock
from app.outbox.dispatcher import dispatch_due
from app.uow import commit

ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "twilio-test-token"
FROM = "+15005550006"


class FakeTwilio:
    """Twilio's Messages resource, enough for create and list.

    ``script`` holds (status, body) answers given to the next creates instead of accepting;
    ``accept_then`` makes the next create store the message *and* answer with an error.
    """

    def __init__(self, server: Any) -> None:
        self.server = server
        self.messages: list[dict[str, Any]] = []
        self.script: list[tuple[int, dict[str, Any]]] = []
        self.accept_then: list[tuple[int, dict[str, Any]]] = []
        self.creates = 0
        path = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
        server.expect_request(path, method="POST").respond_with_handler(self._create)
        server.expect_request(path, method="GET").respond_with_handler(self._list)

    @staticmethod
    def _json(body: dict[str, Any], status: int) -> Response:
        return Response(json.dumps(body), status=status, content_type="application/json")

    def _create(self, request: Request) -> Response:
        self.creates += 1
        if self.script:
            status, body = self.script.pop(0)
            return self._json(body, status)
        form = request.form
        message = {
            "sid": "SM" + uuid.uuid4().hex, "account_sid": ACCOUNT_SID, "to": form["To"],
            "from": form.get("From"), "messaging_service_sid": form.get("MessagingServiceSid"),
            "body": form["Body"], "status": "queued", "direction": "outbound-api",
            "date_created": format_datetime(clock.now()), "num_segments": "1",
            "status_callback": form.get("StatusCallback"),
        }
        self.messages.append(message)
        if self.accept_then:
            status, body = self.accept_then.pop(0)
            return self._json(body, status)
        return self._json(message, 201)

    def _list(self, request: Request) -> Response:
        to = request.args.get("To")
        items = [m for m in reversed(self.messages) if to is None or m["to"] == to]
        return self._json({"messages": items, "page": 0, "page_size": 50, "start": 0,
                           "end": len(items), "uri": request.path, "first_page_uri": request.path,
                           "next_page_uri": None, "previous_page_uri": None}, 200)


@pytest.fixture
def twilio_settings(app: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    values = {"TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
              "TWILIO_FROM": FROM}
    for key, value in values.items():
        monkeypatch.setitem(app.config, key, value)
    return values


@pytest.fixture
def fake_twilio(app: Any, httpserver: Any, twilio_settings: dict[str, str],
                monkeypatch: pytest.MonkeyPatch) -> FakeTwilio:
    """The real twilio client, pointed at a local HTTP server playing Twilio."""
    monkeypatch.setitem(app.config, "TWILIO_API_BASE_URL", httpserver.url_for("/").rstrip("/"))
    monkeypatch.setitem(app.config, "TWILIO_TIMEOUT_SECONDS", 5)
    return FakeTwilio(httpserver)


REPAIR_EVENTS = {
    "accepted": {"variables": ["ticket_no", "technician_name"],
                 "sample": {"ticket_no": "BX-0001", "technician_name": "张师傅"}},
}


@pytest.fixture
def template_dir(app: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A notifications/ folder with repair.accepted: SMS zh_CN + en, in-app zh_CN, e-mail."""
    root = tmp_path / "notifications"
    (root / "repair").mkdir(parents=True)
    files = {
        "repair/events.json": json.dumps(REPAIR_EVENTS, ensure_ascii=False),
        "repair/accepted.sms.zh_CN.txt":
            "【EstateFlow】工单{{ ticket_no }}已由{{ technician_name }}接单。",
        "repair/accepted.sms.en.txt":
            "[EstateFlow] {{ technician_name }} accepted job {{ ticket_no }}.",
        "repair/accepted.inapp.zh_CN.txt":
            "工单已接单\n{{ technician_name }}已接单：{{ ticket_no }}",
        "repair/accepted.email.zh_CN.txt":
            "Subject: 工单{{ ticket_no }}已接单\n\n{{ technician_name }}已接单。",
        "repair/accepted.email.en.txt":
            "Subject: Job {{ ticket_no }} accepted\n\nBy {{ technician_name }}.",
    }
    for name, text in files.items():
        (root / name).write_text(text, encoding="utf-8")
    monkeypatch.setitem(app.config, "NOTIFICATIONS_DIR", str(root))
    return root


@pytest.fixture
def run_dispatcher() -> Callable[[], int]:
    """Commit the test's work (as a request would), then run one dispatcher pass."""

    def run() -> int:
        commit()
        return dispatch_due()

    return run
