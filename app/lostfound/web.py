"""The blueprints of lost and found, registered by :func:`app.create_app`."""

from __future__ import annotations

from app.lostfound import access, api, sync, views

#: ``sync`` and ``access`` register listeners on import: the workflow → item sync and the
#: rule that lets residents see photos of published items.
LISTENERS = (sync, access)
BLUEPRINTS = (views.bp, api.bp)
