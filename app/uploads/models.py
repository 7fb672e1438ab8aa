"""The upload table: one row per stored file."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.audit.recorder import Audited
from app.clock import utcnow
from app.extensions import db
from app.scoping import ProjectScoped
from app.sqltypes import UTCDateTime


class Upload(ProjectScoped, Audited, db.Model):  # type: ignore[name-defined]
    """A stored file. ``stored_name`` is random; the user's file name is only shown."""

    __tablename__ = "upload"

    id: Mapped[int] = mapped_column(primary_key=True)
    stored_name: Mapped[str] = mapped_column(String(64), unique=True)
    original_name: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Which workflow step the file belongs to, once known. No foreign key: the engine's tables
    # are not ours to depend on.
    instance_id: Mapped[int | None] = mapped_column(Integer, index=True)
    task_id: Mapped[str | None] = mapped_column(String(64))

    def __repr__(self) -> str:
        return f"<Upload {self.id} {self.content_type} {self.size}B>"
