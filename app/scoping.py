"""Project scoping, applied in one place.

Every model that belongs to a project inherits :class:`ProjectScoped`. While a request runs for a
user who is not granted every project, each ORM ``SELECT`` gets a criterion limiting such models
to the user's projects (relationship loads included), and a flush that would write a row into
another project is refused. Views therefore never filter by project by hand, and a record of
another project simply does not exist for them (404).

Outside a request (CLI, scheduler) there is no scope: those run as the system.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any
from weakref import WeakKeyDictionary

from flask import g, has_request_context
from sqlalchemy import ForeignKey, event
from sqlalchemy.orm import Mapped, ORMExecuteState, Session, mapped_column, with_loader_criteria


class ScopeViolation(Exception):
    """A write into a project the current user is not granted (answered as 404)."""


class ProjectScoped:
    """Mixin for rows that belong to one project."""

    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"), index=True)


class ScopeRoot:
    """Mixin for the project table itself: its ``id`` is the scope."""

    id: Mapped[int] = mapped_column(primary_key=True)


_UNRESTRICTED = "unrestricted"


def set_scope(project_ids: frozenset[int] | None) -> None:
    """Set the projects visible in this request; ``None`` means all (HQ, super admin)."""
    g._project_scope = _UNRESTRICTED if project_ids is None else frozenset(project_ids)


def current_scope() -> frozenset[int] | None:
    """The project ids visible now, or ``None`` when unrestricted."""
    if not has_request_context():
        return None
    scope = g.get("_project_scope", frozenset())
    if scope == _UNRESTRICTED or g.get("_scope_suspended", False):
        return None
    return scope  # type: ignore[no-any-return]


def in_scope(project_id: int | None) -> bool:
    scope = current_scope()
    return scope is None or project_id in scope


@contextmanager
def unscoped() -> Iterator[None]:
    """Run a block as the system (public pages that look up a unit by its code, for example)."""
    previous = g.get("_scope_suspended", False) if has_request_context() else False
    if has_request_context():
        g._scope_suspended = True
    try:
        yield
    finally:
        if has_request_context():
            g._scope_suspended = previous


@lru_cache(maxsize=512)
def _project_criteria(ids: tuple[int, ...]) -> tuple[Any, ...]:
    """The loader criteria for a scope (built once per scope: every SELECT carries them)."""
    return (
        with_loader_criteria(
            ProjectScoped, lambda cls: cls.project_id.in_(ids), include_aliases=True
        ),
        with_loader_criteria(ScopeRoot, lambda cls: cls.id.in_(ids), include_aliases=True),
    )


@event.listens_for(Session, "do_orm_execute")
def _apply_scope(state: ORMExecuteState) -> None:
    if not state.is_select or state.execution_options.get("all_projects", False):
        return
    scope = current_scope()
    if scope is None:
        return
    ids = tuple(sorted(scope)) or (-1,)
    state.statement = _scoped(state.statement, ids)


#: statement → {scope ids: the statement with the scope's criteria}. A statement built once
#: (the engine's hot queries) is then scoped once per scope, keeping its compiled-cache key
#: instead of being re-keyed on every execution; statements built per call just fall away.
_scoped_variants: WeakKeyDictionary[Any, dict[tuple[int, ...], Any]] = WeakKeyDictionary()
_scoped_lock = threading.Lock()
_VARIANTS_PER_STATEMENT = 64


def _scoped(statement: Any, ids: tuple[int, ...]) -> Any:
    with _scoped_lock:
        variants = _scoped_variants.get(statement)
        scoped = variants.get(ids) if variants is not None else None
    if scoped is not None:
        return scoped
    scoped = statement.options(*_project_criteria(ids))
    with _scoped_lock:
        variants = _scoped_variants.setdefault(statement, {})
        if len(variants) < _VARIANTS_PER_STATEMENT:
            variants[ids] = scoped
    return scoped


@event.listens_for(Session, "before_flush")
def _check_writes(session: Session, flush_context: Any, instances: Any) -> None:
    scope = current_scope()
    if scope is None:
        return
    for obj in list(session.new) + list(session.dirty) + list(session.deleted):
        if isinstance(obj, ProjectScoped) and obj.project_id not in scope:
            raise ScopeViolation(f"{type(obj).__name__} belongs to a project you cannot access")
