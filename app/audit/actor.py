"""Who is acting: the signed-in user in a request, or a named system actor elsewhere."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from flask import has_request_context, request
from flask_login import current_user


@dataclass(frozen=True)
class Actor:
    user_id: int | None
    label: str
    ip: str | None = None


SYSTEM = Actor(None, "system")
_override: ContextVar[Actor | None] = ContextVar("estateflow_actor", default=None)


def current_actor() -> Actor:
    override = _override.get()
    if override is not None:
        return override
    if has_request_context():
        ip = request.remote_addr
        if current_user and current_user.is_authenticated:
            return Actor(current_user.id, current_user.username, ip)
        return Actor(None, "anonymous", ip)
    return SYSTEM


@contextmanager
def acting_as(actor: Actor) -> Iterator[Actor]:
    """Attribute everything inside the block to ``actor`` (CLI commands, scheduler jobs)."""
    token = _override.set(actor)
    try:
        yield actor
    finally:
        _override.reset(token)
