"""Business-calendar arithmetic (pure) and its administration."""

from __future__ import annotations

from datetime import date

import pytest

from app.complaints import calendar as cal
from app.errors import FieldErrors
from tests.flows.complaint.conftest import local

WEEK = {str(i): ([["09:00", "12:00"], ["13:00", "18:00"]] if i < 5 else []) for i in range(7)}


def wt(days=(), around=False):
    return cal.working_time(WEEK, None, days, "Asia/Shanghai", around)


def test_lunch_break_and_night():
    assert cal.add_working_hours(wt(), local("2026-11-23 11:00"), 2) == local("2026-11-23 14:00")
    assert cal.add_working_hours(wt(), local("2026-11-23 17:00"), 2) == local("2026-11-24 10:00")
    assert cal.add_working_hours(wt(), local("2026-11-23 20:00"), 1) == local("2026-11-24 10:00")


def test_weekend_and_holiday_and_make_up_day():
    assert cal.add_working_hours(wt(), local("2026-11-27 17:00"), 2) == local("2026-11-30 10:00")
    holiday = wt([(date(2026, 11, 30), "holiday")])
    assert cal.add_working_hours(holiday, local("2026-11-27 17:00"), 2) == local(
        "2026-12-01 10:00")
    makeup = wt([(date(2026, 11, 28), "workday")])
    assert cal.add_working_hours(makeup, local("2026-11-27 17:00"), 2) == local(
        "2026-11-28 10:00")


def test_between_and_around_the_clock():
    assert cal.working_hours_between(wt(), local("2026-11-27 17:00"),
                                     local("2026-11-30 10:00")) == 2
    assert cal.working_hours_between(wt(), local("2026-11-30 10:00"),
                                     local("2026-11-27 17:00")) == 0
    assert cal.add_working_hours(wt(around=True), local("2026-11-28 22:00"), 4) == local(
        "2026-11-29 02:00")


def test_an_empty_calendar_is_refused():
    empty = cal.working_time({str(i): [] for i in range(7)}, [["09:00", "10:00"]], [],
                             "Asia/Shanghai")
    with pytest.raises(cal.CalendarError):
        cal.add_working_hours(empty, local("2026-11-23 09:00"), 1)


def test_interval_parsing():
    assert cal.parse_intervals("13:00-18:00, 09:00-12:00")[0][0].hour == 9
    for bad in ("9-18", "18:00-09:00", "09:00-12:00,11:00-13:00"):
        with pytest.raises(ValueError):
            cal.parse_intervals(bad)


def test_admin_operations(db_session, create_project):
    project = create_project()
    cal.set_week_hours(project.id, {"0": "08:30-17:30", "5": "09:00-12:00"})
    working = cal.project_working_time(project.id)
    assert working.intervals(date(2026, 11, 23))[0][0].strftime("%H:%M") == "08:30"
    assert working.intervals(date(2026, 11, 24)) == []
    with pytest.raises(FieldErrors) as exc:
        cal.set_week_hours(project.id, {"0": "nonsense"})
    assert "mon" in exc.value.fields
    assert cal.seed_china_2026(project.id) == 39
    assert cal.seed_china_2026(project.id) == 39  # idempotent: days are updated, not added
    working = cal.project_working_time(project.id)
    assert date(2026, 10, 1) in working.holidays and date(2026, 10, 10) in working.workdays
    day = cal.add_calendar_day(project.id, date(2026, 12, 24), "holiday", "公司年会")
    cal.remove_calendar_day(project.id, day.id)
    assert date(2026, 12, 24) not in cal.project_working_time(project.id).holidays


def test_calendar_helpers_are_offered_to_scripts():
    from app.engine.script_helpers import registered_helpers

    names = set(registered_helpers()[1])
    assert {"business_hours_after", "business_hours_between", "sla_new", "sla_pause",
            "sla_resume", "sla_extend", "sla_timer", "sla_due_in"} <= names


def test_the_diagram_renders():
    from pathlib import Path

    from app.engine.diagram import render_svg

    bpmn = (Path(__file__).resolve().parents[3] / "processes" / "complaint.bpmn").read_bytes()
    svg = render_svg(bpmn, "complaint", {"Handle"}, {"Triage"})
    assert "<svg" in svg and "Investigate and handle" in svg
