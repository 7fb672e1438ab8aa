"""``notify``: render an event's templates for its recipients and write them to the outbox.

In-app notifications are created at once, in the event's transaction (the bell shows them as
soon as it commits; a push to open pages follows the commit). SMS and e-mail become outbox rows
that the dispatcher delivers after the commit; non-urgent SMS inside a project's quiet hours are
``held`` until the quiet hours end.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import current_app

from app.clock import clock
from app.extensions import db
from app.notifications import live
from app.notifications.inbox import preferences_of
from app.notifications.models import Notification
from app.notifications.quiet import quiet_hours
from app.notifications.recipients import RecipientError, RecipientLike, Target, resolve
from app.notifications.templates import (
    TEMPLATE_CHANNELS,
    Rendered,
    TemplateRenderError,
    TemplateStore,
    read_directory,
)
from app.outbox.dispatcher import wake_dispatcher
from app.outbox.models import HELD, QUEUED, SENT, OutboxMessage
from app.outbox.operations import find_by_keys, insert_messages, new_message, normalise_key
from app.uow import after_commit

_cache_lock = threading.Lock()
_cache: dict[str, tuple[tuple[tuple[str, int], ...], TemplateStore]] = {}


class NotificationError(Exception):
    """An event cannot be notified (unknown event, missing data, bad recipient or template).

    The engine turns it into an incident on the instance.
    """


def templates_dir() -> Path:
    configured = current_app.config.get("NOTIFICATIONS_DIR")
    return Path(configured) if configured else Path(current_app.root_path).parent / "notifications"


def current_templates() -> TemplateStore:
    """The templates of the notifications/ folder, re-read when a file changes."""
    root = templates_dir()
    signature = tuple(sorted((str(p), p.stat().st_mtime_ns)
                             for p in root.rglob("*") if p.is_file())) if root.is_dir() else ()
    with _cache_lock:
        cached = _cache.get(str(root))
        if cached is None or cached[0] != signature:
            cached = (signature, TemplateStore(read_directory(root)))
            _cache[str(root)] = cached
        return cached[1]


@dataclass(frozen=True)
class _Planned:
    target: Target
    channel: str
    address: str
    rendered: Rendered


def _plan(store: TemplateStore, event: str, targets: list[Target], channels: list[str],
          data: Mapping[str, Any]) -> list[_Planned]:
    planned: list[_Planned] = []
    for target in targets:
        enabled = preferences_of(target.user_id) if target.user_id else {}
        for channel in channels:
            address = target.address(channel)
            if address is None or not enabled.get(channel, True):
                continue
            try:
                rendered = store.render(event, channel, target.language, data)
            except TemplateRenderError as exc:
                raise NotificationError(str(exc)) from exc
            planned.append(_Planned(target, channel, address, rendered))
    return planned


def notify(
    event: str,
    *,
    project_id: int | None,
    recipients: Iterable[RecipientLike],
    data: Mapping[str, Any],
    urgent: bool = False,
    channels: Iterable[str] | None = None,
    idempotency_key: str,
    link: str | None = None,
    templates: TemplateStore | None = None,
    new_key: bool = False,
) -> list[OutboxMessage]:
    """Notify ``recipients`` of ``event`` (``flow.event``, e.g. ``repair.accepted``).

    Channels default to those with templates for the event; a user's opt-outs and missing
    contact details leave channels out. Every message's key is
    ``<idempotency_key>:<channel>:<recipient>``, so calling again with the same key returns
    the same rows and sends nothing twice. Adds and flushes only; raises NotificationError
    before writing anything if any message cannot be rendered. ``templates``: render with
    these instead of the notifications/ folder (the engine passes an instance's deployed ones).
    ``new_key``: the caller knows no message of this key can be stored yet, so it is not looked
    up; if one is, the INSERT fails on the key's unique index and nothing is sent twice.
    """
    store = templates if templates is not None else current_templates()
    try:
        store.spec(event)
    except TemplateRenderError as exc:
        raise NotificationError(str(exc)) from exc
    available = store.channels(event)
    if channels is None:
        wanted = available
    else:
        wanted = list(dict.fromkeys(channels))
        missing = [c for c in wanted if c not in available]
        if missing:
            known = [c for c in missing if c not in TEMPLATE_CHANNELS]
            raise NotificationError(
                f"unknown channel {known[0]!r}" if known else
                f"event {event!r} has no {', '.join(missing)} template")
    try:
        targets = resolve(recipients, project_id)
    except RecipientError as exc:
        raise NotificationError(str(exc)) from exc
    planned = _plan(store, event, targets, wanted, data)
    link = link if link is not None else (str(data["link"]) if data.get("link") else None)
    keys = [f"{idempotency_key}:{item.channel}:{item.target.ref}" for item in planned]
    existing = {} if new_key else find_by_keys(keys)  # one look-up for every message
    messages: list[OutboxMessage] = []
    new: list[OutboxMessage] = []
    queued = False
    for item, key in zip(planned, keys, strict=True):
        found = existing.get(normalise_key(key))
        if found is not None:
            messages.append(found)
            continue
        message = _write(event, project_id, item, key, urgent, link)
        messages.append(message)
        new.append(message)
        queued = queued or item.channel != "inapp"
    insert_messages(new)  # one INSERT for every new row
    if queued:
        after_commit(wake_dispatcher)
    return messages


def _write(event: str, project_id: int | None, item: _Planned, key: str, urgent: bool,
           link: str | None) -> OutboxMessage:
    rendered = item.rendered
    common: dict[str, Any] = {
        "event": event, "project_id": project_id,
        "user_id": item.target.user_id, "recipient": item.address, "urgent": urgent,
        "body": rendered.body, "subject": rendered.subject,
        "payload": {"to": item.address, "language": rendered.language,
                    "template": rendered.path},
    }
    if item.channel == "inapp":
        assert item.target.user_id is not None
        note = Notification(user_id=item.target.user_id, project_id=project_id, event=event,
                            title=rendered.subject or rendered.body[:200], body=rendered.body,
                            link=link, urgent=urgent, created_at=clock.now())
        db.session.add(note)
        db.session.flush()
        common["payload"]["notification_id"] = note.id
        after_commit(live.publisher(item.target.user_id, {
            "id": note.id, "title": note.title, "body": note.body, "link": link,
            "urgent": urgent}))
        return new_message("inapp", key, status=SENT, **common)
    hold = None
    if item.channel == "sms" and not urgent:
        hold = quiet_hours(project_id).until(clock.now())
    return new_message(item.channel, key, status=HELD if hold else QUEUED, not_before=hold,
                       **common)
