"""Delivery through the outbox with the real twilio client against a fake Twilio REST API."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote

import pytest
from twilio.http.http_client import TwilioHttpClient

from app.extensions import db
from app.notifications.service import notify
from app.outbox.dispatcher import (
    DeliveryResult,
    PermanentDeliveryError,
    dispatch_due,
    register_deliverer,
)
from app.outbox.models import OutboxMessage
from app.outbox.operations import enqueue
from app.uow import commit

PHONE = "+8613800138000"


def send_one(project, key="ticket-1:accepted", urgent=False):
    messages = notify("repair.accepted", project_id=project.id, recipients=["13800138000"],
                      data={"ticket_no": "BX-0001", "technician_name": "张师傅"},
                      idempotency_key=key, urgent=urgent)
    assert [m.kind for m in messages] == ["sms"]
    return messages[0]


def reload(message: OutboxMessage) -> OutboxMessage:
    db.session.expire_all()
    return db.session.get(OutboxMessage, message.id)


def test_sms_is_sent_through_twilio_after_commit(fake_twilio, template_dir, create_project,
                                                 run_dispatcher):
    message = send_one(create_project())
    assert message.status == "queued" and fake_twilio.creates == 0  # nothing before commit
    assert run_dispatcher() == 1
    message = reload(message)
    assert message.status == "sent" and message.attempts == 1
    assert message.provider_id == fake_twilio.messages[0]["sid"]
    assert fake_twilio.messages[0]["to"] == PHONE
    assert fake_twilio.messages[0]["from"] == "+15005550006"
    assert fake_twilio.messages[0]["body"] == "【EstateFlow】工单BX-0001已由张师傅接单。"
    assert dispatch_due() == 0  # nothing left


def test_status_callback_url_carries_the_key(app, fake_twilio, template_dir, create_project,
                                             run_dispatcher, monkeypatch):
    monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", "https://wuye.example.com")
    message = send_one(create_project())
    run_dispatcher()
    callback = fake_twilio.messages[0]["status_callback"]
    assert callback == ("https://wuye.example.com/notifications/twilio/status?key="
                        + quote(message.idempotency_key))
    assert "%2B86" in callback


def test_transient_errors_are_retried_with_backoff(fake_twilio, template_dir, create_project,
                                                   run_dispatcher, frozen_clock):
    fake_twilio.script = [(500, {"code": 20500, "message": "Internal error", "status": 500}),
                          (429, {"code": 20429, "message": "Too many requests", "status": 429})]
    message = send_one(create_project())
    run_dispatcher()
    message = reload(message)
    assert message.status == "queued" and message.attempts == 1
    assert "500" in message.last_error and message.outcome_unknown
    assert dispatch_due() == 0  # backoff: not yet
    frozen_clock.advance(timedelta(seconds=31))
    dispatch_due()
    message = reload(message)
    assert message.status == "queued" and "429" in message.last_error
    assert not message.outcome_unknown  # the lookup found nothing; 429 means not created
    frozen_clock.advance(timedelta(seconds=59))
    assert dispatch_due() == 0  # second backoff is 60 s
    frozen_clock.advance(timedelta(seconds=2))
    dispatch_due()
    message = reload(message)
    assert message.status == "sent" and message.attempts == 3
    assert fake_twilio.creates == 3 and len(fake_twilio.messages) == 1


def test_gives_up_after_max_attempts(app, fake_twilio, template_dir, create_project,
                                     run_dispatcher, frozen_clock, monkeypatch):
    monkeypatch.setitem(app.config, "OUTBOX_MAX_ATTEMPTS", 2)
    fake_twilio.script = [(429, {"code": 20429, "message": "Too many requests", "status": 429})] * 2
    message = send_one(create_project())
    run_dispatcher()
    frozen_clock.advance(timedelta(minutes=5))
    dispatch_due()
    message = reload(message)
    assert message.status == "failed" and message.attempts == 2
    assert message.last_error.startswith("gave up after 2 attempts")


def test_invalid_number_is_not_retried(fake_twilio, template_dir, create_project, run_dispatcher,
                                       frozen_clock):
    fake_twilio.script = [(400, {"code": 21211, "status": 400,
                                 "message": "The 'To' number +8613800138000 is not valid."})]
    message = send_one(create_project())
    run_dispatcher()
    frozen_clock.advance(timedelta(hours=2))
    assert dispatch_due() == 0
    message = reload(message)
    assert message.status == "failed" and message.attempts == 1
    assert "21211" in message.last_error
    assert fake_twilio.creates == 1


class SimulatedCrash(BaseException):
    """The process dies: not an Exception, so nothing in the dispatcher handles it."""


class CrashingHttpClient(TwilioHttpClient):
    def __init__(self, after_send: bool) -> None:
        super().__init__(timeout=5)
        self.after_send = after_send

    def request(self, method, url, *args, **kwargs):
        if method == "POST" and not self.after_send:
            raise SimulatedCrash()
        response = super().request(method, url, *args, **kwargs)
        if method == "POST":
            raise SimulatedCrash()  # Twilio accepted, we die before recording it
        return response


@pytest.mark.parametrize("after_send", [True, False])
def test_crash_mid_delivery_and_restart_sends_exactly_once(
        app, fake_twilio, template_dir, create_project, run_dispatcher, frozen_clock,
        monkeypatch, after_send):
    message = send_one(create_project())
    monkeypatch.setitem(app.extensions, "twilio_http_client", CrashingHttpClient(after_send))
    with pytest.raises(SimulatedCrash):
        run_dispatcher()
    db.session.rollback()  # the dead process's session is gone
    monkeypatch.delitem(app.extensions, "twilio_http_client")
    assert reload(message).status == "sending"  # committed before the provider call
    assert len(fake_twilio.messages) == (1 if after_send else 0)

    assert dispatch_due() == 0  # restarted at once: the lease still holds
    frozen_clock.advance(timedelta(minutes=6))
    assert dispatch_due() == 1
    frozen_clock.advance(timedelta(hours=1))
    dispatch_due()

    message = reload(message)
    assert message.status == "sent"
    assert len(fake_twilio.messages) == 1  # exactly one SMS reached Twilio
    assert message.provider_id == fake_twilio.messages[0]["sid"]
    assert fake_twilio.creates == (1 if after_send else 1)


def test_server_error_after_accepting_is_checked_before_resending(
        fake_twilio, template_dir, create_project, run_dispatcher, frozen_clock):
    fake_twilio.accept_then = [(503, {"code": 20503, "message": "Unavailable", "status": 503})]
    message = send_one(create_project())
    run_dispatcher()
    assert reload(message).outcome_unknown
    frozen_clock.advance(timedelta(minutes=1))
    dispatch_due()
    message = reload(message)
    assert message.status == "sent" and message.provider_id == fake_twilio.messages[0]["sid"]
    assert fake_twilio.creates == 1


def test_another_rows_message_is_not_adopted(fake_twilio, template_dir, create_project,
                                            run_dispatcher, frozen_clock, app, monkeypatch):
    project = create_project()
    first = send_one(project, key="a")
    run_dispatcher()
    second = send_one(project, key="b")  # same text, same number
    monkeypatch.setitem(app.extensions, "twilio_http_client", CrashingHttpClient(False))
    with pytest.raises(SimulatedCrash):
        run_dispatcher()
    db.session.rollback()
    monkeypatch.delitem(app.extensions, "twilio_http_client")
    frozen_clock.advance(timedelta(minutes=6))
    dispatch_due()
    first, second = reload(first), reload(second)
    assert second.status == "sent" and second.provider_id != first.provider_id
    assert len(fake_twilio.messages) == 2


def test_embedded_mode_records_only(template_dir, create_project, run_dispatcher, app):
    assert not app.config.get("TWILIO_ACCOUNT_SID")
    message = send_one(create_project())
    run_dispatcher()
    message = reload(message)
    assert (message.status, message.provider_status, message.provider_id) == (
        "sent", "recorded", None)


def test_registered_deliverers_and_unknown_kinds(db_session):
    seen = []

    def open_door(delivery):
        seen.append(delivery.payload)
        if delivery.payload.get("door") == "bad":
            raise PermanentDeliveryError("no such door")
        return DeliveryResult("door-123", "opened")

    register_deliverer("test_door", open_door)
    good = enqueue("test_door", idempotency_key="door-1", payload={"door": "A1"})
    bad = enqueue("test_door", idempotency_key="door-2", payload={"door": "bad"})
    lost = enqueue("no_such_kind", idempotency_key="x-1")
    assert enqueue("test_door", idempotency_key="door-1", payload={"door": "B"}) is good
    commit()
    assert dispatch_due() == 2
    good, bad, lost = reload(good), reload(bad), reload(lost)
    assert (good.status, good.provider_id) == ("sent", "door-123")
    assert (bad.status, bad.last_error) == ("failed", "no such door")
    assert lost.status == "failed" and "no deliverer" in lost.last_error
    assert seen == [{"door": "A1"}, {"door": "bad"}]


def test_interrupted_row_of_an_uncheckable_kind_fails_for_an_admin(db_session, frozen_clock):
    register_deliverer("test_uncheckable", lambda d: DeliveryResult())
    row = enqueue("test_uncheckable", idempotency_key="u-1")
    row.status, row.claimed_at = "sending", frozen_clock()
    commit()
    frozen_clock.advance(timedelta(seconds=1))
    assert dispatch_due() == 1
    row = reload(row)
    assert row.status == "failed" and "outcome unknown" in row.last_error
