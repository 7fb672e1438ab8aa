"""The blueprints of complaints, registered by :func:`app.create_app`.

Importing this module registers the flow's script helpers and service operator as well.
"""

from __future__ import annotations

from . import admin_views, api, engine_hooks, portal, views

__all__ = ["BLUEPRINTS", "engine_hooks"]

BLUEPRINTS = (views.bp, admin_views.bp, portal.bp, api.bp)
