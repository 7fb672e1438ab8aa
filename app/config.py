"""Configuration read from environment variables.

Every setting has a default that works on a fresh machine: SQLite under ``instance/``, no
Redis, SMS recorded in the outbox only. Production sets ``ESTATEFLOW_ENV=production`` and the
secrets; the adjustable clock is refused there.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent.parent
INSTANCE_DIR = Path(os.environ.get("ESTATEFLOW_INSTANCE", BASE_DIR / "instance"))


#: Only for development; production refuses to start with it.
DEV_SECRET_KEY = "dev-insecure-change-me"  # noqa: S105


class ConfigError(RuntimeError):
    """Raised at start-up when the configuration is unsafe or inconsistent."""


def _bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


#: Generation thresholds of Python's cyclic garbage collector. The interpreter's (700, 10, 10)
#: collects the youngest generation every 700 new objects; one task completion allocates tens
#: of thousands (workflow tasks, ORM rows), so a busy worker ran the collector dozens of times
#: per request and a full collection over every long-lived object (deployed specs, the
#: workflow cache) every few hundred. Short-lived cycles (a workflow used for one step) are
#: still freed within the request's next collections.
GC_THRESHOLD = (50_000, 20, 10)


def gc_threshold(raw: str | None) -> tuple[int, ...] | None:
    """``PYTHON_GC_THRESHOLD``: unset → GC_THRESHOLD; "default" → leave the interpreter's;
    else one to three comma-separated whole numbers, as gc.set_threshold takes them."""
    if raw is None or not raw.strip():
        return GC_THRESHOLD
    if raw.strip().lower() == "default":
        return None
    try:
        values = tuple(int(part) for part in raw.split(","))
    except ValueError:
        values = ()
    if not 1 <= len(values) <= 3 or any(v < 0 for v in values):
        raise ConfigError(f"PYTHON_GC_THRESHOLD={raw!r}: give up to three whole numbers such "
                          "as 50000,20,10, or 'default'")
    return values


def normalise_database_url(url: str) -> str:
    """Use psycopg 3 for ``postgresql://`` URLs (the driver we install)."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


#: Settings of single domains: name → type. Documented in docs/operations.md.
DOMAIN_SETTINGS: dict[str, type] = {
    "RECORDS_RETENTION_DAYS": int,  # customer data anonymised this long after move-out
    "VISITOR_RETENTION_DAYS": int,  # visitor names/phones/plates wiped after this
    "LOSTFOUND_REMINDER_AFTER": str,  # ISO 8601 durations, e.g. P30D
    "LOSTFOUND_DISPOSAL_AFTER": str,
    "LOSTFOUND_LOST_EXPIRY": str,
    "UPLOAD_MAX_BYTES": int,
    "PUBLIC_BASE_URL": str,  # links in SMS and e-mails, e.g. https://wuye.example.com
}


def load_config(overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Build the Flask config mapping from the environment, then apply ``overrides``."""
    env = os.environ.get("ESTATEFLOW_ENV", "development")
    default_database = f"sqlite:///{INSTANCE_DIR / 'estateflow.sqlite3'}"
    database_url = os.environ.get("DATABASE_URL") or default_database
    config: dict[str, Any] = {
        "ENV_NAME": env,
        "SECRET_KEY": os.environ.get("SECRET_KEY", DEV_SECRET_KEY),
        "SQLALCHEMY_DATABASE_URI": normalise_database_url(database_url),
        "REDIS_URL": os.environ.get("REDIS_URL") or None,
        "BABEL_DEFAULT_LOCALE": "zh_CN",
        "BABEL_DEFAULT_TIMEZONE": os.environ.get("ESTATEFLOW_TIMEZONE", "Asia/Shanghai"),
        "LANGUAGES": ["zh_CN", "en"],
        "WTF_CSRF_ENABLED": True,
        "WTF_CSRF_TIME_LIMIT": None,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": env == "production",
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "LOGIN_MAX_FAILURES": _int("LOGIN_MAX_FAILURES", 5),
        "LOGIN_LOCKOUT_SECONDS": _int("LOGIN_LOCKOUT_SECONDS", 15 * 60),
        "PASSWORD_MIN_LENGTH": _int("PASSWORD_MIN_LENGTH", 8),
        # "system" in production; "adjustable" lets demos and dry runs move time forward.
        "CLOCK_MODE": os.environ.get("ESTATEFLOW_CLOCK", "system"),
        "SCHEDULER_ENABLED": _bool("SCHEDULER_ENABLED", True),
        # Real seconds between scheduler passes (timers fire within about this of being due).
        "SCHEDULER_TIMER_SECONDS": float(os.environ.get("SCHEDULER_TIMER_SECONDS") or 2),
        "SCHEDULER_OUTBOX_SECONDS": float(os.environ.get("SCHEDULER_OUTBOX_SECONDS") or 5),
        "SCHEDULER_DAILY_HOUR": _int("SCHEDULER_DAILY_HOUR", 3),
        # Workflows each process keeps in memory after saving them (see engine/workflow_cache).
        "ENGINE_WORKFLOW_CACHE_SIZE": _int("ENGINE_WORKFLOW_CACHE_SIZE", 2000),
        # The interpreter's garbage-collector thresholds (see gc_threshold).
        "PYTHON_GC_THRESHOLD": gc_threshold(os.environ.get("PYTHON_GC_THRESHOLD")),
        "INSTANCE_PATH": str(INSTANCE_DIR),
        "PAGE_SIZE": 20,
        "MAX_CONTENT_LENGTH": 32 * 1024 * 1024,
    }
    # Domain settings, read from the environment when set (each domain keeps its default).
    for name, kind in DOMAIN_SETTINGS.items():
        raw = os.environ.get(name)
        if raw:
            config[name] = kind(raw)
    if overrides:
        config.update(overrides)
    # A server's connections can go stale (restarts, idle timeouts): test each one as it
    # leaves the pool. A SQLite file cannot, and the test would cost every transaction a
    # statement.
    config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {
        "pool_pre_ping": not str(config["SQLALCHEMY_DATABASE_URI"]).startswith("sqlite")})
    check_config(config)
    return config


def check_config(config: dict[str, Any]) -> None:
    """Refuse configurations that would be unsafe in production."""
    if config["ENV_NAME"] != "production":
        return
    if config["SECRET_KEY"] == DEV_SECRET_KEY:
        raise ConfigError("SECRET_KEY must be set in production")
    if config["CLOCK_MODE"] != "system":
        raise ConfigError("the adjustable clock is refused in production (ESTATEFLOW_CLOCK)")
