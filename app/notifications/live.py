"""Live push of in-app notifications to open pages: Redis pub/sub feeding server-sent events.

Without Redis (the embedded default) pages poll the unread count instead. Publishing happens
after the commit and is best effort: a page that misses a push still sees the bell on its next
poll or reload.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import redis
from flask import current_app

log = logging.getLogger(__name__)


def channel_name(user_id: int) -> str:
    return f"estateflow:notifications:user:{user_id}"


def redis_client() -> redis.Redis | None:
    return current_app.extensions.get("estateflow_redis")


def publish(client: redis.Redis | None, user_id: int, message: dict[str, Any]) -> None:
    """Tell the user's open pages about a new notification (ignored without Redis)."""
    if client is None:
        return
    try:
        client.publish(channel_name(user_id), json.dumps(message, ensure_ascii=False))
    except redis.RedisError:
        log.warning("live push to user %s failed", user_id, exc_info=True)


def publisher(user_id: int, message: dict[str, Any]) -> Callable[[], None]:
    """An ``after_commit`` callback publishing ``message``."""
    client = redis_client()
    return lambda: publish(client, user_id, message)


def sse(event: str, data: dict[str, Any]) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"
