"""Passes at the gate: signatures, key rotation, windows, use counts, revocation, exits;
the log, its figures, and retention."""

from __future__ import annotations

from datetime import timedelta
from io import BytesIO
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from itsdangerous import URLSafeSerializer
from openpyxl import load_workbook

from app.errors import FieldErrors, Forbidden
from app.extensions import db
from app.visitors import gate, passes
from app.visitors import operations as ops
from app.visitors.models import GateEvent
from app.visitors.retention import purge_expired_visitors
from app.visitors.stats import Period, export_batch, export_log, statistics
from tests.flows.visitor.conftest import World, visit


def check(world: World, text: str, direction: str = "entry") -> gate.GateResult:
    return gate.check_pass(text, world.project.id, world.guard, direction)


@pytest.fixture
def keys(app: Flask) -> Any:
    """Configure signing keys for one test."""
    saved = {k: app.config.get(k) for k in ("VISITOR_PASS_KEYS", "VISITOR_PASS_KEY_ID")}

    def use(keyring: str, current: str | None = None) -> None:
        app.config["VISITOR_PASS_KEYS"] = keyring
        app.config["VISITOR_PASS_KEY_ID"] = current

    yield use
    app.config.update(saved)


def test_an_invitation_is_a_signed_single_use_pass(world: World, invite: Any,
                                                   frozen_clock: Any) -> None:
    issued = invite()
    assert issued.visitor_phone == "+8613800138000" and issued.max_entries == 1
    assert len(issued.code) == 8 and set(issued.code) <= set(passes.ALPHABET)
    token = ops.pass_token(issued)
    assert token.startswith("EF1.k0.") and passes.verify(token).pass_id == issued.id
    assert check(world, token).reason == "not_yet_valid"
    frozen_clock.advance(timedelta(hours=1, minutes=5))
    first = check(world, token)
    assert first.ok and first.details["visitor_phone"] == "138****8000"
    replay = check(world, token)
    assert (replay.ok, replay.reason) == (False, "used")
    assert "already used" in replay.message
    typed = check(world, passes.display_code(issued.code).lower())
    assert typed.reason == "used"
    kinds = [e.kind for e in db.session.query(GateEvent).order_by(GateEvent.id)]
    assert kinds == ["refused", "entry", "refused", "refused"]


def test_typed_code_lets_in_and_multi_entry_passes_allow_several(
        world: World, invite: Any, frozen_clock: Any) -> None:
    issued = invite(multi_entry=True)
    frozen_clock.advance(timedelta(hours=1))
    code = passes.display_code(issued.code)
    assert check(world, code).ok
    assert check(world, code, "exit").ok
    assert check(world, f" {code.replace('-', ' ')} ").ok
    assert issued.entries_used == 2 and issued.max_entries is None


def test_forged_and_altered_tokens_are_refused(world: World, invite: Any,
                                               frozen_clock: Any) -> None:
    issued = invite()
    frozen_clock.advance(timedelta(hours=1))
    token = ops.pass_token(issued)
    prefix, kid, body = token.split(".", 2)
    payload, signature = body.rsplit(".", 1)
    other = invite()
    altered = f"{prefix}.{kid}.{ops.pass_token(other).split('.', 2)[2].rsplit('.', 1)[0]}" \
              f".{signature}"
    assert check(world, altered).reason == "forged"
    assert check(world, f"{prefix}.{kid}.{payload}.{'A' * len(signature)}").reason == "forged"
    foreign = URLSafeSerializer("someone-elses-key", salt=passes.SALT).dumps(
        {"p": issued.id, "c": issued.code})
    assert check(world, f"EF1.{kid}.{foreign}").reason == "forged"
    assert check(world, f"EF1.k9.{body}").reason == "unknown_key"
    assert check(world, "EF1.garbage").reason == "unreadable"
    wrong_code = passes.sign(issued.id, "ABCDEFGH")  # our key, but not this pass's code
    assert check(world, wrong_code).reason == "forged"
    assert check(world, "hello").reason == "unreadable"
    assert check(world, "ABCD-EFGH").reason == "not_found"
    assert issued.entries_used == 0
    assert "forged" in check(world, altered).message


def test_keys_rotate_old_passes_keep_working_until_their_key_is_removed(
        world: World, invite: Any, keys: Any, frozen_clock: Any) -> None:
    keys("k1:first-secret")
    old = invite(multi_entry=True)
    keys("k2:second-secret,k1:first-secret", "k2")
    new = invite(multi_entry=True)
    frozen_clock.advance(timedelta(hours=1))
    assert ops.pass_token(old).startswith("EF1.k1.") and ops.pass_token(new).startswith("EF1.k2.")
    assert check(world, ops.pass_token(old)).ok and check(world, ops.pass_token(new)).ok
    keys("k2:second-secret", "k2")
    assert check(world, ops.pass_token(new)).ok
    assert check(world, f"EF1.k1.{passes.sign(old.id, old.code).split('.', 2)[2]}").reason \
        == "unknown_key"
    assert check(world, passes.display_code(old.code)).ok  # the typed code needs no key


def test_window_expiry_with_the_clock_moved(world: World, invite: Any,
                                            frozen_clock: Any) -> None:
    issued = invite(multi_entry=True)
    frozen_clock.advance(timedelta(minutes=59))
    assert check(world, issued.code).reason == "not_yet_valid"
    frozen_clock.advance(timedelta(minutes=2))
    assert check(world, issued.code).ok
    frozen_clock.advance(timedelta(hours=2))
    result = check(world, issued.code)
    assert (result.ok, result.reason) == (False, "expired")
    assert check(world, issued.code, "exit").ok  # leaving late is fine


def test_revoked_passes_are_refused(world: World, invite: Any, frozen_clock: Any) -> None:
    issued = invite()
    with pytest.raises(Forbidden):
        ops.revoke_pass(issued, world.landlord)
    ops.revoke_pass(issued, world.host)
    frozen_clock.advance(timedelta(hours=1))
    result = check(world, ops.pass_token(issued))
    assert result.reason == "revoked" and "cancelled" in result.message
    assert issued.status(frozen_clock()) == "revoked"


def test_a_used_up_pass_cannot_be_consumed_twice(world: World, invite: Any,
                                                 frozen_clock: Any) -> None:
    issued = invite()
    frozen_clock.advance(timedelta(hours=1))
    assert gate._consume(issued)
    assert not gate._consume(issued)  # what a second gate at the same instant gets
    assert issued.entries_used == 1


def test_exits_and_who_is_inside(world: World, invite: Any, frozen_clock: Any) -> None:
    issued = invite()
    frozen_clock.advance(timedelta(hours=1))
    assert check(world, issued.code, "exit").reason == "not_inside"
    assert check(world, issued.code).ok
    assert gate.inside_now(world.project.id) == [issued]
    assert check(world, issued.code, "exit").ok
    assert gate.inside_now(world.project.id) == []


def test_a_pass_of_another_estate_is_refused(world: World, invite: Any, frozen_clock: Any,
                                             create_project: Any) -> None:
    issued = invite()
    other = create_project("OTH", "Other Park")
    frozen_clock.advance(timedelta(hours=1))
    result = gate.check_pass(issued.code, other.id, world.guard)
    assert result.reason == "other_estate"


def test_invitation_input_is_checked(world: World, invite: Any, frozen_clock: Any) -> None:
    with pytest.raises(FieldErrors) as info:
        invite(visitor_name="", visitor_phone="12345", party_size=0, purpose="party")
    assert set(info.value.fields) == {"visitor_name", "visitor_phone", "party_size", "purpose"}
    now = frozen_clock()
    for begin, finish, field in ((now - timedelta(hours=3), now - timedelta(hours=1),
                                  "valid_until"),
                                 (now + timedelta(hours=2), now + timedelta(hours=1),
                                  "valid_until"),
                                 (now, now + timedelta(days=8), "valid_until"),
                                 (now + timedelta(days=90), now + timedelta(days=90, hours=1),
                                  "valid_from")):
        with pytest.raises(FieldErrors) as info:
            invite(valid_from=begin, valid_until=finish)
        assert field in info.value.fields
    with pytest.raises(FieldErrors):
        ops.invite_visitor(world.host, {"unit_id": world.empty_unit.id, **visit()})


def test_form_windows_are_local_to_the_estate(world: World) -> None:
    zone = ops.project_zone(world.project.id)
    begin, finish = ops.window_from_form("2026-11-22", "14:00", "16:30", zone)
    assert begin.utcoffset() == timedelta(hours=8) and (finish - begin) == timedelta(hours=2.5)
    _b, late = ops.window_from_form("2026-11-22", "22:00", "02:00", zone)
    assert late.day == 23
    with pytest.raises(FieldErrors) as info:
        ops.window_from_form("22/11", "9", "x", zone)
    assert set(info.value.fields) == {"date", "start", "end"}


def test_statistics_and_excel_exports(world: World, invite: Any, frozen_clock: Any) -> None:
    first, second = invite(purpose="delivery"), invite(party_size=3)
    frozen_clock.advance(timedelta(hours=1))
    check(world, first.code)
    check(world, second.code)
    check(world, second.code)  # refused: used
    day = frozen_clock().date()
    figures = statistics(world.project.id, Period(day, day))
    assert figures["visits"] == 2 and figures["people"] == 5
    assert figures["per_day"] == [{"day": "2026-11-22", "visits": 2}]
    assert figures["per_unit"] == [{"unit": world.unit.label, "visits": 2}]
    assert {p["purpose"] for p in figures["per_purpose"]} == {"delivery", "visit"}
    assert figures["refused"] == [{"reason": "used", "count": 1}]
    book = load_workbook(BytesIO(export_log(world.project.id, Period(day, day))))
    rows = list(book["log"].values)
    assert rows[0][:3] == ("time", "kind", "reason") and len(rows) == 4
    assert "138****8000" in rows[1] and "+8613800138000" not in str(rows)
    assert list(book["per_day"].values)[1] == ("2026-11-22", 2)


def test_batch_export_holds_every_pass_token(world: World) -> None:
    data = visit()
    batch = ops.request_batch(world.tenant, {"unit_id": world.tenant_unit.id, "company": "ACME",
                                             "count": 3, "valid_from": data["valid_from"],
                                             "valid_until": data["valid_until"]})
    ops.decide_batch(batch, world.supervisor, "approve")
    rows = list(load_workbook(BytesIO(export_batch(batch))).active.values)
    assert len(rows) == 4
    assert [passes.verify(r[7]).pass_id for r in rows[1:]] == [p.id for p in batch.passes]


def test_retention_wipes_visitor_data_but_keeps_the_figures(
        app: Flask, world: World, invite: Any, frozen_clock: Any) -> None:
    old = invite()
    frozen_clock.advance(timedelta(hours=1))
    check(world, old.code)
    frozen_clock.advance(timedelta(days=100))
    recent = invite()
    frozen_clock.advance(timedelta(days=81))
    assert purge_expired_visitors(frozen_clock()) == {"passes": 1, "requests": 0}
    assert (old.visitor_name, old.visitor_phone, old.plate) == ("—", None, None)
    assert old.purged_at is not None and recent.visitor_phone == "+8613800138000"
    assert check(world, old.code).reason == "expired"
    day = (frozen_clock() - timedelta(days=181)).date()
    assert statistics(world.project.id, Period(day, day))["visits"] == 1
    assert purge_expired_visitors(frozen_clock()) == {"passes": 0, "requests": 0}
    frozen_clock.advance(timedelta(days=200))
    app.config["VISITOR_RETENTION_DAYS"] = 30
    try:
        result = CliRunner().invoke(app.cli, ["visitors", "purge"], obj=None,
                                    catch_exceptions=False)
    finally:
        app.config.pop("VISITOR_RETENTION_DAYS")
    assert "Wiped 1 passes" in result.output
    db.session.refresh(recent)
    assert recent.visitor_phone is None


def test_phone_masking() -> None:
    assert gate.mask_phone("+8613812345678") == "138****5678"
    assert gate.mask_phone(None) is None
