"""The daily billing job: bill the current periods, then open dunning cases for bills that
became overdue. Registered with :func:`app.engine.scheduler.register_daily_job`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from . import dunning
from .money import local_today
from .run import run_all_projects


def daily_billing(now: datetime) -> dict[str, Any]:
    """Scheduler job (its own unit of work): billing run for every project, then arrears."""
    today = local_today(now)
    results = run_all_projects(today)
    opened = dunning.open_cases(today)
    return {"bills_created": sum(r.bills_created for r in results), "cases_opened": opened}
