"""Who receives a notification: users, a role within a project, or a raw phone number."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import phonenumbers
from sqlalchemy import bindparam, or_, select
from sqlalchemy.orm import lazyload

from app.accounts.models import ProjectGrant, User, UserRole
from app.accounts.roles import ALL_PROJECT_ROLES, is_known_role
from app.errors import FieldErrors
from app.extensions import db
from app.notifications.models import UserContact
from app.notifications.templates import normalise_language

DEFAULT_REGION = "CN"


class RecipientError(ValueError):
    """A recipient cannot be resolved (unknown user or role, invalid phone)."""


def normalise_phone(raw: str, region: str = DEFAULT_REGION) -> str:
    """A valid number in E.164 (``138 0013 8000`` → ``+8613800138000``); raises FieldErrors."""
    try:
        number = phonenumbers.parse(raw.strip(), region)
    except phonenumbers.NumberParseException as exc:
        raise FieldErrors({"phone": f"not a phone number: {raw!r}"}) from exc
    if not phonenumbers.is_valid_number(number):
        raise FieldErrors({"phone": f"not a valid phone number: {raw!r}"})
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@dataclass(frozen=True)
class Recipient:
    """Exactly one of ``user_id``, ``role`` (within the event's project) or ``phone``.

    ``notify`` also accepts an ``int`` (a user id) and a ``str``: a role code, else a phone.
    """

    user_id: int | None = None
    role: str | None = None
    phone: str | None = None
    language: str | None = None  # for raw phones; users' own language wins
    #: The phone is in E.164 already, as a record that validated it on entry stores it: it is
    #: not parsed again.
    e164: bool = False

    @classmethod
    def user(cls, user_id: int) -> Recipient:
        return cls(user_id=user_id)

    @classmethod
    def role_in_project(cls, role: str) -> Recipient:
        return cls(role=role)

    @classmethod
    def to_phone(cls, phone: str, language: str | None = None) -> Recipient:
        return cls(phone=phone, language=language)

    @classmethod
    def to_stored_phone(cls, phone: str) -> Recipient:
        """A phone number as a record stores it (validated, E.164)."""
        return cls(phone=phone, e164=True)


RecipientLike = Recipient | int | str


@dataclass(frozen=True)
class Target:
    """A resolved person or number; ``ref`` is stable and part of each message's key."""

    ref: str
    language: str
    user_id: int | None = None
    phone: str | None = None
    email: str | None = None

    def address(self, channel: str) -> str | None:
        if channel == "sms":
            return self.phone
        if channel == "email":
            return self.email
        return f"user:{self.user_id}" if channel == "inapp" and self.user_id else None


def _as_recipient(item: RecipientLike) -> Recipient:
    if isinstance(item, Recipient):
        return item
    if isinstance(item, bool):
        raise RecipientError(f"not a recipient: {item!r}")
    if isinstance(item, int):
        return Recipient(user_id=item)
    if isinstance(item, str) and is_known_role(item):
        return Recipient(role=item)
    if isinstance(item, str):
        return Recipient(phone=item)
    raise RecipientError(f"not a recipient: {item!r}")


def _user_target(user: User, contact: UserContact | None) -> Target:
    return Target(ref=f"u{user.id}", language=normalise_language(user.locale), user_id=user.id,
                  phone=contact.phone_e164 if contact else None,
                  email=(contact.email if contact and contact.email else user.email))


def _users_with_role(role: str, project_id: int | None) -> list[User]:
    if project_id is None:
        raise RecipientError(f"role {role!r} needs a project to resolve")
    # HQ and super admins work in every project without a grant.
    granted = or_(
        User.id.in_(select(ProjectGrant.user_id).where(ProjectGrant.project_id == project_id)),
        User.id.in_(select(UserRole.user_id).where(
            UserRole.role.in_([r.value for r in ALL_PROJECT_ROLES]))),
    )
    stmt = (select(User).join(UserRole, UserRole.user_id == User.id)
            .where(UserRole.role == role, granted, User.active.is_(True))
            .order_by(User.id))
    return list(db.session.scalars(stmt).unique())


#: Users named as recipients, in one query: only their own columns (a message needs no roles
#: or grants, which a User otherwise loads with two more queries).
_USERS = (select(User).where(User.id.in_(bindparam("ids", expanding=True)))
          .options(lazyload(User.role_rows), lazyload(User.grants)))


def _users_by_id(ids: list[int]) -> dict[int, User]:
    if not ids:
        return {}
    return {user.id: user for user in db.session.scalars(_USERS, {"ids": sorted(set(ids))})}


def resolve(recipients: Iterable[RecipientLike], project_id: int | None) -> list[Target]:
    """Targets in the given order, each person or number once; inactive users are left out."""
    wanted = [_as_recipient(item) for item in recipients]
    by_id = _users_by_id([r.user_id for r in wanted if r.user_id is not None])
    users: list[User] = []
    phones: list[tuple[str, str | None]] = []
    for recipient in wanted:
        if recipient.user_id is not None:
            user = by_id.get(recipient.user_id)
            if user is None:
                raise RecipientError(f"no user with id {recipient.user_id}")
            if user.active:
                users.append(user)
        elif recipient.role is not None:
            if not is_known_role(recipient.role):
                raise RecipientError(f"unknown role {recipient.role!r}")
            users.extend(_users_with_role(recipient.role, project_id))
        elif recipient.phone is not None:
            if recipient.e164:
                phones.append((recipient.phone, recipient.language))
                continue
            try:
                phones.append((normalise_phone(recipient.phone), recipient.language))
            except FieldErrors as exc:
                raise RecipientError(exc.message) from exc
        else:
            raise RecipientError("a recipient needs a user id, a role or a phone")
    contacts = {c.user_id: c for c in db.session.scalars(
        select(UserContact).where(UserContact.user_id.in_({u.id for u in users})))} \
        if users else {}
    targets: dict[str, Target] = {}
    for user in users:
        targets.setdefault(f"u{user.id}", _user_target(user, contacts.get(user.id)))
    user_phones = {t.phone for t in targets.values() if t.phone}
    for phone, language in phones:
        if phone not in user_phones:
            targets.setdefault(phone, Target(ref=phone, language=normalise_language(language),
                                             phone=phone))
    return list(targets.values())
