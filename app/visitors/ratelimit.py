"""A fixed-window rate limiter for the public request page (per IP, per phone).

With Redis (``app.extensions["estateflow_redis"]``) every web worker shares the counters;
otherwise they live in this process, which is enough for the embedded single-process setup.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

import redis
from flask import current_app

from app.clock import clock

EXTENSION = "estateflow_visitor_limiter"


class CounterStore(Protocol):
    def hit(self, key: str, window_seconds: int) -> int: ...
    def reset(self) -> None: ...


class MemoryCounterStore:
    def __init__(self) -> None:
        self._data: dict[str, tuple[int, float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str, window_seconds: int) -> int:
        now = clock.now().timestamp()
        with self._lock:
            count, expires = self._data.get(key, (0, 0.0))
            if expires <= now:
                count, expires = 0, (clock.now() + timedelta(seconds=window_seconds)).timestamp()
            self._data[key] = (count + 1, expires)
            return count + 1

    def reset(self) -> None:
        with self._lock:
            self._data.clear()


class RedisCounterStore:
    def __init__(self, client: redis.Redis) -> None:
        self._redis = client

    def hit(self, key: str, window_seconds: int) -> int:
        name = f"estateflow:ratelimit:{key}"
        pipe = self._redis.pipeline()
        pipe.incr(name)
        pipe.expire(name, window_seconds, nx=True)
        count, _ = pipe.execute()
        return int(count)

    def reset(self) -> None:  # tests only; Redis keys expire on their own
        for name in self._redis.scan_iter("estateflow:ratelimit:*"):
            self._redis.delete(name)


@dataclass(frozen=True)
class Limit:
    name: str
    count: int
    window_seconds: int


def limiter_store() -> CounterStore:
    """The app's counter store, created on first use."""
    store: CounterStore | None = current_app.extensions.get(EXTENSION)
    if store is None:
        client = current_app.extensions.get("estateflow_redis")
        store = RedisCounterStore(client) if client is not None else MemoryCounterStore()
        current_app.extensions[EXTENSION] = store
    return store


def allow(limit: Limit, subject: str) -> bool:
    """Count one attempt by ``subject``; False once it exceeds the limit in the window."""
    count = limiter_store().hit(f"{limit.name}:{subject}", limit.window_seconds)
    return count <= limit.count
