"""UI labels of the complaint domain (English, translated through Babel)."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l

STATUS_LABELS: dict[str, Any] = {
    "triage": _l("Being triaged"), "rejected": _l("Not ours: closed"),
    "handling": _l("In handling"), "waiting_complainant": _l("Waiting for the complainant"),
    "extension_requested": _l("Extension requested"), "feedback": _l("Waiting for feedback"),
    "reopened": _l("Reopened after a dispute"), "pm_review": _l("With the project manager"),
    "closed": _l("Closed"), "revisited": _l("Closed and revisited"),
    "cancelled": _l("Cancelled"),
}
SEVERITY_LABELS: dict[str, Any] = {"low": _l("Low"), "normal": _l("Normal"), "high": _l("High"),
                                   "urgent": _l("Urgent")}
CHANNEL_LABELS: dict[str, Any] = {"portal": _l("Portal"), "phone": _l("Phone call"),
                                  "front_desk": _l("Front desk")}
DEPARTMENT_LABELS: dict[str, Any] = {
    "customer_service": _l("Customer service centre"), "engineering": _l("Engineering"),
    "environment": _l("Environment"), "security": _l("Security"),
    "management": _l("Management office"),
}
LEVEL_LABELS: dict[int, Any] = {
    0: _l("Warning at %(p)s of the limit", p="80 %"), 1: _l("Escalated to the supervisor"),
    2: _l("Escalated to the project manager"), 3: _l("Escalated to HQ"),
}


def label(mapping: dict[Any, Any], key: Any) -> str:
    return str(mapping.get(key, key or "—"))
