"""Excel import: all rows validated first, all-or-nothing unless the admin chooses otherwise."""

from __future__ import annotations

from io import BytesIO

from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from app.extensions import db
from app.records import importer
from app.records.models import Customer, Occupancy
from tests.records.conftest import ELDER_ID, YOUNG_ID

HEADERS = [h for _, h, _ in importer.COLUMNS]


def workbook(rows: list[dict[str, object]]) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = "customers"
    sheet.append(HEADERS)
    codes = [c for c, _, _ in importer.COLUMNS]
    for row in rows:
        sheet.append([row.get(c) for c in codes])
    out = BytesIO()
    book.save(out)
    return out.getvalue()


GOOD = [
    {"building": "1号楼", "unit": "101", "name": "张三", "id_number": ELDER_ID,
     "phone": "13812345678", "number": "A1", "move_in": "2020-01-01"},
    {"building": "1号楼", "unit": "102", "name": "张三", "number": "A1", "relation": "owner"},
    {"building": "2号楼", "unit": "201", "floor": 2, "area_m2": 88.5, "name": "李四",
     "id_number": YOUNG_ID, "plate": "沪A12345", "relation": "tenant"},
    {"building": "2号楼", "unit": "202"},
]
BAD = {"building": "2号楼", "unit": "203", "name": "王五", "id_number": "110105194912310021",
       "phone": "123", "relation": "landlord"}


def count(model) -> int:
    return db.session.scalar(select(func.count(model.id))) or 0


def test_valid_workbook_imports_everything(project) -> None:
    result = importer.import_workbook(project.id, workbook(GOOD))
    assert result.imported and not result.errors
    assert (result.customers_created, result.links_created, result.units_created) == (2, 3, 2)
    zhang = db.session.scalar(select(Customer).where(Customer.number == "A1"))
    assert len(zhang.occupancies) == 2


def test_one_bad_row_imports_nothing(project) -> None:
    before = (count(Customer), count(Occupancy))
    result = importer.import_workbook(project.id, workbook([*GOOD, BAD]))
    assert not result.imported
    assert (count(Customer), count(Occupancy)) == before
    assert {(e.row, e.column) for e in result.errors} == {
        (6, "id_number"), (6, "phone"), (6, "relation")}
    marked = load_workbook(BytesIO(result.error_workbook))
    sheet = marked["customers"]
    cell = sheet.cell(row=6, column=HEADERS.index(importer.COLUMNS[9][1]) + 1)
    assert cell.fill.fgColor.rgb.endswith("FFC7CE")
    assert "check digit" in cell.comment.text
    errors = list(marked["errors"].iter_rows(values_only=True))
    assert errors[0] == ("row", "column", "reason") and len(errors) == 4


def test_import_valid_rows_on_request(project) -> None:
    result = importer.import_workbook(project.id, workbook([BAD, *GOOD]), import_valid=True)
    assert result.imported and result.skipped_rows == [2]
    assert result.customers_created == 2


def test_duplicates_reported_for_merge(project, create_customer) -> None:
    existing = create_customer(project, id_type="ric", id_number=ELDER_ID)
    result = importer.import_workbook(project.id, workbook(GOOD))
    assert result.duplicates == [{"row": 2, "number": "A1",
                                  "possible_duplicates": [existing.number]}]


def test_missing_column(project) -> None:
    book = Workbook()
    book.active.append(["name"])
    out = BytesIO()
    book.save(out)
    result = importer.import_workbook(project.id, out.getvalue())
    assert not result.imported and {e.column for e in result.errors} == {"building", "unit"}


def test_import_page_and_template(client, auth, create_user, project) -> None:
    create_user("project_manager", projects=[project], username="pm")
    auth.login("pm")
    template = client.get(f"/records/{project.id}/import/template.xlsx")
    assert template.status_code == 200
    assert load_workbook(BytesIO(template.data))["customers"].cell(1, 1).value == HEADERS[0]
    token = auth.csrf(f"/records/{project.id}/import")
    answer = client.post(f"/records/{project.id}/import", content_type="multipart/form-data",
                         data={"csrf_token": token,
                               "file": (BytesIO(workbook([*GOOD, BAD])), "c.xlsx")})
    assert answer.status_code == 422
    page = answer.get_data(as_text=True)
    link = page.split('href="')[[i for i, part in enumerate(page.split('href="'))
                                 if "/import/errors/" in part][0]].split('"')[0]
    download = client.get(link)
    assert download.status_code == 200
    assert "errors" in load_workbook(BytesIO(download.data)).sheetnames
    answer = client.post(f"/records/{project.id}/import", content_type="multipart/form-data",
                         data={"csrf_token": token, "import_valid": "1",
                               "file": (BytesIO(workbook([*GOOD, BAD])), "c.xlsx")})
    assert answer.status_code == 200 and "6" in answer.get_data(as_text=True)
