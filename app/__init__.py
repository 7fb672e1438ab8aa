"""EstateFlow: service tickets and BPMN workflows for property-management companies."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

import redis
from flask import Flask

from app import cli, dbsetup, i18n, uow
from app.accounts.api import bp as accounts_api
from app.accounts.lockout import Lockout, MemoryLockoutStore, RedisLockoutStore
from app.accounts.views import bp as accounts_bp
from app.api import bp as api_bp
from app.audit.views import bp as audit_bp
from app.billing.jobs import daily_billing
from app.billing.web import BLUEPRINTS as BILLING_BLUEPRINTS
from app.complaints.web import BLUEPRINTS as COMPLAINTS_BLUEPRINTS
from app.config import load_config
from app.engine import scheduler
from app.engine.api import bp as engine_api
from app.engine.views import bp as processes_bp
from app.engine.workflow_cache import cache as workflow_cache
from app.extensions import csrf, db, login_manager, migrate
from app.inbox.api import bp as tasks_api
from app.inbox.views import bp as inbox_bp
from app.lostfound.web import BLUEPRINTS as LOSTFOUND_BLUEPRINTS
from app.notifications.admin import bp as notifications_admin_bp
from app.notifications.api import bp as notifications_api
from app.notifications.views import bp as notifications_bp
from app.projects.api import bp as projects_api
from app.projects.views import bp as projects_bp
from app.records.retention import anonymise_expired
from app.records.web import BLUEPRINTS as RECORDS_BLUEPRINTS
from app.repairs.web import BLUEPRINTS as REPAIRS_BLUEPRINTS
from app.timetravel import operations as timetravel
from app.timetravel.views import bp as timetravel_bp
from app.timetravel.views import clock_cli
from app.uploads.views import bp as uploads_bp
from app.visitors.retention import purge_expired_visitors
from app.visitors.web import BLUEPRINTS as VISITORS_BLUEPRINTS
from app.web import context, errors, security
from app.web.views import bp as web_bp

BLUEPRINTS = (web_bp, accounts_bp, projects_bp, audit_bp, api_bp, accounts_api, projects_api,
              timetravel_bp, notifications_bp, notifications_admin_bp, notifications_api,
              uploads_bp, processes_bp, engine_api, inbox_bp, tasks_api,
              *RECORDS_BLUEPRINTS, *COMPLAINTS_BLUEPRINTS, *VISITORS_BLUEPRINTS,
              *LOSTFOUND_BLUEPRINTS, *BILLING_BLUEPRINTS, *REPAIRS_BLUEPRINTS)


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the application; ``test_config`` overrides settings read from the environment."""
    config = load_config(test_config)
    app = Flask(__name__, instance_path=config["INSTANCE_PATH"], instance_relative_config=False)
    app.config.update(config)
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False  # checked in app.web.security, API-aware
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(Path(__file__).parent.parent / "migrations"))
    csrf.init_app(app)
    login_manager.init_app(app)
    i18n.init_app(app)
    uow.init_app(app)
    workflow_cache.size = int(app.config["ENGINE_WORKFLOW_CACHE_SIZE"])
    if app.config["PYTHON_GC_THRESHOLD"]:
        gc.set_threshold(*app.config["PYTHON_GC_THRESHOLD"])
    timetravel.init_app(app)

    redis_url = app.config["REDIS_URL"]
    app.extensions["estateflow_redis"] = redis.Redis.from_url(redis_url) if redis_url else None
    store = (
        RedisLockoutStore(app.extensions["estateflow_redis"])
        if redis_url
        else MemoryLockoutStore()
    )
    app.extensions["estateflow_lockout"] = Lockout(
        store, app.config["LOGIN_MAX_FAILURES"], app.config["LOGIN_LOCKOUT_SECONDS"]
    )

    _register_blueprints(app)
    return app


def _register_blueprints(app: Flask) -> None:
    dbsetup.init_app(app)
    security.init_app(app)
    errors.init_app(app)
    context.init_app(app)
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    cli.init_app(app)
    app.cli.add_command(clock_cli)
    # Timers, timer starts, outbox and daily jobs; started in-process only if SCHEDULER_ENABLED.
    scheduler.register_daily_job("records.anonymise_expired", anonymise_expired)
    scheduler.register_daily_job("visitors.purge_expired", purge_expired_visitors)
    scheduler.register_daily_job("billing.daily", daily_billing)
    scheduler.init_app(app)
