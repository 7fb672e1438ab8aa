"""JSON Schema forms rendered as HTML and parsed back (app.inbox.formrender)."""

from __future__ import annotations

import re

import jsonschema
import pytest
from lxml import html as lxml_html
from werkzeug.datastructures import MultiDict

from app.inbox.formrender import localized, parse_form, render_form

SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["category", "summary", "visits"],
    "properties": {
        "category": {"type": "string", "title": "Category", "x-title-zh": "类别",
                     "description": "What is broken", "x-description-zh": "哪里坏了",
                     "enum": ["water", "power", "door"],
                     "x-enumNames": ["Water", "Power", "Door"],
                     "x-enumNames-zh": ["水", "电", "门禁"]},
        "priority": {"type": "integer", "title": "Priority", "x-title-zh": "优先级",
                     "oneOf": [{"const": 1, "title": "Low", "x-title-zh": "低"},
                               {"const": 2, "title": "High", "x-title-zh": "高"}]},
        "summary": {"type": "string", "title": "Summary", "x-title-zh": "摘要",
                    "minLength": 2, "maxLength": 40, "pattern": "^[^<>]*$"},
        "detail": {"type": "string", "title": "Detail", "x-title-zh": "详情"},
        "phone": {"type": "string", "title": "Phone", "pattern": "1[3-9][0-9]{9}"},
        "visits": {"type": "integer", "title": "Visits", "minimum": 1, "maximum": 5},
        "cost": {"type": "number", "title": "Cost", "minimum": 0, "multipleOf": 0.01},
        "urgent": {"type": "boolean", "title": "Urgent", "x-title-zh": "紧急"},
        "fixed": {"type": "boolean", "title": "Fixed"},
        "visit_on": {"type": "string", "format": "date", "title": "Visit day"},
        "arrived_at": {"type": "string", "format": "date-time", "title": "Arrived at"},
        "email": {"type": "string", "format": "email"},
        "link": {"type": "string", "format": "uri"},
        "shift": {"type": "string", "enum": ["am", "pm"], "enumNames": ["Morning", "Evening"]},
        "materials": {"type": "array", "title": "Materials", "x-title-zh": "材料",
                      "items": {"type": "string", "minLength": 1}, "maxItems": 3},
        "counts": {"type": "array", "items": {"type": "integer"}},
        "checks": {"type": "array", "uniqueItems": True,
                   "items": {"type": "string", "enum": ["valve", "pipe"]}},
        "photos": {"type": "array", "title": "Photos", "x-title-zh": "照片",
                   "items": {"type": "string", "pattern": "^upload:[1-9][0-9]*$"},
                   "maxItems": 6,
                   "x-upload": {"accept": ["image/jpeg", "image/png"], "maxSizeMB": 10}},
        "signature": {"type": "string", "x-upload": {"accept": ["application/pdf"]}},
        "ticket_no": {"type": "string", "title": "Ticket", "readOnly": True},
        "address": {"type": "object", "title": "Address",
                    "properties": {"building": {"type": "string"},
                                   "floor": {"type": "integer"}}},
    },
}
UI = {"detail": {"ui:widget": "textarea"}, "shift": {"ui:widget": "radio"},
      "fixed": {"ui:widget": "radio"}, "ui:order": ["summary", "category", "*"]}


def doc(markup: str) -> lxml_html.HtmlElement:
    return lxml_html.fragment_fromstring(str(markup), create_parent="div")


def x(tree: lxml_html.HtmlElement, path: str) -> lxml_html.HtmlElement:
    found = tree.xpath(path)
    assert len(found) == 1, f"{path}: {len(found)} matches"
    return found[0]


@pytest.fixture
def page_en() -> lxml_html.HtmlElement:
    return doc(render_form(SCHEMA, UI, locale="en", upload_url="/api/v1/uploads?project_id=1"))


def test_each_type_gets_its_control(page_en):
    assert x(page_en, "//select[@name='category']").get("required") is not None
    assert [o.get("value") for o in page_en.xpath("//select[@name='category']/option")] == [
        "", "water", "power", "door"]
    assert x(page_en, "//select[@name='priority']/option[@value='2']").text == "High"
    x(page_en, "//textarea[@name='detail']")
    assert x(page_en, "//input[@name='visit_on']").get("type") == "date"
    assert x(page_en, "//input[@name='arrived_at']").get("type") == "datetime-local"
    assert x(page_en, "//input[@name='email']").get("type") == "email"
    assert x(page_en, "//input[@name='link']").get("type") == "url"
    assert x(page_en, "//input[@name='summary']").get("type") == "text"
    assert x(page_en, "//input[@type='checkbox'][@name='urgent']").get("value") == "true"
    assert x(page_en, "//input[@type='hidden'][@name='urgent']").get("value") == "false"
    radios = page_en.xpath("//input[@type='radio'][@name='shift']")
    assert [r.get("value") for r in radios] == ["am", "pm"]
    assert "Evening" in x(page_en, "//fieldset[@data-field='shift']").text_content()
    assert [r.get("value") for r in page_en.xpath("//input[@name='fixed']")] == ["true", "false"]
    assert len(page_en.xpath("//input[@type='checkbox'][@name='checks']")) == 2
    # arrays of simple items: repeatable inputs, one blank to add, a template for more
    assert len(page_en.xpath("//div[@class='ef-items']/div/div/input[@name='materials']")) == 1
    assert x(page_en, "//fieldset[@data-field='materials']").get("data-max-items") == "3"
    x(page_en, "//template//input[@name='materials']")
    # uploads
    photos = x(page_en, "//input[@type='file'][@name='photos__file']")
    assert photos.get("accept") == "image/jpeg,image/png"
    assert photos.get("multiple") is not None
    box = x(page_en, "//div[@data-field='photos']")
    assert box.get("data-upload-url") == "/api/v1/uploads?project_id=1"
    assert box.get("data-max-items") == "6"
    assert box.get("data-max-bytes") == str(10 * 1024 * 1024)
    signature = x(page_en, "//input[@type='file'][@name='signature__file']")
    assert signature.get("multiple") is None
    # nested objects use dotted names
    x(page_en, "//fieldset[@data-field='address']//input[@name='address.floor']")
    assert "<script>" in str(render_form(SCHEMA, UI, locale="en"))  # enhancement inlined


def test_constraints_become_attributes(page_en):
    summary = x(page_en, "//input[@name='summary']")
    assert summary.get("required") is not None
    assert (summary.get("minlength"), summary.get("maxlength")) == ("2", "40")
    assert summary.get("pattern") == "^[^<>]*$"
    # JSON Schema patterns search; HTML ones must match the whole value
    assert x(page_en, "//input[@name='phone']").get("pattern") == ".*(?:1[3-9][0-9]{9}).*"
    visits = x(page_en, "//input[@name='visits']")
    assert (visits.get("type"), visits.get("min"), visits.get("max"), visits.get("step")) == (
        "number", "1", "5", "1")
    assert visits.get("inputmode") == "numeric"
    cost = x(page_en, "//input[@name='cost']")
    assert (cost.get("min"), cost.get("max"), cost.get("step")) == ("0", None, "0.01")
    label = x(page_en, "//label[@for='f-summary']")
    assert label.xpath(".//span[@class='ef-req']")
    assert not x(page_en, "//label[@for='f-detail']").xpath(".//span[@class='ef-req']")


def test_ui_order(page_en):
    order = [f.get("data-field") for f in page_en.xpath("/div/div/*[@data-field]")]
    assert order[:3] == ["summary", "category", "priority"]
    assert set(order) == set(SCHEMA["properties"])


def test_both_languages():
    zh = doc(render_form(SCHEMA, UI, locale="zh_CN"))
    en = doc(render_form(SCHEMA, UI, locale="en"))
    assert "类别" in x(zh, "//label[@for='f-category']").text_content()
    assert "Category" in x(en, "//label[@for='f-category']").text_content()
    assert "哪里坏了" in zh.text_content() and "What is broken" in en.text_content()
    assert x(zh, "//option[@value='door']").text == "门禁"
    assert x(en, "//option[@value='door']").text == "Door"
    assert x(zh, "//option[@value='1']").text == "低"
    assert x(zh, "//select[@name='category']/option[@value='']").text == "请选择"
    # falls back to the other language, then to the property name
    assert "Phone" in x(zh, "//label[@for='f-phone']").text_content()
    assert "Urgent" not in x(zh, "//div[@data-field='urgent']").text_content()
    assert "email" in x(en, "//label[@for='f-email']").text_content()
    assert localized({"x-title-zh": "类别"}, "title", "en") == "类别"
    assert x(zh, "//fieldset[@data-field='shift']").xpath(".//label")[1].text_content().strip() \
        == "Evening"


def test_values_are_filled_in():
    data = {"category": "power", "priority": 2, "summary": "灯不亮", "visits": 3, "cost": 12.5,
            "urgent": True, "fixed": False, "shift": "pm", "arrived_at": "2026-11-22T01:30:00Z",
            "materials": ["灯泡", "电线"], "checks": ["pipe"], "photos": ["upload:7"],
            "signature": "upload:8", "ticket_no": "BX-2026-0001",
            "address": {"building": "1号楼", "floor": 3}, "detail": "a\nb"}
    page = doc(render_form(SCHEMA, UI, data=data, locale="en"))
    assert x(page, "//option[@value='power']").get("selected") is not None
    assert x(page, "//option[@value='2']").get("selected") is not None
    assert x(page, "//input[@name='visits']").get("value") == "3"
    assert x(page, "//input[@name='cost']").get("value") == "12.5"
    assert x(page, "//input[@type='checkbox'][@name='urgent']").get("checked") is not None
    assert x(page, "//input[@name='fixed'][@value='false']").get("checked") is not None
    assert x(page, "//input[@name='shift'][@value='pm']").get("checked") is not None
    assert x(page, "//input[@name='arrived_at']").get("value") == "2026-11-22T09:30"  # Shanghai
    rows = "//fieldset[@data-field='materials']//div[@class='ef-items']//input"
    values = [i.get("value") for i in page.xpath(rows)]
    assert values == ["灯泡", "电线", ""]
    assert x(page, "//input[@name='checks'][@value='pipe']").get("checked") is not None
    assert x(page, "//input[@type='hidden'][@name='photos']").get("value") == "upload:7"
    assert x(page, "//div[@data-field='photos']//img").get("src") == "/uploads/7"
    assert x(page, "//input[@type='hidden'][@name='signature']").get("value") == "upload:8"
    assert x(page, "//div[@data-field='signature']//a").get("href") == "/uploads/8"
    assert x(page, "//textarea[@name='detail']").text == "a\nb"
    # read-only: shown as text, no input
    ticket = x(page, "//div[@data-field='ticket_no']")
    assert "BX-2026-0001" in ticket.text_content()
    assert not ticket.xpath(".//input") and not page.xpath("//*[@name='ticket_no']")


def test_array_respects_max_items():
    page = doc(render_form(SCHEMA, UI, data={"materials": ["a", "b", "c"]}, locale="en"))
    assert len(page.xpath("//div[@class='ef-items']//input[@name='materials']")) == 3


def test_errors_next_to_their_fields():
    errors = {"summary": "too short", "materials.1": "must not be empty",
              "address.floor": "not an integer", "photos.0": "unknown upload",
              "somewhere": "else"}
    page = doc(render_form(SCHEMA, UI, data={"materials": ["a", "", "c"]}, errors=errors,
                           locale="en"))
    field = x(page, "//div[@data-field='summary']")
    assert "has-error" in field.get("class")
    assert x(field, ".//p[@class='error']").text == "too short"
    assert x(field, ".//input").get("aria-invalid") == "true"
    assert "f-summary-err" in x(field, ".//input").get("aria-describedby")
    rows = page.xpath("//div[@class='ef-items']/div")
    assert "has-error" in rows[1].get("class")
    assert x(rows[1], ".//p[@class='error']").text == "must not be empty"
    assert not rows[0].xpath(".//p[@class='error']")
    assert x(page, "//p[@data-field='address.floor']").text == "not an integer"
    assert "unknown upload" in x(page, "//div[@data-field='photos']").text_content()
    summary = x(page, "//div[contains(@class, 'ef-summary')]")
    assert "somewhere: else" in summary.text_content()
    assert "too short" not in summary.text_content()


def test_everything_is_escaped():
    evil = "<script>alert(1)</script>"
    schema = {"type": "object", "properties": {
        "a": {"type": "string", "title": evil, "description": evil, "pattern": '"><x'},
        "b": {"type": "string", "enum": [evil], "x-enumNames": [evil]},
        "c": {"type": "string", "readOnly": True},
        "d": {"type": "array", "items": {"type": "string"}},
        evil: {"type": "string"},
    }}
    data = {"a": evil, "c": evil, "d": [evil]}
    markup = str(render_form(schema, {"a": {"ui:placeholder": evil}}, data=data,
                             errors={"a": evil, "zz": evil}, locale="en"))
    before_script = markup.split("<script>(function")[0]
    assert "<script>alert" not in before_script
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in markup
    assert '"><x' not in markup
    page = doc(markup)
    assert x(page, "//input[@name='a']").get("value") == evil
    assert len(page.xpath("//script")) == 1  # only our enhancement script


def test_parse_form_round_trip():
    form = MultiDict([
        ("category", "water"), ("priority", "2"), ("summary", "  漏水  "), ("detail", "a\r\nb"),
        ("phone", ""), ("visits", "2"), ("cost", "12.50"),
        ("urgent", "false"), ("urgent", "true"), ("fixed", "false"), ("shift", "am"),
        ("visit_on", "2026-11-23"), ("arrived_at", "2026-11-22T09:30"),
        ("materials", "水管"), ("materials", ""), ("materials", "生料带"),
        ("counts", "3"), ("counts", "4"), ("checks", "valve"), ("checks", "pipe"),
        ("photos", "upload:5"), ("photos", "upload:6"), ("photos__remove", "upload:5"),
        ("signature", "upload:9"), ("ticket_no", "forged"),
        ("address.building", "1号楼"), ("address.floor", "7"), ("email", ""),
    ])
    data = parse_form(SCHEMA, form)
    assert data == {
        "category": "water", "priority": 2, "summary": "漏水", "detail": "a\nb", "visits": 2,
        "cost": 12.5, "urgent": True, "fixed": False, "shift": "am", "visit_on": "2026-11-23",
        "arrived_at": "2026-11-22T09:30:00+08:00", "materials": ["水管", "生料带"],
        "counts": [3, 4], "checks": ["valve", "pipe"], "photos": ["upload:6"],
        "signature": "upload:9", "address": {"building": "1号楼", "floor": 7},
    }
    jsonschema.Draft202012Validator(SCHEMA).validate(data)
    # what was parsed renders back to the same values
    again = parse_form(SCHEMA, _submit(render_form(SCHEMA, UI, data=data, locale="en")))
    assert again == data


def _submit(markup: object) -> MultiDict:
    """The fields a browser would send for ``markup`` (checked boxes, selected options)."""
    page = doc(str(markup))
    pairs = []
    for el in page.xpath("//*[@name][not(ancestor::template)]"):
        name = el.get("name")
        if el.tag == "input":
            kind = el.get("type", "text")
            if kind in {"checkbox", "radio"}:
                if el.get("checked") is not None:
                    pairs.append((name, el.get("value")))
            elif kind != "file":
                pairs.append((name, el.get("value") or ""))
        elif el.tag == "textarea":
            pairs.append((name, el.text or ""))
        elif el.tag == "select":
            chosen = el.xpath("./option[@selected]")
            pairs.append((name, chosen[0].get("value") if chosen else ""))
    return MultiDict(pairs)


def test_parse_form_empties_and_bad_values():
    data = parse_form(SCHEMA, MultiDict([("summary", ""), ("visits", "two"), ("cost", "nan"),
                                         ("urgent", "false"), ("materials", ""),
                                         ("address.floor", ""), ("priority", "9")]))
    assert data == {"visits": "two", "cost": "nan", "urgent": False, "priority": "9"}
    errors = {".".join(map(str, e.path)) or e.validator
              for e in jsonschema.Draft202012Validator(SCHEMA).iter_errors(data)}
    assert {"visits", "cost", "priority", "required"} <= errors
    # a field that was not on the page at all is left alone
    assert parse_form(SCHEMA, MultiDict()) == {}


def test_parse_form_stores_files_sent_without_javascript():
    stored = []

    def store(path, file):
        stored.append((path, file.filename))
        return f"upload:{len(stored) + 40}"

    from io import BytesIO

    from werkzeug.datastructures import FileStorage
    files = MultiDict([("photos__file", FileStorage(BytesIO(b"x"), "a.jpg")),
                       ("photos__file", FileStorage(BytesIO(b""), ""))])
    data = parse_form(SCHEMA, MultiDict([("photos", "upload:3")]), files=files, store=store)
    assert data == {"photos": ["upload:3", "upload:41"]}
    assert stored == [("photos", "a.jpg")]


def test_no_id_collisions_and_labels_point_at_inputs(page_en):
    ids = [el.get("id") for el in page_en.xpath("//*[@id][not(ancestor::template)]")]
    assert len(ids) == len(set(ids))
    for label in page_en.xpath("//label[@for]"):
        assert page_en.xpath(f"//*[@id='{label.get('for')}']"), label.get("for")
    assert all(re.fullmatch(r"[A-Za-z0-9_-]+", i) for i in ids)
