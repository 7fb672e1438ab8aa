"""Counts failed logins per username and locks the account name for a while.

With ``REDIS_URL`` the counters live in Redis so that every web worker shares them; otherwise
they live in this process.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

import redis

from app.clock import clock


class LockoutStore(Protocol):
    def failures(self, key: str) -> int: ...
    def add_failure(self, key: str, window_seconds: int) -> int: ...
    def clear(self, key: str) -> None: ...


class MemoryLockoutStore:
    def __init__(self) -> None:
        self._data: dict[str, tuple[int, float]] = {}
        self._lock = threading.Lock()

    def _alive(self, key: str) -> tuple[int, float] | None:
        entry = self._data.get(key)
        if entry and entry[1] <= clock.now().timestamp():
            del self._data[key]
            return None
        return entry

    def failures(self, key: str) -> int:
        with self._lock:
            entry = self._alive(key)
            return entry[0] if entry else 0

    def add_failure(self, key: str, window_seconds: int) -> int:
        with self._lock:
            entry = self._alive(key)
            count = (entry[0] if entry else 0) + 1
            expires = (clock.now() + timedelta(seconds=window_seconds)).timestamp()
            self._data[key] = (count, expires)
            return count

    def clear(self, key: str) -> None:
        with self._lock:
            self._data.pop(key, None)


class RedisLockoutStore:
    def __init__(self, client: redis.Redis) -> None:
        self._redis = client

    def failures(self, key: str) -> int:
        value = self._redis.get(f"estateflow:lockout:{key}")
        return int(value) if value else 0

    def add_failure(self, key: str, window_seconds: int) -> int:
        name = f"estateflow:lockout:{key}"
        pipe = self._redis.pipeline()
        pipe.incr(name)
        pipe.expire(name, window_seconds)
        count, _ = pipe.execute()
        return int(count)

    def clear(self, key: str) -> None:
        self._redis.delete(f"estateflow:lockout:{key}")


@dataclass
class Lockout:
    store: LockoutStore
    max_failures: int
    lock_seconds: int

    def is_locked(self, username: str) -> bool:
        return self.store.failures(username.lower()) >= self.max_failures

    def failed(self, username: str) -> int:
        """Record a failure; returns how many attempts remain before the lock."""
        count = self.store.add_failure(username.lower(), self.lock_seconds)
        return max(self.max_failures - count, 0)

    def succeeded(self, username: str) -> None:
        self.store.clear(username.lower())
