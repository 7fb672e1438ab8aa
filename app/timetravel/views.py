"""Admin page and CLI for the adjustable clock."""

from __future__ import annotations

import click
from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask.cli import AppGroup
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from app.accounts.permissions import require
from app.audit.actor import Actor, acting_as
from app.audit.recorder import record_audit
from app.clock import clock
from app.errors import DomainError
from app.timetravel import operations as ops
from app.uow import after_commit, unit_of_work

bp = Blueprint("timetravel", __name__, url_prefix="/admin/clock")

QUICK_STEPS = ["PT1H", "P1D", "P3D", "P7D", "P31D", "P91D"]


def _advance(text: str) -> None:
    delta = ops.parse_duration(text)
    new_now = ops.advance_clock(delta)
    record_audit("clock.advance", record_type="clock_offset",
                 after={"duration": text, "now": new_now.isoformat()})
    after_commit(lambda: ops.fire_advance_listeners(new_now))


@bp.get("/")
@require("processes.manage")
def index() -> ResponseReturnValue:
    adjustable = current_app.config["CLOCK_MODE"] == "adjustable"
    return render_template("timetravel/index.html", now=clock.now(), adjustable=adjustable,
                           offset=ops.current_offset(), steps=QUICK_STEPS)


@bp.post("/advance")
@require("processes.manage")
def advance() -> ResponseReturnValue:
    text = request.form.get("duration", "")
    _advance(text)
    flash(_("The clock moved forward by %(d)s. Timers that became due have fired.", d=text),
          "success")
    return redirect(url_for("timetravel.index"))


clock_cli = AppGroup("clock", help="Show or move the adjustable clock (never in production).")


@clock_cli.command("show")
def show_command() -> None:
    """Print the system's current time and offset."""
    click.echo(f"now: {clock.now().isoformat()}  mode: {current_app.config['CLOCK_MODE']}  "
               f"offset: {ops.current_offset()}")


@clock_cli.command("advance")
@click.argument("duration")
def advance_command(duration: str) -> None:
    """Move time forward by an ISO 8601 DURATION (e.g. P31D) and fire what became due."""
    try:
        with acting_as(Actor(None, "cli")), unit_of_work():
            _advance(duration)
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"now: {clock.now().isoformat()}")


@clock_cli.command("reset")
def reset_command() -> None:
    """Return to real time."""
    try:
        with acting_as(Actor(None, "cli")), unit_of_work():
            ops.reset_clock()
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"now: {clock.now().isoformat()}")
