"""Operations on a user's notifications, contact details and channel preferences."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func, select, update

from app.clock import clock
from app.errors import FieldErrors, NotFound
from app.extensions import db
from app.notifications.models import (
    CHANNELS,
    Notification,
    NotificationPreference,
    UserContact,
)
from app.notifications.recipients import normalise_phone


def unread_count(user_id: int) -> int:
    return db.session.scalar(select(func.count(Notification.id)).where(
        Notification.user_id == user_id, Notification.read_at.is_(None))) or 0


def notifications_of(user_id: int, unread_only: bool = False) -> Select[tuple[Notification]]:
    stmt = (select(Notification).where(Notification.user_id == user_id)
            .order_by(Notification.created_at.desc(), Notification.id.desc()))
    if unread_only:
        stmt = stmt.where(Notification.read_at.is_(None))
    return stmt


def own_notification(notification_id: int, user_id: int) -> Notification:
    row = db.session.get(Notification, notification_id)
    if row is None or row.user_id != user_id:
        raise NotFound("no such notification")
    return row


def mark_read(notification: Notification) -> Notification:
    """Mark one notification read (idempotent)."""
    if notification.read_at is None:
        notification.read_at = clock.now()
        db.session.flush()
    return notification


def mark_all_read(user_id: int) -> int:
    """Mark every unread notification of the user read; returns how many."""
    result: Any = db.session.execute(
        update(Notification)
        .where(Notification.user_id == user_id, Notification.read_at.is_(None))
        .values(read_at=clock.now()))
    return int(result.rowcount or 0)


def preferences_of(user_id: int) -> dict[str, bool]:
    """Every channel → enabled (no row means enabled)."""
    chosen = {p.channel: p.enabled for p in db.session.scalars(
        select(NotificationPreference).where(NotificationPreference.user_id == user_id))}
    return {channel: chosen.get(channel, True) for channel in CHANNELS}


def set_preference(user_id: int, channel: str, enabled: bool) -> NotificationPreference:
    """Opt a user in to or out of a channel."""
    if channel not in CHANNELS:
        raise FieldErrors({"channel": f"one of {', '.join(CHANNELS)}"})
    row = db.session.scalar(select(NotificationPreference).where(
        NotificationPreference.user_id == user_id, NotificationPreference.channel == channel))
    if row is None:
        row = NotificationPreference(user_id=user_id, channel=channel)
        db.session.add(row)
    row.enabled = enabled
    db.session.flush()
    return row


def contact_of(user_id: int) -> UserContact | None:
    return db.session.scalar(select(UserContact).where(UserContact.user_id == user_id))


def set_contact(user_id: int, phone: str | None, email: str | None) -> UserContact:
    """Store a user's mobile (validated, E.164) and e-mail; empty values clear them."""
    phone_e164 = normalise_phone(phone) if phone and phone.strip() else None
    email = (email or "").strip() or None
    if email is not None and ("@" not in email or len(email) > 200):
        raise FieldErrors({"email": "not an e-mail address"})
    row = contact_of(user_id)
    if row is None:
        row = UserContact(user_id=user_id)
        db.session.add(row)
    row.phone_e164, row.email = phone_e164, email
    db.session.flush()
    return row
