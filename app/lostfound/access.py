"""Who may see an item's photos besides staff and the uploader: anyone of the project while
the item is published."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app.extensions import db
from app.lostfound.models import Item, ItemStatus
from app.uploads.models import Upload
from app.uploads.operations import register_access_check


@register_access_check
def published_item_photo(upload: Upload, user: Any) -> bool:
    if upload.instance_id is None:
        return False
    if not (user.sees_all_projects or upload.project_id in user.project_ids):
        return False
    return db.session.scalar(
        select(Item.id).where(Item.instance_id == upload.instance_id,
                              Item.status == ItemStatus.PUBLISHED)
        .execution_options(all_projects=True)) is not None
