"""Navigation and home-page cards per role.

Each domain adds its entries here; a user sees an entry when they hold its permission.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import url_for
from flask_babel import lazy_gettext as _l

from app.accounts.permissions import can
from app.accounts.roles import Role


@dataclass(frozen=True)
class NavItem:
    label: Any
    endpoint: str
    permission: str


NAV: list[NavItem] = [
    NavItem(_l("Inbox"), "inbox.index", "tasks.work"),
    NavItem(_l("Projects"), "projects.index", "projects.read"),
    NavItem(_l("Customers"), "records.index", "records.read"),
    NavItem(_l("My record"), "records_portal.index", "portal.use"),
    NavItem(_l("My repairs"), "repairs.mine", "repairs.submit"),
    NavItem(_l("My jobs"), "repairs.jobs", "repairs.work"),
    NavItem(_l("Repairs"), "repairs.tickets", "repairs.read"),
    NavItem(_l("Complaints"), "complaints.index", "complaints.read"),
    NavItem(_l("My complaints"), "complaints_portal.index", "portal.use"),
    NavItem(_l("Visitors"), "visitors.index", "portal.use"),
    NavItem(_l("Gate"), "visitors_staff.gate_page", "gate.check"),
    NavItem(_l("Visit log"), "visitors_staff.log", "visitors.read"),
    NavItem(_l("Lost & found"), "lostfound.index", "lostfound.view"),
    NavItem(_l("Finance"), "billing.index", "finance.read"),
    NavItem(_l("My bills"), "billing_portal.index", "portal.use"),
    NavItem(_l("Users"), "accounts.users", "users.manage"),
    NavItem(_l("Audit trail"), "audit.index", "audit.read"),
    NavItem(_l("Messages"), "notifications_admin.outbox", "notifications.admin"),
    NavItem(_l("Processes"), "processes.index", "processes.manage"),
    NavItem(_l("Incidents"), "processes.incident_list", "processes.manage"),
    NavItem(_l("Process instances"), "processes.instance_list", "instances.manage"),
]


def nav_items(user: Any) -> list[dict[str, str]]:
    return [{"label": str(item.label), "url": url_for(item.endpoint)}
            for item in NAV if can(item.permission, user)]


@dataclass(frozen=True)
class Card:
    title: Any
    text: Any


ROLE_CARDS: dict[Role, list[Card]] = {
    Role.OWNER: [Card(_l("Repairs"), _l("Report a repair and follow it until it is done.")),
                 Card(_l("Bills"), _l("See your property bills and payments.")),
                 Card(_l("Visitors"), _l("Invite a visitor and share a pass."))],
    Role.TENANT: [Card(_l("Repairs"), _l("Report a repair and follow it until it is done.")),
                  Card(_l("Visitors"), _l("Invite a visitor and share a pass."))],
    Role.TECHNICIAN: [Card(_l("My jobs"), _l("Jobs waiting for you, nearest deadline first."))],
    Role.CUSTOMER_SERVICE: [Card(_l("Inbox"), _l("Register requests by phone, triage and revisit."))],  # noqa: E501
    Role.SUPERVISOR: [Card(_l("Inbox"), _l("Dispatch jobs and handle escalations."))],
    Role.PROJECT_MANAGER: [Card(_l("Overview"), _l("Open work, escalations and service figures of your projects."))],  # noqa: E501
    Role.FINANCE: [Card(_l("Finance"), _l("Bills, payments and arrears."))],
    Role.GUARD: [Card(_l("Gate"), _l("Check visitor passes at the gate."))],
    Role.PROCESS_ADMIN: [Card(_l("Processes"), _l("Deploy diagrams, forms and templates; handle incidents."))],  # noqa: E501
    Role.HQ: [Card(_l("All projects"), _l("Figures across every project."))],
    Role.SUPER_ADMIN: [Card(_l("Administration"), _l("Users, roles, projects and the audit trail."))],  # noqa: E501
}


def home_cards(user: Any) -> list[Card]:
    cards: list[Card] = []
    for role in sorted(user.roles, key=list(Role).index):
        for card in ROLE_CARDS.get(role, []):
            if card not in cards:
                cards.append(card)
    return cards
