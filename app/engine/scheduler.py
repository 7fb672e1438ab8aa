"""The scheduler: APScheduler jobs that fire due timers, start timer-start processes, deliver
the outbox and run the daily jobs.

Two ways to run it, safe side by side (every job claims its rows with ``SKIP LOCKED`` / Redis
locks): in the web process (``SCHEDULER_ENABLED``, default on; a BackgroundScheduler started
by the first request the process serves — never by CLI commands, the reloader's parent or
tests), or standalone with ``flask scheduler run`` (a BlockingScheduler; ``--once`` for one
pass). APScheduler's interval triggers run on real time; which timers are due is decided by
:mod:`app.clock`, so moving the adjustable clock is honoured by the next pass — and at once,
through :func:`fire_after_clock_advance`.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

import click
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Flask, current_app
from flask.cli import AppGroup

from app.audit.actor import acting_as
from app.clock import clock
from app.engine import timer_jobs, timer_starts
from app.engine.timer_jobs import SCHEDULER, job_context
from app.outbox.dispatcher import run_dispatcher_once
from app.timetravel.operations import on_clock_advanced
from app.uow import unit_of_work

log = logging.getLogger(__name__)

DEFAULTS: dict[str, Any] = {
    "SCHEDULER_TIMER_SECONDS": 2.0,  # fire_due and timer starts: due work fires within ~2 s
    "SCHEDULER_OUTBOX_SECONDS": 5.0,
    "SCHEDULER_DAILY_HOUR": 3,  # daily jobs at 03:00 in BABEL_DEFAULT_TIMEZONE
}

#: Daily jobs: name → job(now); each runs in its own unit of work as the scheduler.
DailyJob = Callable[[datetime], object]
_daily_jobs: dict[str, DailyJob] = {}

_started: dict[int, BaseScheduler] = {}
_start_lock = threading.Lock()


def setting(app: Flask, name: str) -> Any:
    return app.config.get(name, DEFAULTS[name])


def register_daily_job(name: str, job: DailyJob) -> None:
    """Run ``job(now)`` once a day (a domain's retention sweep, reminders...)."""
    _daily_jobs[name] = job


# --- the jobs -------------------------------------------------------------------------------


def run_timers(app: Flask) -> int:
    """Job: fire every due timer."""
    return timer_jobs.run_fire_due(app)


def run_timer_starts(app: Flask) -> int:
    """Job: start the processes whose timer start event is due."""
    with job_context(app):
        return timer_starts.start_due_timer_starts()


def run_outbox(app: Flask) -> int:
    """Job: deliver due outbox rows."""
    return run_dispatcher_once(app)


def run_daily_jobs(app: Flask) -> dict[str, str]:
    """Job: every registered daily job, each committed on its own; {name: "ok" | error}."""
    outcome: dict[str, str] = {}
    with job_context(app):
        for name, job in list(_daily_jobs.items()):
            try:
                with acting_as(SCHEDULER), unit_of_work():
                    job(clock.now())
                outcome[name] = "ok"
            except Exception as exc:
                log.exception("daily job %s failed", name)
                outcome[name] = repr(exc)
    return outcome


def run_once(app: Flask, *, daily: bool = False) -> dict[str, Any]:
    """One pass of every job (``flask scheduler run --once``)."""
    jobs: dict[str, Callable[[Flask], Any]] = {
        "timer_starts": run_timer_starts, "timers": run_timers, "outbox": run_outbox}
    if daily:
        jobs["daily"] = run_daily_jobs
    result: dict[str, Any] = {}
    for name, job in jobs.items():
        try:
            result[name] = job(app)
        except Exception as exc:  # one failing job does not stop the others
            log.exception("scheduler job %s failed", name)
            result[name] = f"error:{exc.__class__.__name__}"
    return result


def fire_after_clock_advance(_now: datetime) -> None:
    """Clock listener: after an admin or ``flask clock advance`` moved time, fire everything
    that became due at once (timer starts first, so that their instances' timers follow)."""
    timer_starts.start_due_timer_starts()
    timer_jobs.fire_all_due()


# --- APScheduler ----------------------------------------------------------------------------


def add_jobs(scheduler: BaseScheduler, app: Flask) -> None:
    common: dict[str, Any] = {"args": [app], "max_instances": 1, "coalesce": True,
                              "misfire_grace_time": None, "replace_existing": True}
    timer_seconds = float(setting(app, "SCHEDULER_TIMER_SECONDS"))
    scheduler.add_job(run_timers, "interval", seconds=timer_seconds, id="timers",
                      next_run_time=datetime.now().astimezone(), **common)
    scheduler.add_job(run_timer_starts, "interval", seconds=timer_seconds, id="timer_starts",
                      next_run_time=datetime.now().astimezone(), **common)
    scheduler.add_job(run_outbox, "interval",
                      seconds=float(setting(app, "SCHEDULER_OUTBOX_SECONDS")), id="outbox",
                      **common)
    scheduler.add_job(run_daily_jobs, "cron", hour=int(setting(app, "SCHEDULER_DAILY_HOUR")),
                      timezone=app.config.get("BABEL_DEFAULT_TIMEZONE", "Asia/Shanghai"),
                      id="daily", **common)


def create_scheduler(app: Flask, *, blocking: bool = False) -> BaseScheduler:
    scheduler: BaseScheduler = (
        BlockingScheduler(daemon=True) if blocking else BackgroundScheduler(daemon=True)
    )
    add_jobs(scheduler, app)
    return scheduler


def start_in_process(app: Flask) -> BaseScheduler | None:
    """Start the web process's BackgroundScheduler once (None when disabled or testing)."""
    if not app.config.get("SCHEDULER_ENABLED") or app.testing:
        return None
    with _start_lock:
        scheduler = _started.get(id(app))
        if scheduler is None:
            scheduler = create_scheduler(app)
            scheduler.start()
            _started[id(app)] = scheduler
            atexit.register(lambda: scheduler.shutdown(wait=False))
            log.info("in-process scheduler started")
        return scheduler


# --- CLI ------------------------------------------------------------------------------------

scheduler_cli = AppGroup("scheduler", help="Run the scheduler (timers, timer starts, outbox).")


@scheduler_cli.command("run")
@click.option("--once", is_flag=True, help="Run one pass of every job and exit.")
@click.option("--daily", is_flag=True, help="With --once: run the daily jobs too.")
def run_command(once: bool, daily: bool) -> None:
    """Run the scheduler in the foreground (several may run side by side)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if once:
        result = run_once(app, daily=daily)
        click.echo(" ".join(f"{name}={value}" for name, value in result.items()))
        return
    click.echo("scheduler running (Ctrl+C to stop)")
    with contextlib.suppress(KeyboardInterrupt, SystemExit):
        create_scheduler(app, blocking=True).start()


def init_app(app: Flask) -> None:
    """CLI, the clock listener, and the in-process scheduler at the first request served."""
    app.cli.add_command(scheduler_cli)
    on_clock_advanced(fire_after_clock_advance)

    @app.before_request
    def _start_scheduler() -> None:
        # At the first request rather than in create_app: CLI commands, the reloader's parent
        # and gunicorn's pre-fork master create the app too but never serve a request.
        if id(app) not in _started:
            start_in_process(app)
