"""``flask visitors …``: the retention sweep."""

from __future__ import annotations

import click
from flask import Blueprint

from app.audit.actor import Actor, acting_as
from app.clock import clock
from app.uow import unit_of_work
from app.visitors.retention import purge_expired_visitors

CLI_ACTOR = Actor(None, "cli")
bp = Blueprint("visitors_cli", __name__, cli_group="visitors")


@bp.cli.command("purge")
@click.option("--days", type=int, default=None, help="Override VISITOR_RETENTION_DAYS.")
def purge_command(days: int | None) -> None:
    """Wipe visitor names, phones and plates whose retention ran out."""
    with acting_as(CLI_ACTOR), unit_of_work():
        wiped = purge_expired_visitors(clock.now(), days)
    click.echo(f"Wiped {wiped['passes']} passes and {wiped['requests']} requests")
