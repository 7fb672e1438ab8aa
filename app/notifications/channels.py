"""Deliverers for the outbox: SMS through Twilio, e-mail through SMTP.

Without Twilio settings (the embedded default) an SMS is only recorded in the outbox, where
admins read it; likewise e-mail without ``SMTP_HOST``. Settings come from the Flask config,
falling back to environment variables of the same name.
"""

from __future__ import annotations

import os
import smtplib
from datetime import timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any
from urllib.parse import quote

import requests
from flask import current_app
from twilio.base.exceptions import TwilioException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from app.clock import clock
from app.notifications.quiet import quiet_hours
from app.outbox.dispatcher import (
    Delivery,
    DeliveryResult,
    PermanentDeliveryError,
    TransientDeliveryError,
    register_deliverer,
)
from app.outbox.models import OutboxMessage

RECORDED = "recorded"  # provider_status of messages kept in the outbox only (embedded mode)
CHECK_SKEW = timedelta(minutes=5)


def setting(name: str, default: Any = None) -> Any:
    value = current_app.config.get(name)
    if value is None:
        value = os.environ.get(name) or None
    return default if value is None else value


def twilio_configured() -> bool:
    return bool(setting("TWILIO_ACCOUNT_SID") and setting("TWILIO_AUTH_TOKEN")
                and (setting("TWILIO_FROM") or setting("TWILIO_MESSAGING_SERVICE_SID")))


def smtp_configured() -> bool:
    return bool(setting("SMTP_HOST"))


def twilio_client() -> Client:
    # Tests (and a staging mock) point the client elsewhere: a custom HTTP client in
    # app.extensions["twilio_http_client"], a base URL in TWILIO_API_BASE_URL.
    http = current_app.extensions.get("twilio_http_client") or TwilioHttpClient(
        timeout=float(setting("TWILIO_TIMEOUT_SECONDS", 30)))
    client = Client(setting("TWILIO_ACCOUNT_SID"), setting("TWILIO_AUTH_TOKEN"), http_client=http)
    base = setting("TWILIO_API_BASE_URL")
    if base:
        client.api.base_url = str(base).rstrip("/")
    return client


def status_callback_url(idempotency_key: str) -> str | None:
    """Where Twilio reports delivery; carries the row's key so a lost SID can be adopted."""
    base = setting("PUBLIC_BASE_URL")
    if not base:
        return None
    return f"{str(base).rstrip('/')}/notifications/twilio/status?key={quote(idempotency_key)}"


def _twilio_error(exc: TwilioException) -> Exception:
    status = getattr(exc, "status", None)
    code = getattr(exc, "code", None)
    text = getattr(exc, "msg", None) or getattr(exc, "title", None) or type(exc).__name__
    reason = f"Twilio HTTP {status}" + (f" error {code}" if code else "") + f": {text}"
    if status == 429:
        return TransientDeliveryError(reason)
    if isinstance(status, int) and 400 <= status < 500:
        return PermanentDeliveryError(reason)
    return TransientDeliveryError(reason, outcome_unknown=True)  # 5xx: may have been created


def send_sms(delivery: Delivery) -> DeliveryResult:
    if not twilio_configured():
        return DeliveryResult(None, RECORDED)
    params: dict[str, Any] = {"to": delivery.recipient, "body": delivery.body}
    service = setting("TWILIO_MESSAGING_SERVICE_SID")
    if service:
        params["messaging_service_sid"] = service
    else:
        params["from_"] = setting("TWILIO_FROM")
    callback = status_callback_url(delivery.idempotency_key)
    if callback:
        params["status_callback"] = callback
    try:
        message = twilio_client().messages.create(**params)
    except TwilioException as exc:
        raise _twilio_error(exc) from exc
    except requests.exceptions.ConnectTimeout as exc:
        raise TransientDeliveryError(f"Twilio unreachable: {exc}") from exc
    except requests.exceptions.RequestException as exc:
        raise TransientDeliveryError(f"Twilio request failed: {exc}",
                                     outcome_unknown=True) from exc
    return DeliveryResult(message.sid, message.status)


def check_sms(delivery: Delivery) -> list[DeliveryResult]:
    """Messages Twilio already has for this row: same number, same body, created since the
    interrupted attempt began (minus clock skew), oldest first."""
    if not twilio_configured():
        return []  # recording again has no visible effect
    since = delivery.check_since - CHECK_SKEW
    filters: dict[str, Any] = {"to": delivery.recipient, "limit": 50}
    if not setting("TWILIO_MESSAGING_SERVICE_SID"):
        filters["from_"] = setting("TWILIO_FROM")
    try:
        messages = twilio_client().messages.list(**filters)
    except (TwilioException, requests.exceptions.RequestException) as exc:
        raise TransientDeliveryError(f"could not check Twilio for an earlier attempt: {exc}",
                                     outcome_unknown=True) from exc
    body = delivery.body or ""
    found = [m for m in messages
             if (m.body or "").endswith(body) and m.date_created is not None
             and m.date_created >= since and str(m.direction or "").startswith("outbound")]
    found.sort(key=lambda m: m.date_created)
    return [DeliveryResult(m.sid, m.status) for m in found]


def sms_hold_until(row: OutboxMessage) -> Any:
    if row.urgent:
        return None
    return quiet_hours(row.project_id).until(clock.now())


def send_email(delivery: Delivery) -> DeliveryResult:
    if not smtp_configured():
        return DeliveryResult(None, RECORDED)
    message = EmailMessage()
    message["Subject"] = delivery.subject or ""
    message["From"] = setting("SMTP_FROM", "estateflow@localhost")
    message["To"] = delivery.recipient
    message["Date"] = formatdate(clock.now().timestamp(), localtime=False)
    # Derived from the row, so a receiver can tell a resend of the same message.
    message_id = make_msgid(idstring=f"outbox{delivery.id}", domain="estateflow")
    message["Message-ID"] = message_id
    message.set_content(delivery.body or "")
    timeout = float(setting("SMTP_TIMEOUT_SECONDS", 30))
    host, port = setting("SMTP_HOST"), int(setting("SMTP_PORT", 587))
    ssl = str(setting("SMTP_SSL", "")).lower() in {"1", "true", "yes", "on"}
    starttls = str(setting("SMTP_STARTTLS", "true")).lower() in {"1", "true", "yes", "on"}
    try:
        smtp: smtplib.SMTP = (smtplib.SMTP_SSL(host, port, timeout=timeout) if ssl
                              else smtplib.SMTP(host, port, timeout=timeout))
        with smtp:
            if starttls and not ssl:
                smtp.starttls()
            if setting("SMTP_USERNAME"):
                smtp.login(setting("SMTP_USERNAME"), setting("SMTP_PASSWORD", ""))
            smtp.send_message(message)
    except smtplib.SMTPRecipientsRefused as exc:
        raise PermanentDeliveryError(f"recipient refused: {exc.recipients}") from exc
    except smtplib.SMTPResponseException as exc:
        error = f"SMTP {exc.smtp_code}: {exc.smtp_error!r}"
        if 500 <= exc.smtp_code < 600:
            raise PermanentDeliveryError(error) from exc
        raise TransientDeliveryError(error) from exc
    except smtplib.SMTPServerDisconnected as exc:
        raise TransientDeliveryError(f"SMTP disconnected: {exc}", outcome_unknown=True) from exc
    except (TimeoutError, OSError, smtplib.SMTPException) as exc:
        raise TransientDeliveryError(f"SMTP failed: {exc}") from exc
    return DeliveryResult(message_id.strip("<>")[:64], "accepted")


def install() -> None:
    """Register the notification deliverers with the outbox (idempotent)."""
    register_deliverer("sms", send_sms, check=check_sms, hold_until=sms_hold_until)
    register_deliverer("email", send_email)
