"""In-app notifications, channel preferences, quiet hours and contact details."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.audit.recorder import Audited
from app.clock import utcnow
from app.extensions import db
from app.scoping import ProjectScoped
from app.sqltypes import UTCDateTime

CHANNELS = ("sms", "email", "inapp")
DEFAULT_QUIET_START = "22:00"
DEFAULT_QUIET_END = "08:00"
DEFAULT_TIMEZONE = "Asia/Shanghai"


class Notification(db.Model):  # type: ignore[name-defined]
    """One in-app message for one user (the bell). Created in the event's transaction."""

    __tablename__ = "notification"
    __table_args__ = (Index("ix_notification_user_unread", "user_id", "read_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    project_id: Mapped[int | None] = mapped_column(ForeignKey("project.id"))
    event: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    link: Mapped[str | None] = mapped_column(String(500))
    urgent: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class NotificationPreference(Audited, db.Model):  # type: ignore[name-defined]
    """A user's choice for one channel; no row means enabled."""

    __tablename__ = "notification_preference"
    __table_args__ = (UniqueConstraint("user_id", "channel"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    enabled: Mapped[bool] = mapped_column(default=True)


class NotificationSettings(ProjectScoped, Audited, db.Model):  # type: ignore[name-defined]
    """Quiet hours of one project (local time); no row means 22:00–08:00 Asia/Shanghai."""

    __tablename__ = "notification_settings"
    __table_args__ = (UniqueConstraint("project_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    quiet_enabled: Mapped[bool] = mapped_column(default=True)
    quiet_start: Mapped[str] = mapped_column(String(5), default=DEFAULT_QUIET_START)
    quiet_end: Mapped[str] = mapped_column(String(5), default=DEFAULT_QUIET_END)
    timezone: Mapped[str] = mapped_column(String(64), default=DEFAULT_TIMEZONE)


class UserContact(Audited, db.Model):  # type: ignore[name-defined]
    """Where to reach a user: a mobile number in E.164 and an e-mail address.

    Staff accounts have no phone column; customer records (later) will bring their own.
    """

    __tablename__ = "user_contact"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), unique=True)
    phone_e164: Mapped[str | None] = mapped_column(String(20))
    email: Mapped[str | None] = mapped_column(String(200))
