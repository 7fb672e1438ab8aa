"""The blueprints of customer records, registered by :func:`app.create_app`."""

from __future__ import annotations

from app.records import admin_views, api, cli, portal, views

BLUEPRINTS = (views.bp, admin_views.bp, portal.bp, api.bp, cli.bp)
