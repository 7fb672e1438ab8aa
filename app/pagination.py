"""Paging for list pages and API listings: one page of rows plus the total."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func

from app.extensions import db


@dataclass(frozen=True)
class Page:
    """One page of rows (tuples), shaped like Flask-SQLAlchemy's Pagination for _pager.html."""

    items: list[Any]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max((self.total + self.per_page - 1) // self.per_page, 1)

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def prev_num(self) -> int:
        return self.page - 1

    @property
    def next_num(self) -> int:
        return self.page + 1


def paginate_rows(stmt: Select[Any], page: int, per_page: int) -> Page:
    """A page of ``stmt``'s rows plus the total (two queries; the count keeps the entities
    at the top level so project scoping applies to it as well)."""
    total = db.session.scalar(
        stmt.with_only_columns(func.count(), maintain_column_froms=True).order_by(None)
    )
    rows = db.session.execute(stmt.limit(per_page).offset((page - 1) * per_page)).all()
    return Page([tuple(r) for r in rows], int(total or 0), page, per_page)
