"""Customer records: customers, unit occupancy, family, vehicles, custom fields, tags, merges."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.audit.recorder import Audited
from app.clock import utcnow
from app.extensions import db
from app.projects.models import Unit
from app.scoping import ProjectScoped
from app.sqltypes import UTCDateTime

CUSTOMER_KINDS = ("person", "company")
RELATIONS = ("owner", "tenant", "family")
CHANNELS = ("phone", "sms", "wechat", "email", "app")
FIELD_KINDS = ("text", "number", "date", "choice")
STATUSES = ("active", "merged", "anonymised")

#: Encrypted columns and their blind indexes never enter the audit trail.
PROTECTED_COLUMNS = frozenset({
    "id_number_enc", "id_number_bidx", "phone_enc", "phone_bidx", "bank_account_enc",
    "bank_account_bidx", "emergency_phone_enc", "birth_date",
})


class Customer(ProjectScoped, Audited, db.Model):  # type: ignore[name-defined]
    """A person or company served in a project (业主, 租户, 住户, 企业客户)."""

    __tablename__ = "customer"
    __audit_redact__ = PROTECTED_COLUMNS
    __table_args__ = (
        UniqueConstraint("project_id", "number"),
        Index("ix_customer_project_status_name", "project_id", "status", "name"),
        Index("ix_customer_merged_into_id", "merged_into_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16), default="person")
    name: Mapped[str] = mapped_column(String(200))
    name_key: Mapped[str] = mapped_column(String(200))  # normalised, for duplicate checks
    id_type: Mapped[str | None] = mapped_column(String(16))
    id_number_enc: Mapped[str | None] = mapped_column(String(200))
    id_number_bidx: Mapped[str | None] = mapped_column(String(64), index=True)
    birth_date: Mapped[date | None] = mapped_column(Date, index=True)
    phone_enc: Mapped[str | None] = mapped_column(String(200))
    phone_bidx: Mapped[str | None] = mapped_column(String(64), index=True)
    bank_account_enc: Mapped[str | None] = mapped_column(String(200))
    bank_account_bidx: Mapped[str | None] = mapped_column(String(64), index=True)
    email: Mapped[str | None] = mapped_column(String(200))
    preferred_channel: Mapped[str] = mapped_column(String(16), default="phone")
    emergency_name: Mapped[str | None] = mapped_column(String(100))
    emergency_relation: Mapped[str | None] = mapped_column(String(50))
    emergency_phone_enc: Mapped[str | None] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="active")
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id"))
    anonymised_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    occupancies: Mapped[list[Occupancy]] = relationship(
        back_populates="customer", order_by="Occupancy.move_in")
    family: Mapped[list[FamilyMember]] = relationship(
        back_populates="customer", order_by="FamilyMember.id")
    vehicles: Mapped[list[Vehicle]] = relationship(
        back_populates="customer", order_by="Vehicle.id")
    tag_links: Mapped[list[CustomerTag]] = relationship(back_populates="customer")
    field_values: Mapped[list[CustomFieldValue]] = relationship(back_populates="customer")

    def __repr__(self) -> str:
        return f"<Customer {self.number}>"


class Occupancy(ProjectScoped, Audited, db.Model):  # type: ignore[name-defined]
    """A customer's link to a unit as owner, tenant or family member, with its dates."""

    __tablename__ = "customer_unit"
    __table_args__ = (
        Index("ix_customer_unit_unit_customer", "unit_id", "customer_id"),
        Index("ix_customer_unit_customer_id", "customer_id"),
        Index("ix_customer_unit_project_move_in", "project_id", "move_in"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"))
    relation: Mapped[str] = mapped_column(String(16), default="owner")
    move_in: Mapped[date | None] = mapped_column(Date)
    move_out: Mapped[date | None] = mapped_column(Date)

    customer: Mapped[Customer] = relationship(back_populates="occupancies")
    unit: Mapped[Unit] = relationship()

    @property
    def current(self) -> bool:
        return self.move_out is None


class FamilyMember(ProjectScoped, Audited, db.Model):  # type: ignore[name-defined]
    """A household member without a customer record of their own."""

    __tablename__ = "customer_family_member"
    __audit_redact__ = frozenset({"phone_enc"})

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    relation: Mapped[str] = mapped_column(String(50))
    phone_enc: Mapped[str | None] = mapped_column(String(200))

    customer: Mapped[Customer] = relationship(back_populates="family")


class Vehicle(ProjectScoped, Audited, db.Model):  # type: ignore[name-defined]
    __tablename__ = "customer_vehicle"
    __table_args__ = (Index("ix_customer_vehicle_project_plate", "project_id", "plate"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    plate: Mapped[str] = mapped_column(String(16))
    parking_space: Mapped[str | None] = mapped_column(String(32))

    customer: Mapped[Customer] = relationship(back_populates="vehicles")


class CustomFieldDef(ProjectScoped, Audited, db.Model):  # type: ignore[name-defined]
    """A field an admin added to the customers of one project (no code change needed)."""

    __tablename__ = "customer_field_def"
    __table_args__ = (UniqueConstraint("project_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40))
    label: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16))
    choices: Mapped[list[str] | None] = mapped_column(JSON)
    required: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)
    position: Mapped[int] = mapped_column(default=0)


class CustomFieldValue(ProjectScoped, Audited, db.Model):  # type: ignore[name-defined]
    """One custom-field value, stored canonically (numbers as decimals, dates ISO)."""

    __tablename__ = "customer_field_value"
    __table_args__ = (
        UniqueConstraint("customer_id", "field_id"),
        Index("ix_customer_field_value_field_value", "field_id", "value"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"))
    field_id: Mapped[int] = mapped_column(ForeignKey("customer_field_def.id"))
    value: Mapped[str] = mapped_column(String(500))

    customer: Mapped[Customer] = relationship(back_populates="field_values")
    field: Mapped[CustomFieldDef] = relationship()


class Tag(ProjectScoped, Audited, db.Model):  # type: ignore[name-defined]
    """A label on customers: ``manual`` ones staff set, ``rule`` ones computed from data."""

    __tablename__ = "customer_tag_def"
    __table_args__ = (UniqueConstraint("project_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16), default="manual")
    rule_text: Mapped[str | None] = mapped_column(String(300))
    computed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class CustomerTag(ProjectScoped, db.Model):  # type: ignore[name-defined]
    """A tag on a customer. Not row-audited: rule tags churn; manual changes call record_audit."""

    __tablename__ = "customer_tag"
    __table_args__ = (
        UniqueConstraint("customer_id", "tag_id"),
        Index("ix_customer_tag_tag_customer", "tag_id", "customer_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"))
    tag_id: Mapped[int] = mapped_column(ForeignKey("customer_tag_def.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    customer: Mapped[Customer] = relationship(back_populates="tag_links")
    tag: Mapped[Tag] = relationship()


class MergeRecord(ProjectScoped, Audited, db.Model):  # type: ignore[name-defined]
    """History of a merge: ``source`` was merged into ``target`` (kept)."""

    __tablename__ = "customer_merge"

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    target_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    merged_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
