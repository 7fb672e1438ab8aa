"""Validation: ID numbers with checksum, passports, phones, plates, numbers, custom fields."""

from __future__ import annotations

import pytest

from app.errors import Conflict, FieldErrors
from app.records import fields as cf
from app.records import operations as ops
from app.records import validation as v
from tests.records.conftest import ELDER_ID, YOUNG_ID


def test_mainland_id_checksum() -> None:
    assert v.normalise_id("ric", ELDER_ID.lower()) == ELDER_ID
    with pytest.raises(v.Invalid, match="check digit"):
        v.normalise_id("ric", ELDER_ID[:-1] + "1")
    with pytest.raises(v.Invalid, match="18"):
        v.normalise_id("ric", "1101051949")


def test_birth_date_from_id() -> None:
    assert v.birth_date_from_ric(ELDER_ID).isoformat() == "1949-12-31"


def test_passport() -> None:
    assert v.normalise_id("passport", " e1234 5678 ") == "E12345678"
    with pytest.raises(v.Invalid):
        v.normalise_id("passport", "E1-2")


@pytest.mark.parametrize("raw", ["13812345678", "+86 138 1234 5678", "138-1234-5678"])
def test_mobile_numbers_default_to_china(raw: str) -> None:
    assert v.normalise_phone(raw) == "+8613812345678"


@pytest.mark.parametrize("raw", ["12345", "1381234567", "abc"])
def test_bad_phone_numbers(raw: str) -> None:
    with pytest.raises(v.Invalid):
        v.normalise_phone(raw)


def test_plates() -> None:
    assert v.normalise_plate("沪a·12345") == "沪A12345"
    with pytest.raises(v.Invalid):
        v.normalise_plate("ABC")


def test_create_reports_every_bad_field(project) -> None:
    with pytest.raises(FieldErrors) as info:
        ops.create_customer(project.id, {"name": "", "id_type": "ric", "id_number": "123",
                                         "phone": "999", "preferred_channel": "fax"})
    assert set(info.value.fields) == {"name", "id_number", "phone", "preferred_channel"}


def test_customer_number_unique_per_project(project, create_project, create_customer) -> None:
    create_customer(project, number="A1")
    with pytest.raises(Conflict):
        create_customer(project, number="a1")
    other = create_project()
    assert create_customer(other, number="A1").number == "A1"


def test_automatic_numbers(project, create_customer) -> None:
    assert create_customer(project).number == "C000001"
    assert create_customer(project).number == "C000002"


def test_custom_fields_by_kind(project, create_customer) -> None:
    cf.define_field(project.id, "pets", "Pets", "number")
    cf.define_field(project.id, "since", "Resident since", "date")
    cf.define_field(project.id, "size", "Household", "choice", ["small", "large"])
    with pytest.raises(FieldErrors) as info:
        create_customer(project, custom={"pets": "two", "since": "31/12/2020", "size": "huge",
                                         "nope": "x"})
    assert set(info.value.fields) == {"custom.pets", "custom.since", "custom.size",
                                      "custom.nope"}
    c = create_customer(project, custom={"pets": "2.0", "since": "2020-12-31", "size": "small"})
    assert {x.field.code: x.value for x in c.field_values} == {
        "pets": "2", "since": "2020-12-31", "size": "small"}


def test_duplicate_detected_on_create(project, create_customer) -> None:
    first = create_customer(project, id_type="ric", id_number=ELDER_ID)
    with pytest.raises(ops.DuplicateCustomer) as info:
        create_customer(project, id_type="ric", id_number=ELDER_ID.lower())
    assert info.value.duplicates == [first]
    second = create_customer(project, name="王 伟", phone="13900001111")
    with pytest.raises(ops.DuplicateCustomer) as info:
        create_customer(project, name="王  伟", phone="+86 139 0000 1111")
    assert info.value.duplicates == [second]
    # different name, same phone: a family sharing a phone is not a duplicate
    create_customer(project, name="王芳", phone="13900001111", id_type="ric",
                    id_number=YOUNG_ID)
    # explicitly allowed
    assert create_customer(project, id_type="ric", id_number=ELDER_ID, allow_duplicate=True)
