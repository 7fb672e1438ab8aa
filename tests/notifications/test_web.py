"""Pages, API, Twilio callbacks and the live stream."""

from __future__ import annotations

import json
import time

import pytest
import redis
from flask import render_template_string
from flask_login import login_user
from twilio.request_validator import RequestValidator

from app.extensions import db
from app.notifications import live
from app.notifications.service import notify
from app.outbox.models import OutboxMessage
from app.uow import commit
from tests.notifications.conftest import AUTH_TOKEN

DATA = {"ticket_no": "BX-0001", "technician_name": "张师傅"}
URL = "http://localhost/notifications/twilio/status"


def sms(project, key="t1"):
    [message] = notify("repair.accepted", project_id=project.id, recipients=["13800138000"],
                       data=DATA, idempotency_key=key, channels=["sms"])
    return message


def inapp(project, user, key="t1"):
    return notify("repair.accepted", project_id=project.id, recipients=[user.id], data=DATA,
                  idempotency_key=key, channels=["inapp"], link="/repairs/1")


def post_status(client, params, query="", signature=None):
    url = URL + query
    headers = {}
    if signature is not False:
        headers["X-Twilio-Signature"] = signature or RequestValidator(AUTH_TOKEN).compute_signature(
            url, params)
    return client.post("/notifications/twilio/status" + query, data=params, headers=headers)


def test_signed_callback_updates_the_row(client, twilio_settings, template_dir, create_project,
                                         run_dispatcher):
    message = sms(create_project())
    message.status, message.provider_id = "sent", "SM123"
    commit()
    response = post_status(client, {"MessageSid": "SM123", "MessageStatus": "delivered"})
    assert response.status_code == 204
    db.session.expire_all()
    assert db.session.get(OutboxMessage, message.id).provider_status == "delivered"
    # a late "sent" does not move it back; "undelivered" marks the row failed
    post_status(client, {"MessageSid": "SM123", "MessageStatus": "sent"})
    db.session.expire_all()
    assert db.session.get(OutboxMessage, message.id).provider_status == "delivered"
    post_status(client, {"MessageSid": "SM123", "MessageStatus": "undelivered",
                         "ErrorCode": "30003"})
    db.session.expire_all()
    row = db.session.get(OutboxMessage, message.id)
    assert row.status == "failed" and "30003" in row.last_error


@pytest.mark.parametrize("signature", [False, "bm90IHRoZSBzaWduYXR1cmU="])
def test_unsigned_or_badly_signed_callbacks_are_refused(client, twilio_settings, template_dir,
                                                        create_project, signature):
    message = sms(create_project())
    message.provider_id = "SM123"
    commit()
    response = post_status(client, {"MessageSid": "SM123", "MessageStatus": "delivered"},
                           signature=signature)
    assert response.status_code == 403
    db.session.expire_all()
    assert db.session.get(OutboxMessage, message.id).provider_status is None


def test_callbacks_are_refused_without_twilio_settings(client):
    assert post_status(client, {"MessageSid": "SM1", "MessageStatus": "sent"},
                       signature="abc").status_code == 403


def test_callback_with_key_adopts_the_sid_of_a_crashed_send(client, twilio_settings,
                                                            template_dir, create_project):
    message = sms(create_project())
    message.status = "sending"
    commit()
    query = "?key=" + message.idempotency_key.replace("+", "%2B")
    response = post_status(client, {"MessageSid": "SM999", "MessageStatus": "sent"}, query)
    assert response.status_code == 204
    db.session.expire_all()
    row = db.session.get(OutboxMessage, message.id)
    assert (row.status, row.provider_id, row.provider_status) == ("sent", "SM999", "sent")


def test_admin_outbox_shows_embedded_banner_and_resends(client, auth, create_user, template_dir,
                                                        create_project):
    project = create_project()
    admin = create_user("process_admin", projects=[project])  # scoped to its projects
    message = sms(project)
    message.status, message.last_error = "failed", "Twilio HTTP 400 error 21211: bad number"
    commit()
    auth.login(admin.username)
    page = client.get("/admin/notifications/?status=failed").get_data(as_text=True)
    assert "SMS embedded mode: messages are only recorded here, not sent." in page
    assert "21211" in page and "工单BX-0001" in page
    response = client.post(f"/admin/notifications/{message.id}/resend",
                           data={"csrf_token": auth.csrf("/admin/notifications/")})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(OutboxMessage, message.id).status == "queued"
    outsider = create_user("process_admin")
    auth.logout()
    auth.login(outsider.username)
    page = client.get("/admin/notifications/").get_data(as_text=True)
    assert "工单BX-0001" not in page  # another project's messages are not shown
    assert client.post(f"/admin/notifications/{message.id}/resend",
                       data={"csrf_token": auth.csrf("/admin/notifications/")}).status_code == 404


def test_banner_disappears_with_twilio(client, auth, create_user, twilio_settings):
    auth.login(create_user("super_admin").username)
    page = client.get("/admin/notifications/").get_data(as_text=True)
    assert "SMS embedded mode" not in page


def test_template_preview_in_both_languages(client, auth, create_user, template_dir):
    auth.login(create_user("super_admin").username)
    page = client.get("/admin/notifications/templates?event=repair.accepted").get_data(
        as_text=True)
    assert "【EstateFlow】工单BX-0001已由张师傅接单。" in page
    assert "[EstateFlow] 张师傅 accepted job BX-0001." in page
    assert "falls back to zh_CN" in page  # the in-app template has no English version
    assert client.get("/admin/notifications/quiet-hours").status_code == 200


@pytest.mark.parametrize("role, status", [("super_admin", 200), ("process_admin", 200),
                                          ("hq", 403), ("technician", 403)])
def test_admin_pages_need_notifications_admin(client, auth, create_user, role, status):
    auth.login(create_user(role).username)
    assert client.get("/admin/notifications/").status_code == status
    assert client.get("/admin/notifications/templates").status_code == status


def test_user_list_api_and_mark_read(client, auth, create_user, create_project, template_dir):
    project = create_project()
    user = create_user("owner", projects=[project])
    other = create_user("owner", projects=[project])
    inapp(project, user)
    inapp(project, other)
    commit()
    auth.login(user.username)
    assert client.get("/api/v1/notifications/unread-count").get_json() == {"count": 1}
    listing = client.get("/api/v1/notifications").get_json()
    assert listing["total"] == 1 and listing["items"][0]["title"] == "工单已接单"
    note_id = listing["items"][0]["id"]
    token = auth.csrf("/notifications/")
    assert client.post(f"/api/v1/notifications/{note_id}/read").status_code == 400  # no CSRF
    answer = client.post(f"/api/v1/notifications/{note_id}/read",
                         headers={"X-CSRFToken": token})
    assert answer.status_code == 200 and answer.get_json()["read_at"]
    assert client.get("/api/v1/notifications/unread-count").get_json() == {"count": 0}
    others = client.get("/api/v1/notifications?unread=1").get_json()
    assert others["items"] == []
    # someone else's notification does not exist for me
    foreign = db.session.scalar(db.select(OutboxMessage).where(OutboxMessage.user_id == other.id))
    foreign_id = foreign.payload["notification_id"]
    assert client.post(f"/api/v1/notifications/{foreign_id}/read",
                       headers={"X-CSRFToken": token}).status_code == 404


def test_web_list_mark_read_and_preferences(client, auth, create_user, create_project,
                                            template_dir):
    project = create_project()
    user = create_user("owner", projects=[project])
    [message] = inapp(project, user)
    commit()
    auth.login(user.username)
    page = client.get("/notifications/").get_data(as_text=True)
    assert "工单已接单" in page
    note_id = message.payload["notification_id"]
    token = auth.csrf("/notifications/")
    assert client.post(f"/notifications/{note_id}/read").status_code == 400  # CSRF
    response = client.post(f"/notifications/{note_id}/read",
                           data={"csrf_token": token, "follow": "1"})
    assert response.status_code == 302 and response.headers["Location"] == "/repairs/1"
    bad = client.post("/notifications/preferences",
                      data={"csrf_token": token, "phone": "123", "channel_inapp": "on"})
    assert bad.status_code == 422 and "not a valid phone number" in bad.get_data(as_text=True)
    ok = client.post("/notifications/preferences",
                     data={"csrf_token": token, "phone": "138 0013 8000", "channel_inapp": "on"})
    assert ok.status_code == 302
    page = client.get("/notifications/preferences").get_data(as_text=True)
    assert "+8613800138000" in page


def test_bell_include(app, create_user, create_project, template_dir):
    project = create_project()
    user = create_user("owner", projects=[project])
    inapp(project, user)
    with app.test_request_context("/"):
        login_user(user)
        html = render_template_string('{% include "notifications/_bell.html" %}')
    assert 'data-testid="bell-count">1<' in html
    assert 'data-stream-url=""' in html  # no Redis: the bell polls


def test_stream_without_redis_tells_the_browser_to_poll(client, auth, create_user):
    auth.login(create_user("owner").username)
    response = client.get("/notifications/stream")
    body = response.get_data(as_text=True)
    assert response.mimetype == "text/event-stream"
    assert body.startswith("retry: 30000\n") and 'event: unread\ndata: {"count": 0}' in body


@pytest.mark.redis
def test_redis_publish_reaches_a_subscriber(redis_url):
    client = redis.Redis.from_url(redis_url)
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(live.channel_name(424242))
    live.publish(client, 424242, {"title": "工单已接单"})
    message = None
    deadline = time.monotonic() + 5
    while message is None and time.monotonic() < deadline:
        message = pubsub.get_message(timeout=1)
    pubsub.close()
    assert message is not None and json.loads(message["data"]) == {"title": "工单已接单"}


@pytest.mark.redis
def test_stream_pushes_new_notifications(app, client, auth, create_user, create_project,
                                         template_dir, redis_url, monkeypatch):
    connection = redis.Redis.from_url(redis_url)
    monkeypatch.setitem(app.extensions, "estateflow_redis", connection)
    project = create_project()
    user = create_user("owner", projects=[project])
    commit()
    auth.login(user.username)
    response = client.get("/notifications/stream", buffered=False)
    chunks = (chunk.decode("utf-8") for chunk in response.response)
    assert 'event: unread\ndata: {"count": 0}' in next(chunks)  # subscribed by now
    inapp(project, user)
    commit()  # publishes after the commit
    pushed = next(chunks)
    assert pushed.startswith("event: notification\n") and "工单已接单" in pushed
    response.close()
