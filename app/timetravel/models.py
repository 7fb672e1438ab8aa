"""The stored offset of the adjustable clock (one row)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger
from sqlalchemy.orm import Mapped, mapped_column

from app.audit.recorder import Audited
from app.extensions import db
from app.sqltypes import UTCDateTime


class ClockOffset(Audited, db.Model):  # type: ignore[name-defined]
    __tablename__ = "clock_offset"

    id: Mapped[int] = mapped_column(primary_key=True)
    offset_seconds: Mapped[int] = mapped_column(BigInteger, default=0)
    changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
