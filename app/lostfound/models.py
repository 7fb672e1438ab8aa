"""Lost-and-found items and claims.

The workflow (``processes/lost_found.bpmn``) decides what happens next; these rows mirror what
lists, search and matching need (status, dates, words), kept in step by :mod:`app.lostfound.sync`,
so no list page deserializes a workflow.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.audit.recorder import Audited
from app.clock import utcnow
from app.extensions import db
from app.scoping import ProjectScoped
from app.sqltypes import UTCDateTime

KINDS = ("lost", "found")
CATEGORIES = ("keys", "wallet", "phone", "documents", "bag", "clothing", "jewellery", "child",
              "pet", "other")


class ItemStatus:
    PENDING_REVIEW = "pending_review"
    PUBLISHED = "published"
    REJECTED = "rejected"
    RETURNED = "returned"  # found item handed over to its owner
    CLOSED = "closed"  # lost report: the reporter has the item back
    EXPIRED = "expired"  # lost report not renewed in time
    AWAITING_DISPOSAL = "awaiting_disposal"  # found item unclaimed past the retention period
    DISPOSED = "disposed"  # disposed of, donated or handed to the police
    WITHDRAWN = "withdrawn"  # the process was cancelled

    #: Statuses in which an item changes no more.
    FINAL = frozenset({REJECTED, RETURNED, CLOSED, EXPIRED, DISPOSED, WITHDRAWN})


class ClaimStatus:
    VERIFYING = "verifying"  # a staff task checks the details
    VERIFIED = "verified"  # waiting for the hand-over
    DECLINED = "declined"
    HANDED_OVER = "handed_over"
    CLOSED = "closed"  # another claim won, or the item left the process


class Item(ProjectScoped, Audited, db.Model):  # type: ignore[name-defined]
    """A lost report or a found item (失物/招领)."""

    __tablename__ = "lost_found_item"
    __table_args__ = (
        Index("ix_lost_found_item_list", "project_id", "status", "kind", "occurred_at"),
        Index("ix_lost_found_item_reporter", "reporter_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)  # SW-20261122-0001
    kind: Mapped[str] = mapped_column(String(8))  # lost | found
    category: Mapped[str] = mapped_column(String(16))
    description: Mapped[str] = mapped_column(Text)
    place: Mapped[str] = mapped_column(String(200))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)  # when lost / found
    photos: Mapped[list[str]] = mapped_column(JSON, default=list)  # "upload:<id>" refs
    contact: Mapped[str | None] = mapped_column(String(100))  # seen by staff only
    status: Mapped[str] = mapped_column(String(20), default=ItemStatus.PENDING_REVIEW)
    reporter_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    logged_by_staff: Mapped[bool] = mapped_column(default=False)
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"),
                                                    index=True)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # lost reports
    reject_reason: Mapped[str | None] = mapped_column(String(500))
    disposal_action: Mapped[str | None] = mapped_column(String(16))  # police | donate | dispose
    disposal_to: Mapped[str | None] = mapped_column(String(200))
    disposal_note: Mapped[str | None] = mapped_column(String(500))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    claims: Mapped[list[Claim]] = relationship(back_populates="item", order_by="Claim.id")

    @property
    def photo_ids(self) -> list[int]:
        return [int(ref.split(":", 1)[1]) for ref in self.photos or [] if ":" in ref]

    def __repr__(self) -> str:
        return f"<Item {self.number} {self.kind} {self.status}>"


class Claim(ProjectScoped, Audited, db.Model):  # type: ignore[name-defined]
    """Someone says a found item is theirs; staff verify it and record the hand-over.

    The receiver's ID number is kept masked only (310***********1234).
    """

    __tablename__ = "lost_found_claim"

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("lost_found_item.id"), index=True)
    claimant_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), index=True)
    claimant_name: Mapped[str] = mapped_column(String(100))
    claimant_phone: Mapped[str | None] = mapped_column(String(40))
    details: Mapped[str] = mapped_column(Text)  # identifying details only the owner knows
    status: Mapped[str] = mapped_column(String(16), default=ClaimStatus.VERIFYING)
    verify_task_id: Mapped[int | None] = mapped_column(ForeignKey("human_task.id"), index=True)
    decision_note: Mapped[str | None] = mapped_column(String(500))
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    received_by_name: Mapped[str | None] = mapped_column(String(100))
    receiver_id_masked: Mapped[str | None] = mapped_column(String(32))
    handed_over_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    handed_over_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    handover_note: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    item: Mapped[Item] = relationship(back_populates="claims")

    def __repr__(self) -> str:
        return f"<Claim {self.id} item={self.item_id} {self.status}>"
