"""Demo data for complaints: the demo project's calendar with China's 2026 holidays."""

from __future__ import annotations

from app.projects.models import Project

from .calendar import ensure_calendar, seed_china_2026


def seed_complaints_demo(project: Project) -> int:
    """Give ``project`` a Mon–Fri 09:00–18:00 calendar with China's 2026 public holidays and
    make-up working days; returns the number of dated days (idempotent). Flushes only."""
    ensure_calendar(project.id)
    return seed_china_2026(project.id)
