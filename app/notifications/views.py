"""The user side: the list behind the bell, mark read, preferences, the live stream; and the
Twilio status callback."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask.blueprints import BlueprintSetupState
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from twilio.request_validator import RequestValidator

from app.accounts.permissions import require
from app.errors import DomainError
from app.extensions import csrf, db
from app.notifications import channels, inbox, live
from app.notifications.callbacks import apply_twilio_status
from app.notifications.models import CHANNELS

bp = Blueprint("notifications", __name__, url_prefix="/notifications")

POLL_SECONDS = 30


@bp.record_once
def _install(state: BlueprintSetupState) -> None:
    channels.install()


@bp.app_context_processor
def _bell_globals() -> dict[str, Any]:
    # Functions, not values: only pages that include the bell pay for the count.
    return {"notification_unread_count": lambda: inbox.unread_count(current_user.id),
            "notification_live": lambda: live.redis_client() is not None}


@bp.get("/")
@require("notifications.own")
def index() -> ResponseReturnValue:
    unread_only = request.args.get("unread") == "1"
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    pagination = db.paginate(inbox.notifications_of(current_user.id, unread_only), page=page,
                             per_page=20, error_out=False)
    return render_template("notifications/index.html", pagination=pagination,
                           unread_only=unread_only, unread=inbox.unread_count(current_user.id))


@bp.post("/<int:notification_id>/read")
@require("notifications.own")
def read(notification_id: int) -> ResponseReturnValue:
    note = inbox.mark_read(inbox.own_notification(notification_id, current_user.id))
    if request.form.get("follow") and note.link and note.link.startswith("/"):
        return redirect(note.link)
    return redirect(request.form.get("next") or url_for("notifications.index"))


@bp.post("/read-all")
@require("notifications.own")
def read_all() -> ResponseReturnValue:
    count = inbox.mark_all_read(current_user.id)
    flash(_("%(count)s notifications marked read.", count=count), "success")
    return redirect(url_for("notifications.index"))


@bp.route("/preferences", methods=["GET", "POST"])
@require("notifications.own")
def preferences() -> ResponseReturnValue:
    errors: dict[str, str] = {}
    if request.method == "POST":
        try:
            inbox.set_contact(current_user.id, request.form.get("phone"),
                              request.form.get("email"))
            for channel in CHANNELS:
                inbox.set_preference(current_user.id, channel,
                                     request.form.get(f"channel_{channel}") == "on")
        except DomainError as exc:
            errors = exc.fields or {"form": exc.message}
        else:
            flash(_("Notification settings saved."), "success")
            return redirect(url_for("notifications.preferences"))
    contact = inbox.contact_of(current_user.id)
    status = 422 if errors else 200
    return render_template("notifications/preferences.html", contact=contact, errors=errors,
                           form=request.form, prefs=inbox.preferences_of(current_user.id),
                           channels=CHANNELS), status


@bp.get("/stream")
@require("notifications.own")
def stream() -> ResponseReturnValue:
    """Server-sent events: ``unread`` first, then ``notification`` per new one (Redis).

    Without Redis the answer is the count and a ``retry`` of 30 s: the browser reconnects, so
    EventSource itself polls.
    """
    user_id = current_user.id
    first = live.sse("unread", {"count": inbox.unread_count(user_id)})
    client = live.redis_client()
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    if client is None:
        return Response(f"retry: {POLL_SECONDS * 1000}\n{first}", headers=headers,
                        mimetype="text/event-stream")
    max_seconds = float(current_app.config.get("NOTIFY_SSE_MAX_SECONDS", 300))

    def events() -> Iterator[str]:
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        pubsub.subscribe(live.channel_name(user_id))
        try:
            yield f"retry: 3000\n{first}"
            deadline = time.monotonic() + max_seconds  # the browser reconnects after this
            quiet_since = time.monotonic()
            while time.monotonic() < deadline:
                # None also comes back at once for the (ignored) subscribe confirmation
                message = pubsub.get_message(timeout=15.0)
                if message is None:
                    if time.monotonic() - quiet_since >= 15.0:
                        quiet_since = time.monotonic()
                        yield ": keep-alive\n\n"
                    continue
                quiet_since = time.monotonic()
                data = message["data"]
                text = data.decode("utf-8") if isinstance(data, bytes) else str(data)
                yield f"event: notification\ndata: {text}\n\n"
        finally:
            pubsub.close()

    return Response(stream_with_context(events()), headers=headers,
                    mimetype="text/event-stream")


def _signed_url() -> str:
    base = channels.setting("PUBLIC_BASE_URL")
    if base:  # behind a proxy Twilio signed the public URL, not the one we see
        return str(base).rstrip("/") + request.full_path.rstrip("?")
    return request.url


@bp.post("/twilio/status")
@csrf.exempt
def twilio_status() -> ResponseReturnValue:
    """Twilio's delivery-status callback; refused (403) unless signed with our auth token."""
    token = channels.setting("TWILIO_AUTH_TOKEN")
    signature = request.headers.get("X-Twilio-Signature", "")
    if not token or not signature:
        abort(403)
    params = request.form.to_dict()
    if not RequestValidator(token).validate(_signed_url(), params, signature):
        abort(403)
    sid, status = params.get("MessageSid") or params.get("SmsSid"), params.get("MessageStatus")
    if sid and status:
        apply_twilio_status(sid, status, request.args.get("key"), params.get("ErrorCode"))
    return Response(status=204)
