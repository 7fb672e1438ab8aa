"""The blueprints of the visitors domain, registered by :func:`app.create_app`."""

from __future__ import annotations

from app.visitors import api, cli, portal, public, staff

BLUEPRINTS = (portal.bp, public.bp, staff.bp, api.bp, cli.bp)
