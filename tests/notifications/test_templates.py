"""Templates: deploy-time checks, SMS length warnings, rendering and language fallback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.engine.bundle import Problem
from app.notifications.templates import (
    TemplateRenderError,
    TemplateStore,
    check_templates,
    read_directory,
    sms_length,
    validate_templates,
)

EVENTS = json.dumps({"accepted": {"variables": ["ticket_no", "technician_name"],
                                  "sample": {"ticket_no": "BX-1", "technician_name": "张师傅"}}})


def bundle(**templates: str) -> dict[str, bytes]:
    files = {"notifications/repair/events.json": EVENTS.encode()}
    for name, text in templates.items():
        files[f"notifications/repair/{name.replace('__', '.')}.txt"] = text.encode("utf-8")
    return files


def test_shipped_templates_are_valid_and_fit_one_segment():
    report = check_templates(read_directory(Path(__file__).parents[2] / "notifications"))
    assert report.problems == []
    assert report.warnings == []


def test_unknown_variable_fails_naming_file_and_variable():
    files = bundle(accepted__sms__zh_CN="工单{{ ticket_no }}，{{ owner_phone }}")
    problems = validate_templates(files)
    assert len(problems) == 1
    problem = problems[0]
    assert isinstance(problem, Problem)
    assert problem.file == "notifications/repair/accepted.sms.zh_CN.txt"
    assert problem.element_id == "accepted"
    assert "'owner_phone'" in problem.reason


def test_long_chinese_sms_is_a_warning_not_a_problem():
    text = "【EstateFlow】" + "您的报修工单已由师傅接单，请保持电话畅通。" * 3 + "{{ ticket_no }}"
    files = bundle(accepted__sms__zh_CN=text)
    report = check_templates(files)
    assert report.problems == [] and validate_templates(files) == []
    assert len(report.warnings) == 1
    assert report.warnings[0].file.endswith("accepted.sms.zh_CN.txt")
    assert "UCS-2" in report.warnings[0].reason and "2 segments" in report.warnings[0].reason


def test_sms_length_counts_segments():
    assert sms_length("汉" * 70).segments == 1
    assert sms_length("汉" * 71).segments == 2
    assert sms_length("a" * 160) == sms_length("a" * 160)
    assert sms_length("a" * 160).segments == 1 and sms_length("a" * 160).encoding == "GSM-7"
    assert sms_length("a" * 161).segments == 2
    assert sms_length("{" * 80).units == 160  # extension characters count twice


@pytest.mark.parametrize("templates, reason", [
    ({"accepted__sms__en": "Job {{ ticket_no }}"}, "no zh_CN version"),
    ({"accepted__email__zh_CN": "工单{{ ticket_no }}"}, 'first line must be "Subject: ..."'),
    ({"accepted__sms__zh_CN": "{% if ticket_no %}工单"}, "line 1"),
    ({"finished__sms__zh_CN": "完工"}, "'finished' is not declared"),
    ({"accepted__fax__zh_CN": "x"}, "name must be"),
    ({"accepted__sms__fr": "x"}, "name must be"),
    ({"accepted__sms__zh_CN": "{{ ticket_no.upper.x.y }}"}, "fails with the sample data"),
])
def test_other_problems(templates, reason):
    problems = validate_templates(bundle(**templates))
    assert any(reason in p.reason for p in problems), problems


def test_events_json_problems():
    files = {"notifications/repair/events.json": b'{"accepted": {"variables": ["a b"]}}'}
    assert "identifiers" in validate_templates(files)[0].reason
    files = {"notifications/repair/events.json": b'{"accepted": {"variables": ["a"]}}'}
    assert "sample has no value for 'a'" in validate_templates(files)[0].reason
    files = {"notifications/repair/events.json": b"{nope"}
    assert "not valid JSON" in validate_templates(files)[0].reason


def test_files_outside_notifications_are_ignored():
    assert validate_templates({"processes/repair.bpmn": b"<xml/>",
                               "forms/repair/a.json": b"{}"}) == []


def test_rendering_is_sandboxed_and_strict():
    store = TemplateStore(bundle(accepted__sms__zh_CN="{{ ticket_no.__class__.__mro__ }}"))
    with pytest.raises(TemplateRenderError):
        store.render("repair.accepted", "sms", "zh_CN", {"ticket_no": "x", "technician_name": "y"})
    store = TemplateStore(bundle(accepted__sms__zh_CN="工单{{ ticket_no }}"))
    with pytest.raises(TemplateRenderError, match="needs technician_name"):
        store.render("repair.accepted", "sms", "zh_CN", {"ticket_no": "x"})


def test_missing_language_falls_back_to_zh_cn():
    store = TemplateStore(bundle(accepted__sms__zh_CN="工单{{ ticket_no }}已接单",
                                 accepted__email__zh_CN="Subject: 工单{{ ticket_no }}\n\n正文",
                                 accepted__email__en="Subject: Job {{ ticket_no }}\n\nBody"))
    data = {"ticket_no": "BX-1", "technician_name": "张师傅"}
    sms = store.render("repair.accepted", "sms", "en", data)
    assert sms.body == "工单BX-1已接单" and sms.language == "zh_CN"
    email = store.render("repair.accepted", "email", "en_US", data)
    assert (email.subject, email.body, email.language) == ("Job BX-1", "Body", "en")
