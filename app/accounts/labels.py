"""Display names of roles in the user's language."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from app.accounts.roles import Role

ROLE_LABELS = {
    Role.OWNER: _l("Owner"),
    Role.TENANT: _l("Tenant"),
    Role.TECHNICIAN: _l("Technician"),
    Role.CUSTOMER_SERVICE: _l("Customer service"),
    Role.SUPERVISOR: _l("Supervisor"),
    Role.PROJECT_MANAGER: _l("Project manager"),
    Role.FINANCE: _l("Finance"),
    Role.GUARD: _l("Guard"),
    Role.PROCESS_ADMIN: _l("Process admin"),
    Role.HQ: _l("Headquarters"),
    Role.SUPER_ADMIN: _l("Super admin"),
}


def role_label(role: Role | str) -> str:
    return str(ROLE_LABELS[Role(role)])
