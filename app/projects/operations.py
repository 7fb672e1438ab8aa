"""Project, building and unit operations."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import bindparam, select

from app.errors import Conflict, FieldErrors
from app.extensions import db
from app.projects.models import Building, Project, Unit


def create_project(code: str, name: str, address: str | None = None) -> Project:
    """Create a project (estate or park) with a unique code."""
    code = code.strip().upper()
    if not code or not name.strip():
        raise FieldErrors({k: "required" for k, v in {"code": code, "name": name.strip()}.items()
                           if not v})
    if db.session.scalar(select(Project.id).where(Project.code == code).execution_options(
            all_projects=True)) is not None:
        raise Conflict(f"project code {code} is taken", field="code")
    project = Project(code=code, name=name.strip(), address=address)
    db.session.add(project)
    db.session.flush()
    return project


def add_building(project: Project, name: str, floors: int | None = None) -> Building:
    building = Building(project_id=project.id, name=name, floors=floors)
    db.session.add(building)
    db.session.flush()
    return building


def add_unit(building: Building, number: str, floor: int | None = None,
             area_m2: Decimal | None = None, use: str = "residential",
             status: str = "occupied") -> Unit:
    unit = Unit(project_id=building.project_id, building_id=building.id, number=number,
                floor=floor, area_m2=area_m2, use=use, status=status)
    db.session.add(unit)
    db.session.flush()
    return unit


_EXISTING = (select(Project.id).where(Project.id.in_(bindparam("ids", expanding=True)))
             .execution_options(all_projects=True))


def existing_project_ids(ids: set[int]) -> set[int]:
    """Which of ``ids`` are projects (regardless of the caller's scope)."""
    if not ids:
        return set()
    return set(db.session.scalars(_EXISTING, {"ids": list(ids)}))
