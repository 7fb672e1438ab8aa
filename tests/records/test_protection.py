"""Protected data: encrypted at rest, blind-index search, masking per role, audited reveals."""

from __future__ import annotations

import base64

import pytest
import sqlalchemy as sa
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.extensions import db
from app.records import crypto, protect, rotation
from app.records.models import Customer
from app.records.search import CustomerFilter, search
from tests.records.conftest import ELDER_ID

PHONE = "13812345678"
BANK = "6222020200112233445"


@pytest.fixture
def alice(project, unit, create_customer):
    return create_customer(project, unit=unit, name="李爱丽", id_type="ric", id_number=ELDER_ID,
                           phone=PHONE, bank_account=BANK, emergency_phone="13900009999")


def test_raw_row_holds_no_plaintext(alice) -> None:
    row = db.session.execute(sa.text("SELECT * FROM customer WHERE id = :id"),
                             {"id": alice.id}).mappings().one()
    dump = " ".join(str(v) for v in row.values())
    for secret in (ELDER_ID, PHONE, "+86" + PHONE, BANK, "13900009999", "5678", "002X",
                   "110105"):
        assert secret not in dump
    # Only the birth date derived from the ID is kept in clear (for the age rule tags).
    assert str(row["birth_date"]).startswith("1949-12-31")
    assert row["phone_enc"].startswith("k1:")
    assert protect.plain(alice, "phone") == PHONE


def test_audit_trail_holds_no_plaintext(alice) -> None:
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.record_type == "customer"))
    dump = " ".join(f"{e.before} {e.after}" for e in events)
    assert PHONE not in dump and ELDER_ID not in dump and "k1:" not in dump


def test_ciphertext_bound_to_its_column(alice) -> None:
    with pytest.raises(Exception):  # noqa: B017 - cryptography raises InvalidTag
        crypto.keyring().decrypt(alice.phone_enc, "customer.bank_account")


def test_exact_search_by_blind_index(project, alice, create_customer) -> None:
    create_customer(project, phone="13800000000")
    found = search(project.id, CustomerFilter(phone="+86 138-1234-5678"))
    assert [c.id for c in found.items] == [alice.id]
    found = search(project.id, CustomerFilter(id_number=ELDER_ID.lower()))
    assert [c.id for c in found.items] == [alice.id]


def test_masks() -> None:
    assert protect.mask("phone", "13812345678") == "138****5678"
    assert protect.mask("id_number", "310101195501011232") == "310***********1232"
    assert protect.mask("bank_account", BANK) == "6222***********3445"


def test_key_rotation(app, alice) -> None:
    old = crypto.keyring()
    new_key = base64.b64encode(b"n" * 32).decode()
    app.config.update(RECORDS_ENCRYPTION_KEY=new_key, RECORDS_ENCRYPTION_KEY_ID="k2",
                      RECORDS_INDEX_KEY=base64.b64encode(old.index_key).decode(),
                      RECORDS_PREVIOUS_KEYS={"k1": base64.b64encode(old.keys["k1"]).decode()})
    crypto.reset_keyring()
    try:
        assert protect.plain(alice, "phone") == PHONE  # old ciphertext still readable
        assert rotation.rotate_keys() == 4
        db.session.expire_all()
        fresh = db.session.get(Customer, alice.id)
        assert fresh.phone_enc.startswith("k2:") and fresh.id_number_enc.startswith("k2:")
        assert protect.plain(fresh, "id_number") == ELDER_ID
        assert rotation.rotate_keys() == 0
    finally:
        for key in ("RECORDS_ENCRYPTION_KEY", "RECORDS_ENCRYPTION_KEY_ID", "RECORDS_INDEX_KEY",
                    "RECORDS_PREVIOUS_KEYS"):
            app.config.pop(key, None)
        crypto.reset_keyring()


@pytest.mark.parametrize(("role", "may_reveal"), [
    ("customer_service", False), ("technician", False), ("supervisor", True),
    ("project_manager", True), ("super_admin", True)])
def test_masking_per_role(client, auth, create_user, project, alice, role, may_reveal) -> None:
    create_user(role, projects=[project], username=f"u_{role}")
    auth.login(f"u_{role}")
    page = client.get(f"/records/{project.id}/customers/{alice.id}").get_data(as_text=True)
    assert "138****5678" in page and PHONE not in page
    assert "110***********002X" in page and ELDER_ID not in page
    assert ('reveal/phone' in page) is may_reveal
    token = auth.csrf(f"/records/{project.id}/customers/{alice.id}")
    answer = client.post(f"/records/{project.id}/customers/{alice.id}/reveal/phone",
                         data={"csrf_token": token})
    if not may_reveal:
        assert answer.status_code == 403
        return
    assert answer.status_code == 200 and PHONE in answer.get_data(as_text=True)
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "records.reveal"))
    assert event.record_id == str(alice.id) and event.after == {"field": "phone"}
    assert event.actor_label == f"u_{role}"


def test_api_reveal_and_masking(client, auth, create_user, project, alice) -> None:
    create_user("customer_service", projects=[project], username="cs")
    auth.login("cs")
    body = client.get(f"/api/v1/records/customers/{alice.id}").get_json()
    assert body["phone"] == "138****5678" and body["bank_account"] == "6222***********3445"
    headers = {"X-CSRFToken": auth.csrf()}
    answer = client.post(f"/api/v1/records/customers/{alice.id}/reveal",
                         json={"field": "phone"}, headers=headers)
    assert answer.status_code == 403


def test_other_project_customers_do_not_exist(client, auth, create_user, create_project,
                                              alice) -> None:
    other = create_project()
    create_user("supervisor", projects=[other], username="sup2")
    auth.login("sup2")
    assert client.get(f"/api/v1/records/customers/{alice.id}").status_code == 404
    assert client.get(f"/records/{alice.project_id}/customers/{alice.id}").status_code == 404
