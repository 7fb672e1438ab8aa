"""``flask records …``: key rotation, retention, rule tags, import from a file."""

from __future__ import annotations

import click
from flask import Blueprint
from sqlalchemy import select

from app.audit.actor import Actor, acting_as
from app.clock import clock
from app.extensions import db
from app.projects.models import Project
from app.records import importer, rotation, tags
from app.records.retention import anonymise_expired
from app.uow import unit_of_work

CLI_ACTOR = Actor(None, "cli")
#: Registered as a blueprint so its commands appear as ``flask records …``.
bp = Blueprint("records_cli", __name__, cli_group="records")


@bp.cli.command("rotate-key")
def rotate_key_command() -> None:
    """Re-encrypt protected values under RECORDS_ENCRYPTION_KEY (old keys in
    RECORDS_PREVIOUS_KEYS as "id:base64,…")."""
    with acting_as(CLI_ACTOR), unit_of_work():
        changed = rotation.rotate_keys()
    click.echo(f"Re-encrypted {changed} values")


@bp.cli.command("anonymise")
@click.option("--days", type=int, default=None, help="Override RECORDS_RETENTION_DAYS.")
def anonymise_command(days: int | None) -> None:
    """Anonymise customers whose retention after move-out ran out."""
    with acting_as(CLI_ACTOR), unit_of_work():
        ids = anonymise_expired(clock.now(), days)
    click.echo(f"Anonymised {len(ids)} customers")


@bp.cli.command("recompute-tags")
def recompute_tags_command() -> None:
    """Recompute every rule tag of every project."""
    with acting_as(CLI_ACTOR), unit_of_work():
        ids = list(db.session.scalars(select(Project.id)))
        result = tags.recompute_all(ids)
    for project_id, counts in result.items():
        click.echo(f"project {project_id}: {counts}")


@bp.cli.command("import")
@click.argument("project_id", type=int)
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--import-valid", is_flag=True, help="Import the valid rows even if some fail.")
def import_command(project_id: int, path: str, import_valid: bool) -> None:
    """Import units and customers from an Excel file (the template of the import page)."""
    with open(path, "rb") as handle:
        content = handle.read()
    with acting_as(CLI_ACTOR), unit_of_work():
        result = importer.import_workbook(project_id, content, import_valid)
    for error in result.errors[:50]:
        click.echo(f"row {error.row}, {error.column}: {error.reason}")
    click.echo(f"imported={result.imported} customers={result.customers_created} "
               f"links={result.links_created} units={result.units_created} "
               f"skipped_rows={len(result.skipped_rows)}")
