"""Process administration: the deployed versions page, uploads, and ``flask processes …``."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import Blueprint, current_app, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from app.accounts.permissions import require
from app.audit.actor import Actor, acting_as
from app.engine.api import uploaded_bundle
from app.engine.bundle import BundleInvalid
from app.engine.deployments import deploy, deploy_from_directory, list_deployments
from app.errors import FieldErrors
from app.uow import unit_of_work

bp = Blueprint("processes", __name__, url_prefix="/admin/processes", cli_group="processes")

CLI_ACTOR = Actor(None, "cli")


@bp.get("/")
@require("processes.manage")
def index() -> ResponseReturnValue:
    return render_template("processes/index.html", deployments=list_deployments(),
                           problems=[])


@bp.post("/")
@require("processes.manage")
def upload() -> ResponseReturnValue:
    try:
        deployment, created = deploy(uploaded_bundle())
    except BundleInvalid as exc:
        return render_template("processes/index.html", deployments=list_deployments(),
                               problems=exc.problems), 422
    except FieldErrors as exc:
        flash(exc.message, "error")
        return render_template("processes/index.html", deployments=list_deployments(),
                               problems=[]), 422
    if created:
        flash(_("Deployed version %(n)s.", n=deployment.version), "success")
    else:
        flash(_("Nothing changed: version %(n)s is current.", n=deployment.version), "info")
    return redirect(url_for("processes.index"))


@bp.cli.command("deploy")
@click.option("--dir", "root", type=click.Path(file_okay=False, exists=True), default=None,
              help="Bundle root holding processes/ and forms/ (default: the project root).")
def deploy_command(root: str | None) -> None:
    """Validate and deploy processes/ and forms/ as a new version."""
    base = Path(root) if root else Path(current_app.root_path).parent
    try:
        with acting_as(CLI_ACTOR), unit_of_work():
            deployment, created = deploy_from_directory(base)
    except BundleInvalid as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        click.echo(f"Nothing deployed: {len(exc.problems)} problem(s).", err=True)
        sys.exit(1)
    names = ", ".join(p.process_id for p in deployment.processes) or "no processes"
    if created:
        click.echo(f"Deployed version {deployment.version}: {names}")
    else:
        click.echo(f"version {deployment.version} (unchanged)")


@bp.cli.command("list")
def list_command() -> None:
    """Deployed versions with their processes and instance counts."""
    rows = list_deployments()
    if not rows:
        click.echo("No deployments yet.")
    for deployment, count in rows:
        names = ", ".join(p.process_id for p in deployment.processes)
        click.echo(f"version {deployment.version}  {deployment.created_at:%Y-%m-%d %H:%M}  "
                   f"{deployment.created_by_label}  {count} instance(s)  {names}")
