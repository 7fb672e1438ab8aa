"""Projects (项目: one managed estate or park), their buildings and units."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.audit.recorder import Audited
from app.clock import utcnow
from app.extensions import db
from app.scoping import ProjectScoped, ScopeRoot
from app.sqltypes import UTCDateTime


class Project(ScopeRoot, Audited, db.Model):  # type: ignore[name-defined]
    __tablename__ = "project"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str | None] = mapped_column(String(300))
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    buildings: Mapped[list[Building]] = relationship(
        back_populates="project", order_by="Building.name"
    )

    def __repr__(self) -> str:
        return f"<Project {self.code}>"


class Building(ProjectScoped, Audited, db.Model):  # type: ignore[name-defined]
    __tablename__ = "building"
    __table_args__ = (UniqueConstraint("project_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    floors: Mapped[int | None]

    project: Mapped[Project] = relationship(back_populates="buildings")
    units: Mapped[list[Unit]] = relationship(back_populates="building", order_by="Unit.number")


class Unit(ProjectScoped, Audited, db.Model):  # type: ignore[name-defined]
    __tablename__ = "unit"
    __table_args__ = (UniqueConstraint("building_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    building_id: Mapped[int] = mapped_column(ForeignKey("building.id"), index=True)
    number: Mapped[str] = mapped_column(String(32))
    floor: Mapped[int | None]
    area_m2: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))
    use: Mapped[str] = mapped_column(String(32), default="residential")
    status: Mapped[str] = mapped_column(String(32), default="occupied")

    building: Mapped[Building] = relationship(back_populates="units")

    @property
    def label(self) -> str:
        return f"{self.building.name}-{self.number}"
