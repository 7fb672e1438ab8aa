"""Who may do what: one table of permissions, one decorator, one helper.

Views say ``@require("users.manage")``; templates say ``can("users.manage")``. Adding a role to
a permission is a change to :data:`PERMISSIONS`, nowhere else.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import abort
from flask_login import current_user

from app.accounts.roles import STAFF_ROLES, Role

F = TypeVar("F", bound=Callable[..., Any])

ADMINS = frozenset({Role.SUPER_ADMIN})

PERMISSIONS: dict[str, frozenset[Role]] = {
    "users.manage": ADMINS,
    "audit.read": ADMINS | {Role.HQ},
    "projects.manage": ADMINS,
    "projects.read": STAFF_ROLES,
    "processes.manage": ADMINS | {Role.PROCESS_ADMIN},
    "tasks.work": STAFF_ROLES,
    "tasks.reassign": ADMINS | {Role.SUPERVISOR, Role.PROJECT_MANAGER},
    "instances.manage": ADMINS | {Role.PROCESS_ADMIN, Role.SUPERVISOR, Role.PROJECT_MANAGER},
    "portal.use": frozenset({Role.OWNER, Role.TENANT}),
    "finance.read": ADMINS | {Role.FINANCE, Role.HQ, Role.PROJECT_MANAGER},
    "finance.manage": ADMINS | {Role.FINANCE},
    "finance.approve_refund": ADMINS | {Role.FINANCE, Role.PROJECT_MANAGER},
    "gate.check": frozenset({Role.GUARD}) | ADMINS,
    "tokens.own": frozenset(Role),
    "notifications.own": frozenset(Role),
    "notifications.admin": ADMINS | {Role.PROCESS_ADMIN},
    "records.read": STAFF_ROLES,
    "records.manage": ADMINS | {Role.CUSTOMER_SERVICE, Role.SUPERVISOR, Role.PROJECT_MANAGER},
    "records.reveal": ADMINS | {Role.SUPERVISOR, Role.PROJECT_MANAGER},
    "records.admin": ADMINS | {Role.PROJECT_MANAGER},
    "repairs.submit": frozenset({Role.OWNER, Role.TENANT}),
    "repairs.work": frozenset({Role.TECHNICIAN}),
    "repairs.read": STAFF_ROLES,
    "repairs.register": ADMINS | {Role.CUSTOMER_SERVICE, Role.SUPERVISOR, Role.PROJECT_MANAGER},
    "repairs.dispatch": ADMINS | {Role.SUPERVISOR, Role.PROJECT_MANAGER},
    "complaints.read": STAFF_ROLES,
    "complaints.register": ADMINS | {Role.CUSTOMER_SERVICE, Role.SUPERVISOR, Role.PROJECT_MANAGER},
    "complaints.stats": ADMINS | {Role.CUSTOMER_SERVICE, Role.SUPERVISOR, Role.PROJECT_MANAGER,
                                  Role.HQ},
    "calendars.manage": ADMINS | {Role.PROJECT_MANAGER},
    "lostfound.view": frozenset(Role),
    "lostfound.report": frozenset({Role.OWNER, Role.TENANT, Role.TECHNICIAN}),
    "lostfound.claim": frozenset({Role.OWNER, Role.TENANT, Role.TECHNICIAN}),
    "lostfound.log": ADMINS | {Role.CUSTOMER_SERVICE, Role.SUPERVISOR, Role.PROJECT_MANAGER,
                              Role.GUARD},
    "lostfound.manage": ADMINS | {Role.CUSTOMER_SERVICE, Role.SUPERVISOR, Role.PROJECT_MANAGER},
    "visitors.read": ADMINS | {Role.SUPERVISOR, Role.PROJECT_MANAGER, Role.CUSTOMER_SERVICE,
                               Role.HQ},
    "visitors.manage": ADMINS | {Role.SUPERVISOR, Role.PROJECT_MANAGER},
}


def can(permission: str, user: Any = None) -> bool:
    """True when ``user`` (default: the signed-in user) holds a role granting ``permission``."""
    user = current_user if user is None else user
    if not user or not user.is_authenticated:
        return False
    allowed = PERMISSIONS[permission]
    return bool(user.roles & allowed)


def require(permission: str) -> Callable[[F], F]:
    """View decorator: 401 (login page) when signed out, 403 without the permission."""
    if permission not in PERMISSIONS:
        raise KeyError(f"unknown permission {permission!r}")

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                abort(401)
            if not can(permission):
                abort(403)
            return view(*args, **kwargs)

        wrapped.required_permission = permission  # type: ignore[attr-defined]
        return wrapped  # type: ignore[return-value]

    return decorator
