"""Project pages: the projects a user may see, and one project's buildings and units."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue
from sqlalchemy import func, select

from app.accounts.permissions import require
from app.extensions import db
from app.projects.models import Building, Project, Unit

bp = Blueprint("projects", __name__, url_prefix="/projects")


def get_project_or_404(project_id: int) -> Project:
    """The project if the current user may see it; 404 otherwise (existence does not leak)."""
    project = db.first_or_404(select(Project).where(Project.id == project_id))
    return project  # type: ignore[no-any-return]


@bp.get("/")
@require("projects.read")
def index() -> ResponseReturnValue:
    projects = db.session.scalars(select(Project).order_by(Project.name)).all()
    rows = db.session.execute(
        select(Unit.project_id, func.count(Unit.id)).group_by(Unit.project_id)).all()
    counts: dict[int, int] = {project_id: count for project_id, count in rows}
    return render_template("projects/index.html", projects=projects, unit_counts=counts)


@bp.get("/<int:project_id>")
@require("projects.read")
def show(project_id: int) -> ResponseReturnValue:
    project = get_project_or_404(project_id)
    buildings = db.session.scalars(
        select(Building).where(Building.project_id == project.id).order_by(Building.name)).all()
    return render_template("projects/show.html", project=project, buildings=buildings)
