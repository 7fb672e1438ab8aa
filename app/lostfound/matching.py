"""Suggest found items for a lost report and lost reports for a found item.

Deliberately simple and explainable: a score from four signals, each with a reason shown to
people. Chinese text has no spaces, so words are compared as character bigrams (钱包 → {钱包},
黑色钱包 → {黑色, 色钱, 钱包}), which needs no tokenizer and is robust to word order; Latin
words are compared whole.

* same category: 3 points (other categories are not suggested at all);
* time: the found time lies from 1 day before to 30 days after the lost time: up to 2 points,
  fewer the further apart;
* place: overlap (Jaccard) of the place words: up to 2 points;
* description: overlap of the description words: up to 3 points.

Candidates are read from the item index (same project, opposite kind, published, same
category, inside the time window), at most :data:`CANDIDATE_LIMIT` rows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import select

from app.extensions import db
from app.lostfound.models import Item, ItemStatus

WINDOW_BEFORE = timedelta(days=1)  # an item may be "found" slightly before it is missed
WINDOW_AFTER = timedelta(days=30)
CANDIDATE_LIMIT = 200
MIN_SCORE = 4.0  # category alone (3) is not enough to suggest
_CJK = re.compile(r"[\u3400-\u9fff]+")
_WORD = re.compile(r"[a-z0-9]+")
#: Words too common in reports to say anything.
STOP = frozenset({"一个", "的", "了", "在", "and", "the", "a", "of", "with", "in", "on"})


def tokens(text: str | None) -> set[str]:
    """Character bigrams of Chinese runs (single characters for one-character runs) plus
    lower-case Latin words and numbers."""
    value = (text or "").lower()
    result: set[str] = set()
    for run in _CJK.findall(value):
        if len(run) == 1:
            result.add(run)
        result.update(run[i:i + 2] for i in range(len(run) - 1))
    result.update(w for w in _WORD.findall(value) if len(w) > 1 or w.isdigit())
    return result - STOP


def overlap(a: set[str], b: set[str]) -> float:
    """Jaccard similarity of two token sets (0 when either is empty)."""
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


@dataclass
class Match:
    item: Item
    score: float
    #: (code, detail): category | days | place | words; pages translate the codes.
    reasons: list[tuple[str, str]] = field(default_factory=list)


def _lost_and_found(a: Item, b: Item) -> tuple[Item, Item]:
    return (a, b) if a.kind == "lost" else (b, a)


def score(a: Item, b: Item) -> Match | None:
    """How alike a lost report and a found item are, with reasons; None if not comparable."""
    if a.kind == b.kind or a.category != b.category or a.project_id != b.project_id:
        return None
    lost, found = _lost_and_found(a, b)
    gap = found.occurred_at - lost.occurred_at
    if gap < -WINDOW_BEFORE or gap > WINDOW_AFTER:
        return None
    match = Match(b, 3.0, [("category", b.category)])
    days = abs(gap.total_seconds()) / 86400
    time_points = 2.0 if days <= 2 else max(0.0, 2.0 * (1 - days / WINDOW_AFTER.days))
    if time_points > 0:
        match.score += time_points
        match.reasons.append(("days", str(max(1, round(days)))))
    place = overlap(tokens(a.place), tokens(b.place))
    if place > 0:
        match.score += 2.0 * place
        common = sorted(tokens(a.place) & tokens(b.place))
        match.reasons.append(("place", " ".join(common[:5])))
    words = overlap(tokens(a.description), tokens(b.description))
    if words > 0:
        match.score += 3.0 * words
        common = sorted(tokens(a.description) & tokens(b.description))
        match.reasons.append(("words", " ".join(common[:8])))
    match.score = round(match.score, 2)
    return match


def candidates(item: Item) -> list[Item]:
    """Published items of the opposite kind and same category inside the time window."""
    other = "found" if item.kind == "lost" else "lost"
    if item.kind == "lost":
        lo, hi = item.occurred_at - WINDOW_BEFORE, item.occurred_at + WINDOW_AFTER
    else:
        lo, hi = item.occurred_at - WINDOW_AFTER, item.occurred_at + WINDOW_BEFORE
    stmt = (
        select(Item)
        .where(Item.project_id == item.project_id, Item.kind == other,
               Item.status == ItemStatus.PUBLISHED, Item.category == item.category,
               Item.occurred_at >= lo, Item.occurred_at <= hi, Item.id != item.id)
        .order_by(Item.occurred_at.desc())
        .limit(CANDIDATE_LIMIT)
    )
    return list(db.session.scalars(stmt))


def suggestions(item: Item, limit: int = 5, min_score: float = MIN_SCORE) -> list[Match]:
    """The most alike published items of the other kind, best first."""
    found = [m for c in candidates(item) if (m := score(item, c)) is not None]
    found = [m for m in found if m.score >= min_score]
    found.sort(key=lambda m: (-m.score, -m.item.id))
    return found[:limit]
