"""Account operations. They change the session and flush; the caller's unit of work commits."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import joinedload

from app.accounts.models import ApiToken, ProjectGrant, User, UserRole
from app.accounts.roles import Role
from app.audit.recorder import record_audit
from app.clock import clock
from app.errors import Conflict, FieldErrors
from app.extensions import db
from app.projects.operations import existing_project_ids

#: How precisely an API token's last use is recorded.
TOKEN_USE_RESOLUTION = timedelta(minutes=1)

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password(user: User, password: str) -> bool:
    try:
        return _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def validate_new_password(password: str, field: str = "password") -> None:
    minimum = current_app.config["PASSWORD_MIN_LENGTH"]
    if len(password) < minimum:
        raise FieldErrors({field: f"at least {minimum} characters"})


def find_user(username: str) -> User | None:
    return db.session.scalar(
        select(User).where(func.lower(User.username) == username.strip().lower())
    )


def create_user(
    username: str,
    password: str,
    display_name: str,
    roles: Iterable[Role | str] = (),
    project_ids: Iterable[int] = (),
    email: str | None = None,
) -> User:
    """Create an active user with hashed password, roles and project grants."""
    username = username.strip()
    if not username:
        raise FieldErrors({"username": "required"})
    if find_user(username) is not None:
        raise Conflict(f"username {username!r} is taken", field="username")
    validate_new_password(password)
    user = User(
        username=username,
        display_name=display_name.strip() or username,
        email=email,
        password_hash=hash_password(password),
        password_changed_at=clock.now(),
    )
    db.session.add(user)
    set_roles(user, roles)
    set_grants(user, project_ids)
    db.session.flush()
    return user


def set_roles(user: User, roles: Iterable[Role | str]) -> None:
    """Replace the user's roles."""
    wanted = {Role(r).value for r in roles}
    for row in list(user.role_rows):
        if row.role not in wanted:
            user.role_rows.remove(row)
    have = {r.role for r in user.role_rows}
    for code in sorted(wanted - have):
        user.role_rows.append(UserRole(role=code))


def set_grants(user: User, project_ids: Iterable[int]) -> None:
    """Replace the projects granted to the user."""
    wanted = set(project_ids)
    unknown = wanted - existing_project_ids(wanted)
    if unknown:
        raise FieldErrors({"project_ids": f"unknown project ids: {sorted(unknown)}"})
    for grant in list(user.grants):
        if grant.project_id not in wanted:
            user.grants.remove(grant)
    have = {g.project_id for g in user.grants}
    for project_id in sorted(wanted - have):
        user.grants.append(ProjectGrant(project_id=project_id))


def set_active(user: User, active: bool) -> None:
    """Enable or disable a user; a disabled user can neither sign in nor use tokens."""
    user.active = active
    db.session.flush()


def change_password(user: User, current: str, new: str) -> None:
    """Change a password after checking the current one."""
    if not check_password(user, current):
        raise FieldErrors({"current_password": "wrong password"})
    validate_new_password(new, "new_password")
    user.password_hash = hash_password(new)
    user.password_changed_at = clock.now()
    db.session.flush()


def reset_password(user: User, new: str) -> None:
    """Set a new password (admins, CLI)."""
    validate_new_password(new)
    user.password_hash = hash_password(new)
    user.password_changed_at = clock.now()
    db.session.flush()


@dataclass(frozen=True)
class LoginResult:
    user: User | None
    locked: bool = False
    remaining: int | None = None


def authenticate(username: str, password: str) -> LoginResult:
    """Check a login attempt against the lockout, the password and the account state."""
    lockout = current_app.extensions["estateflow_lockout"]
    if lockout.is_locked(username):
        record_audit("login.locked", record_type="user_account", after={"username": username})
        return LoginResult(None, locked=True)
    user = find_user(username)
    if user is None or not check_password(user, password) or not user.active:
        remaining = lockout.failed(username)
        record_audit("login.failed", record_type="user_account", after={"username": username})
        return LoginResult(None, locked=remaining == 0, remaining=remaining)
    lockout.succeeded(username)
    user.last_login_at = clock.now()
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return LoginResult(user)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_api_token(user: User, name: str) -> tuple[ApiToken, str]:
    """Create a bearer token; the plain value is returned once and never stored."""
    if not name.strip():
        raise FieldErrors({"name": "required"})
    plain = "ef_" + secrets.token_urlsafe(32)
    token = ApiToken(
        user_id=user.id, name=name.strip(), token_hash=_token_hash(plain), prefix=plain[:10]
    )
    db.session.add(token)
    db.session.flush()
    return token, plain


def revoke_api_token(token: ApiToken) -> None:
    token.revoked_at = clock.now()
    db.session.flush()


_ACTIVE_USER = (select(User).where(User.id == bindparam("user_id"))
                .options(joinedload(User.role_rows), joinedload(User.grants)))


def active_user(user_id: int) -> User | None:
    """The active user with that id, roles and project grants loaded in one query (what every
    signed-in request needs), or None."""
    user = db.session.scalars(_ACTIVE_USER, {"user_id": user_id}).unique().first()
    return user if user is not None and user.active else None


#: One query for the token, its user, the user's roles and project grants.
_TOKEN_USER = joinedload(ApiToken.user)
_TOKEN = (select(ApiToken).where(ApiToken.token_hash == bindparam("token_hash"))
          .options(_TOKEN_USER.joinedload(User.role_rows), _TOKEN_USER.joinedload(User.grants)))


def user_for_token(plain: str) -> User | None:
    """The active user behind an active token, or None."""
    token = db.session.scalars(_TOKEN, {"token_hash": _token_hash(plain)}).unique().first()
    if token is None or not token.active or not token.user.active:
        return None
    now = clock.now()
    # Recorded to the minute: a busy API client does not write its token row on every call.
    if token.last_used_at is None or now - token.last_used_at >= TOKEN_USE_RESOLUTION:
        token.last_used_at = now
    return token.user
