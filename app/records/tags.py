"""Tags: manual ones staff set, and rule tags computed from data by registered rules.

Other domains register their rules (``register_rule_tag("complaints_3_in_90d", ...)``) at import
time; the rule text is shown on the tag. Rule tags of a project are recomputed before the unit
of work that changed its records commits (see :func:`schedule_recompute`), and by
:func:`recompute_all` for rules that depend on the passing of time (ages, recent move-ins).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import delete, event, func, insert, select
from sqlalchemy.orm import Session

from app.clock import clock
from app.extensions import db
from app.records.models import Customer, CustomerTag, Occupancy, Tag
from app.scoping import unscoped


@dataclass(frozen=True)
class RuleTag:
    code: str
    label: str
    rule_text: str
    compute: Callable[[int], set[int]]


RULES: dict[str, RuleTag] = {}


def register_rule_tag(code: str, label: str, rule_text: str,
                      compute: Callable[[int], set[int]]) -> RuleTag:
    """Register a computed tag; ``compute(project_id)`` returns the ids of tagged customers."""
    rule = RuleTag(code, label, rule_text, compute)
    RULES[code] = rule
    return rule


def today() -> date:
    return clock.now().date()


def _years_ago(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def _current_owner_ids(project_id: int) -> Any:
    return (select(Occupancy.customer_id)
            .where(Occupancy.project_id == project_id, Occupancy.relation == "owner",
                   Occupancy.move_out.is_(None)))


def elderly_owners(project_id: int) -> set[int]:
    cutoff = _years_ago(today(), 70)
    stmt = select(Customer.id).where(
        Customer.project_id == project_id, Customer.status == "active",
        Customer.birth_date <= cutoff, Customer.id.in_(_current_owner_ids(project_id)))
    return set(db.session.scalars(stmt))


def multi_unit_owners(project_id: int) -> set[int]:
    stmt = (_current_owner_ids(project_id).group_by(Occupancy.customer_id)
            .having(func.count(func.distinct(Occupancy.unit_id)) >= 2))
    return set(db.session.scalars(stmt))


def new_residents(project_id: int) -> set[int]:
    now = today()
    stmt = select(Occupancy.customer_id).where(
        Occupancy.project_id == project_id, Occupancy.move_in > now - timedelta(days=30),
        Occupancy.move_in <= now, Occupancy.move_out.is_(None))
    return set(db.session.scalars(stmt))


register_rule_tag("elderly_owner", "Elderly owner", "Current owner aged 70 or more (birth date "
                  "from the ID number)", elderly_owners)
register_rule_tag("multi_unit_owner", "Owns 2+ units", "Current owner of two or more units",
                  multi_unit_owners)
register_rule_tag("new_resident", "New resident", "Moved in within the last 30 days",
                  new_residents)


def rule_tag(project_id: int, rule: RuleTag) -> Tag:
    """The project's tag row for ``rule`` (created, or its label and rule text refreshed)."""
    tag = db.session.scalar(select(Tag).where(Tag.project_id == project_id,
                                              Tag.code == rule.code))
    if tag is None:
        tag = Tag(project_id=project_id, code=rule.code, label=rule.label, kind="rule",
                  rule_text=rule.rule_text)
        db.session.add(tag)
        db.session.flush()
    elif (tag.label, tag.rule_text, tag.kind) != (rule.label, rule.rule_text, "rule"):
        tag.label, tag.rule_text, tag.kind = rule.label, rule.rule_text, "rule"
    return tag


def recompute_rule_tags(project_id: int, codes: list[str] | None = None) -> dict[str, int]:
    """Recompute the project's rule tags; returns how many customers each tag now has."""
    counts: dict[str, int] = {}
    for rule in [RULES[c] for c in codes] if codes else list(RULES.values()):
        tag = rule_tag(project_id, rule)
        wanted = rule.compute(project_id)
        have = set(db.session.scalars(select(CustomerTag.customer_id)
                                      .where(CustomerTag.tag_id == tag.id)))
        gone = have - wanted
        new = wanted - have
        if gone:
            for chunk in _chunks(sorted(gone)):
                db.session.execute(delete(CustomerTag).where(
                    CustomerTag.tag_id == tag.id, CustomerTag.customer_id.in_(chunk)))
        if new:
            now = clock.now()
            db.session.execute(insert(CustomerTag), [
                {"project_id": project_id, "customer_id": cid, "tag_id": tag.id,
                 "created_at": now} for cid in sorted(new)])
        tag.computed_at = clock.now()
        counts[rule.code] = len(wanted)
    db.session.flush()
    return counts


def _chunks(ids: list[int], size: int = 500) -> list[list[int]]:
    return [ids[i:i + size] for i in range(0, len(ids), size)]


_PENDING = "records_rule_tag_projects"


def schedule_recompute(project_id: int) -> None:
    """Recompute this project's rule tags once, just before the current unit of work commits."""
    db.session.info.setdefault(_PENDING, set()).add(project_id)


def run_scheduled() -> None:
    pending: set[int] = db.session.info.pop(_PENDING, set())
    # The projects were recorded by operations that passed the scope check; the recompute
    # itself is system work (it must see every customer of the project).
    with unscoped():
        for project_id in sorted(pending):
            recompute_rule_tags(project_id)


@event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    if session.info.get(_PENDING):
        run_scheduled()


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)


def recompute_all(project_ids: list[int]) -> dict[int, dict[str, int]]:
    """Job entry point: time moves ages and "within 30 days" even when no data changes."""
    return {pid: recompute_rule_tags(pid) for pid in project_ids}


def add_manual_tag(project_id: int, code: str, label: str) -> Tag:
    """Define a manual tag (老年业主, 宠物家庭, …) for a project."""
    tag = Tag(project_id=project_id, code=code, label=label, kind="manual")
    db.session.add(tag)
    db.session.flush()
    return tag
