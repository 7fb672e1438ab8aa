"""Process administration: the deployed versions page, uploads, and ``flask processes …``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from app.accounts.permissions import require
from app.audit.actor import Actor, acting_as
from app.engine import incidents, runtime
from app.engine.api import uploaded_bundle
from app.engine.bundle import BundleInvalid
from app.engine.deployments import deploy, deploy_from_directory, list_deployments
from app.engine.inbox import InstanceFilter, instance_query
from app.engine.models import IncidentStatus, InstanceStatus
from app.errors import Conflict, FieldErrors
from app.extensions import db
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


# --- incidents ----------------------------------------------------------------------------------


@bp.get("/incidents")
@require("processes.manage")
def incident_list() -> ResponseReturnValue:
    status = request.args.get("status", IncidentStatus.OPEN.value)
    if status not in (IncidentStatus.OPEN.value, IncidentStatus.RESOLVED.value):
        status = IncidentStatus.OPEN.value
    found = db.session.scalars(incidents.incident_query(status).limit(200))
    return render_template("processes/incidents.html", incidents=list(found), status=status)


def _incident_page(incident_id: int, error: str | None = None, data_text: str | None = None,
                   status: int = 200) -> ResponseReturnValue:
    incident = incidents.get_incident(incident_id)
    if data_text is None:
        data_text = json.dumps(incident.data or {}, ensure_ascii=False, indent=2, sort_keys=True)
    return render_template("processes/incident.html", incident=incident, error=error,
                           data_text=data_text), status


@bp.get("/incidents/<int:incident_id>")
@require("processes.manage")
def incident_detail(incident_id: int) -> ResponseReturnValue:
    return _incident_page(incident_id)


@bp.post("/incidents/<int:incident_id>/retry")
@require("processes.manage")
def incident_retry(incident_id: int) -> ResponseReturnValue:
    text = request.form.get("data", "").strip()
    try:
        data = json.loads(text) if text else None
    except ValueError as exc:
        return _incident_page(incident_id, _("Not valid JSON: %(e)s", e=str(exc)), text, 422)
    if data is not None and not isinstance(data, dict):
        return _incident_page(incident_id, _("The task data must be a JSON object."), text, 422)
    try:
        incident = incidents.retry_incident(incident_id, data)
    except Conflict as exc:
        return _incident_page(incident_id, exc.message, text, 409)
    if incident.is_open:
        flash(_("The step failed again: %(e)s", e=incident.message), "error")
    else:
        flash(_("The step ran; the process goes on."), "success")
    return redirect(url_for("processes.incident_detail", incident_id=incident_id))


@bp.post("/incidents/<int:incident_id>/skip")
@require("processes.manage")
def incident_skip(incident_id: int) -> ResponseReturnValue:
    try:
        incidents.skip_incident(incident_id)
    except Conflict as exc:
        return _incident_page(incident_id, exc.message, None, 409)
    flash(_("The step was skipped; the process goes on."), "success")
    return redirect(url_for("processes.incident_detail", incident_id=incident_id))


# --- instances ----------------------------------------------------------------------------------

@bp.get("/instances")
@require("instances.manage")
def instance_list() -> ResponseReturnValue:
    flt = InstanceFilter(flow=request.args.get("flow", "").strip(),
                         status=request.args.get("status", "").strip(),
                         q=request.args.get("q", "").strip())
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    pagination = db.paginate(instance_query(flt), page=page, per_page=30, error_out=False)
    return render_template("processes/instances.html", pagination=pagination, flt=flt,
                           statuses=[s.value for s in InstanceStatus])


def _instance_action(instance_id: int, action: str) -> ResponseReturnValue:
    if action == "suspend":
        runtime.suspend_instance(instance_id)
        flash(_("Process %(id)s is suspended: no step or timer runs until it is resumed.",
                id=instance_id), "success")
    elif action == "resume":
        runtime.resume_instance(instance_id)
        flash(_("Process %(id)s resumed.", id=instance_id), "success")
    else:
        reason = request.form.get("reason", "").strip()
        if not reason:
            raise FieldErrors({"reason": _("Say why the process is cancelled.")})
        runtime.cancel_instance(instance_id, reason)
        flash(_("Process %(id)s cancelled.", id=instance_id), "success")
    return redirect(request.referrer or url_for("processes.instance_list"))


@bp.post("/instances/<int:instance_id>/<any(suspend, resume, cancel):action>")
@require("instances.manage")
def instance_action(instance_id: int, action: str) -> ResponseReturnValue:
    return _instance_action(instance_id, action)
