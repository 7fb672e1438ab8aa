"""Tags, merge, retention, self-service and search."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.clock import clock
from app.errors import Conflict
from app.extensions import db
from app.records import operations as ops
from app.records import protect, tags
from app.records.merge import merge_customers
from app.records.models import Customer, CustomerTag, MergeRecord, Tag, Vehicle
from app.records.retention import anonymise_expired
from app.records.search import CustomerFilter, search
from tests.records.conftest import ELDER_ID, SH_ID, YOUNG_ID


def tagged(project_id: int, code: str) -> set[int]:
    tag = db.session.scalar(select(Tag).where(Tag.project_id == project_id, Tag.code == code))
    return set(db.session.scalars(select(CustomerTag.customer_id).where(
        CustomerTag.tag_id == tag.id)))


def test_rule_tags(project, create_customer) -> None:
    u1, u2 = sorted(project.buildings[0].units, key=lambda u: u.number)
    elder = create_customer(project, unit=u1, id_type="ric", id_number=ELDER_ID)
    ops.link_unit(elder, u2, "owner", "2020-01-01")
    young = create_customer(project, unit=u2, relation="tenant", id_type="ric",
                            id_number=YOUNG_ID, move_in=clock.now().date().isoformat())
    tags.run_scheduled()
    assert tagged(project.id, "elderly_owner") == {elder.id}
    assert tagged(project.id, "multi_unit_owner") == {elder.id}
    assert tagged(project.id, "new_resident") == {young.id}
    tag = db.session.scalar(select(Tag).where(Tag.code == "elderly_owner"))
    assert tag.kind == "rule" and "70" in tag.rule_text
    with pytest.raises(Conflict):
        ops.tag_customer(young, tag)


def test_rule_tags_follow_time(project, unit, create_customer, frozen_clock) -> None:
    sh = create_customer(project, unit=unit, id_type="ric", id_number=SH_ID)  # born 1958: 68 now
    tags.recompute_rule_tags(project.id)
    assert tagged(project.id, "elderly_owner") == set()
    frozen_clock.advance(timedelta(days=365 * 2))  # 2028-11: 70
    tags.recompute_all([project.id])
    assert tagged(project.id, "elderly_owner") == {sh.id}


def test_rule_registry_accepts_other_domains(project, create_customer) -> None:
    c = create_customer(project)
    tags.register_rule_tag("test_all", "Everyone", "every customer (test)", lambda pid: {c.id})
    try:
        tags.recompute_rule_tags(project.id, ["test_all"])
        assert tagged(project.id, "test_all") == {c.id}
    finally:
        tags.RULES.pop("test_all")


def test_manual_tags_and_tag_search(project, create_customer) -> None:
    pet = tags.add_manual_tag(project.id, "pets", "宠物家庭")
    a, _b = create_customer(project), create_customer(project)
    ops.tag_customer(a, pet)
    assert [c.id for c in search(project.id, CustomerFilter(tag="pets")).items] == [a.id]
    ops.untag_customer(a, pet)
    assert search(project.id, CustomerFilter(tag="pets")).total == 0


def test_combined_search(project, create_customer) -> None:
    u1, u2 = sorted(project.buildings[0].units, key=lambda u: u.number)
    a = create_customer(project, unit=u1, name="张伟", phone="13811112222")
    ops.add_vehicle(a, "沪B99999")
    create_customer(project, unit=u2, name="张敏")
    create_customer(project, unit=u1, name="李娜", relation="tenant")
    assert search(project.id, CustomerFilter(q="张")).total == 2
    assert [c.id for c in search(project.id, CustomerFilter(
        q="张", building="1号楼", unit="101")).items] == [a.id]
    assert search(project.id, CustomerFilter(unit="101", relation="tenant")).total == 1
    assert [c.id for c in search(project.id, CustomerFilter(plate="沪b99999")).items] == [a.id]
    page = search(project.id, CustomerFilter(), page=2, per_page=2)
    assert page.total == 3 and len(page.items) == 1


def test_merge_keeps_history(project, unit, create_customer) -> None:
    target = create_customer(project, unit=unit, name="赵六", phone="13700001111")
    source = create_customer(project, name="赵六", id_type="ric", id_number=YOUNG_ID,
                             phone="137 0000 1111", allow_duplicate=True)
    ops.add_vehicle(source, "沪C12345")
    assert ops.find_duplicates(project.id, name="赵六", phone="13700001111",
                               exclude=target.id) == [source]
    record = merge_customers(source, target)
    assert record.details["filled"] == ["id_number"]
    assert source.status == "merged" and source.merged_into_id == target.id
    assert source.id_number_enc is None
    assert protect.plain(target, "id_number") == YOUNG_ID
    assert [x.plate for x in target.vehicles] == ["沪C12345"]
    assert db.session.scalar(select(MergeRecord).where(MergeRecord.target_id == target.id))
    actions = set(db.session.scalars(select(AuditEvent.action).where(
        AuditEvent.record_type == "customer", AuditEvent.record_id == str(target.id))))
    assert "records.merged_from" in actions
    with pytest.raises(Conflict):
        merge_customers(source, target)


def test_duplicate_api_offers_merge(client, auth, create_user, project, create_customer):
    existing = create_customer(project, id_type="ric", id_number=ELDER_ID)
    create_user("customer_service", projects=[project], username="cs")
    auth.login("cs")
    headers = {"X-CSRFToken": auth.csrf()}
    body = {"name": "Someone", "id_type": "ric", "id_number": ELDER_ID,
            "units": [{"building": "1号楼", "unit": "101"}]}
    answer = client.post(f"/api/v1/records/projects/{project.id}/customers", json=body,
                         headers=headers)
    assert answer.status_code == 409
    assert [d["id"] for d in answer.get_json()["duplicates"]] == [existing.id]
    answer = client.post(f"/api/v1/records/projects/{project.id}/customers",
                         json={**body, "allow_duplicate": True}, headers=headers)
    assert answer.status_code == 201
    new_id = answer.get_json()["id"]
    answer = client.post(f"/api/v1/records/customers/{new_id}/merge",
                         json={"target_id": existing.id}, headers=headers)
    assert answer.status_code == 200
    assert answer.get_json()["details"]["moved"]["customer_unit"] == 1


def test_retention_anonymises_after_three_years(project, unit, create_customer,
                                                frozen_clock) -> None:
    gone = create_customer(project, unit=unit, name="钱七", id_type="ric", id_number=ELDER_ID,
                           phone="13600001111")
    ops.add_vehicle(gone, "沪D12345")
    ops.add_family_member(gone, "钱小七", "child", "13600002222")
    stays = create_customer(project, unit=unit, name="孙八")
    ops.end_occupancy(gone.occupancies[0], "2026-11-01")
    assert anonymise_expired(clock.now()) == []
    frozen_clock.advance(timedelta(days=3 * 365 + 1))
    assert anonymise_expired(clock.now()) == [gone.id]
    db.session.expire_all()
    gone = db.session.get(Customer, gone.id)
    assert gone.status == "anonymised" and gone.name == f"#{gone.id}"
    assert gone.phone_enc is None and gone.id_number_enc is None and gone.birth_date is None
    assert gone.vehicles == [] and gone.family == []
    assert gone.occupancies[0].move_out.isoformat() == "2026-11-01"  # statistics keep working
    assert db.session.get(Customer, stays.id).status == "active"
    assert anonymise_expired(clock.now()) == []


def test_self_service_changes_show_in_history(client, auth, create_user, project, unit,
                                              create_customer) -> None:
    owner = create_user("owner", projects=[project], username="owner1")
    me = create_customer(project, unit=unit, name="周九", phone="13500001111")
    ops.link_user(me, owner.id)
    auth.login("owner1")
    page = client.get("/my/record/")
    assert page.status_code == 200 and "135****1111" in page.get_data(as_text=True)
    token = auth.csrf("/my/record/")
    assert client.post("/my/record/phone", data={"csrf_token": token,
                                                 "phone": "13500002222"}).status_code == 302
    assert client.post("/my/record/vehicles", data={"csrf_token": token,
                                                    "plate": "沪E54321"}).status_code == 302
    assert client.post("/my/record/family", data={"csrf_token": token, "name": "周小九",
                                                  "relation": "child"}).status_code == 302
    assert client.post("/my/record/vehicles", data={"csrf_token": token,
                                                    "plate": "bad"}).status_code == 303
    db.session.expire_all()
    me = db.session.get(Customer, me.id)
    assert protect.plain(me, "phone") == "13500002222"
    assert [v.plate for v in db.session.scalars(select(Vehicle).where(
        Vehicle.customer_id == me.id))] == ["沪E54321"]
    history = db.session.scalars(select(AuditEvent).where(
        AuditEvent.record_type == "customer", AuditEvent.record_id == str(me.id),
        AuditEvent.actor_label == "owner1")).all()
    assert {e.action for e in history} >= {"update", "records.vehicle_added",
                                          "records.family_added"}
    # another customer's vehicle cannot be removed
    other = create_customer(project, name="别人")
    vehicle = ops.add_vehicle(other, "沪F11111")
    assert client.post(f"/my/record/vehicles/{vehicle.id}/delete",
                       data={"csrf_token": token}).status_code == 404


def test_customer_data_export(client, auth, create_user, project, unit, create_customer):
    c = create_customer(project, unit=unit, name="吴十", phone="13400001111")
    create_user("project_manager", projects=[project], username="pm")
    auth.login("pm")
    body = client.get(f"/api/v1/records/customers/{c.id}/export").get_json()
    assert body["customer"]["phone"] == "13400001111" and body["units"][0]["relation"]
    xlsx = client.get(f"/records/{project.id}/customers/{c.id}/data.xlsx")
    assert xlsx.status_code == 200 and xlsx.data[:2] == b"PK"
    assert db.session.scalar(select(AuditEvent).where(
        AuditEvent.action == "records.export_customer"))
    listing = client.get(f"/records/{project.id}/customers/export.xlsx?q=吴")
    assert listing.status_code == 200 and listing.data[:2] == b"PK"
