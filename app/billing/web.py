"""The blueprints of billing, registered by :func:`app.create_app`.

Importing this module registers the dunning flow's script helper and service operators
(``dunning_update``, ``door_access``) and the door-access outbox deliverer as well.
"""

from __future__ import annotations

from . import api, door_access, dunning, portal, views

__all__ = ["BLUEPRINTS", "door_access", "dunning"]

BLUEPRINTS = (views.bp, portal.bp, api.bp)
