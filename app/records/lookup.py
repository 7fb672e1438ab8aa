"""Loading one row by id through a SELECT, so the project scope always applies.

``Session.get`` may answer from the identity map without a query, which would bypass the
scope criteria added in :mod:`app.scoping`.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import select

from app.extensions import db

M = TypeVar("M")


def scoped_get(model: type[M], row_id: Any) -> M | None:
    """The row with this id if the current user may see it."""
    return db.session.scalar(select(model).where(model.id == row_id))  # type: ignore[attr-defined]
