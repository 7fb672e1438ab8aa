"""The roles of EstateFlow. Lanes in BPMN diagrams name these codes."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    OWNER = "owner"
    TENANT = "tenant"
    TECHNICIAN = "technician"
    CUSTOMER_SERVICE = "customer_service"
    SUPERVISOR = "supervisor"
    PROJECT_MANAGER = "project_manager"
    FINANCE = "finance"
    GUARD = "guard"
    PROCESS_ADMIN = "process_admin"
    HQ = "hq"
    SUPER_ADMIN = "super_admin"


ROLE_CODES: frozenset[str] = frozenset(r.value for r in Role)

#: Roles that see every project without a grant.
ALL_PROJECT_ROLES: frozenset[Role] = frozenset({Role.HQ, Role.SUPER_ADMIN})

#: Roles of staff (everything but residents).
STAFF_ROLES: frozenset[Role] = frozenset(Role) - {Role.OWNER, Role.TENANT}


def is_known_role(code: str) -> bool:
    return code in ROLE_CODES
