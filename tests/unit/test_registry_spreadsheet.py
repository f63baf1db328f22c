"""Import and export: Chinese headers, every bad row named, all or nothing, round trips."""

import io

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from services.kernel.http import ApiError
from services.kernel.models import OutboxMessage
from services.registry import demo, places, registry, rotation, spreadsheet

HEADER = "编号,姓名,层级,界别,区县,电话,专长,届期,工作站,工作室,状态"


def events(s):
    return s.scalar(select(func.count()).select_from(OutboxMessage))


@pytest.fixture
def s(session_of):
    session = session_of("registry")
    demo.load(session)
    places.save_studio(
        session,
        {
            "code": "sd001",
            "name": "民建·社会科学·科协界别委员工作室",
            "district": "安宁区",
            "location": "培黎街道建宁路社区",
            "sectors": ["minjian", "shehuikexue", "kexie"],
        },
    )
    registry.update(
        session,
        "members",
        "m005",
        {
            "phone": "0931-8612345",
            "expertise": ["基层协商"],
            "studios": [{"studio": "sd001", "role": "lead"}],
        },
    )
    rotation.generate_rotation(session, station="gwm", month="2026-12", per_day=2)
    session.commit()
    return session


def csv_bytes(*lines, encoding="utf-8-sig"):
    return ("\r\n".join(lines) + "\r\n").encode(encoding)


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_export_then_import_changes_nothing(s, fmt):
    before = events(s)
    for kind in spreadsheet.KINDS:
        content, _, _ = spreadsheet.export_file(s, kind, fmt)
        counts = spreadsheet.import_rows(s, kind, content)
        s.commit()
        assert counts["created"] == counts["updated"] == 0, kind
        assert counts["unchanged"] == counts["rows"] > 0, kind
    assert events(s) == before


def test_the_export_reads_like_the_office_writes(s):
    content, media, name = spreadsheet.export_file(s, "members", "xlsx")
    assert name == "members.xlsx" and "spreadsheetml" in media
    sheet = load_workbook(io.BytesIO(content)).worksheets[0]
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    assert rows[0] == HEADER.split(",")
    m005 = next(r for r in rows if r[0] == "m005")
    assert m005[2:6] == ["市", "民建", "安宁区", "0931-8612345"]
    assert m005[8:] == ["jnl（负责人）", "sd001（负责人）", "在职"]


def test_an_edited_workbook_updates_only_what_changed(s):
    content, _, _ = spreadsheet.export_file(s, "members", "xlsx")
    book = load_workbook(io.BytesIO(content))
    sheet = book.worksheets[0]
    for row in sheet.iter_rows(min_row=2):
        if row[0].value == "m002":
            row[5].value = 13909310002  # typed as a number in Excel
            row[10].value = "停用"
    out = io.BytesIO()
    book.save(out)
    counts = spreadsheet.import_rows(s, "members", out.getvalue())
    s.commit()
    assert counts == {"rows": 14, "created": 0, "updated": 1, "unchanged": 13}
    m002 = registry.get(s, "members", "m002")
    assert (m002.phone, m002.active, m002.revision) == ("13909310002", False, 2)


def test_a_bad_file_names_every_bad_row_and_field_and_writes_nothing(s):
    before = events(s)
    data = csv_bytes(
        HEADER,
        "m100,新委员甲,市,医药卫生,城关区,13809310100,义诊,2022-2027,gwm,,在职",
        "m101,新委员乙,市,医药卫生,城关区,12345,,,,,在职",
        "m102,新委员丙,村,不存在的界别,北京,,,,nowhere,,在职",
        "m100,重复的,县区,教育,城关区,,,,,,在职",
        "m104,新委员丁,县区,不存在的界别,城关区,,,,,,在职",
        "m105,新委员戊,县区,教育,城关区,,,,nowhere,,在职",
        "m103,,县区,教育,城关区,,,,gwm（站长）,,离职",
    )
    with pytest.raises(ApiError) as err:
        spreadsheet.import_rows(s, "members", data)
    s.rollback()
    error = err.value
    assert error.code == "import_invalid" and "未写入" in error.message_zh
    messages = [m for ms in error.fields.values() for m in ms]
    assert "第3行 电话: 格式不正确 / row 3 phone: invalid" in messages
    assert set(error.fields) == {
        "3.phone",
        "4.level",
        "4.sector",
        "4.district",
        "5.code",
        "6.sector",
        "7.stations",
        "8.name",
        "8.stations",
        "8.active",
    }
    assert "第5行 编号: 与第2行重复" in error.fields["5.code"][0]
    assert "未知界别" in error.fields["6.sector"][0]
    assert "nowhere" in error.fields["7.stations"][0]
    assert error.fields["8.name"] == ["第8行 姓名: 不能为空 / row 8 name: required"]
    # row 2 was good, but the file is one piece: nothing of it was written
    assert s.get(registry.KINDS["members"].model, "m100") is None
    assert events(s) == before


def test_a_roster_file_with_a_deactivated_member_is_refused(s):
    registry.deactivate(s, "members", "m003")
    s.commit()
    data = csv_bytes("日期,时段,工作站,值班委员", "2027-01-06,上午,gwm,m001、m003")
    with pytest.raises(ApiError) as err:
        spreadsheet.import_rows(s, "rosters", data)
    assert "已停用" in err.value.fields["2.members"][0]


def test_not_a_spreadsheet_and_wrong_headers_get_clear_errors(s):
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"
    for data in (png, b"", b"PK\x03\x04 not really a zip"):
        with pytest.raises(ApiError) as err:
            spreadsheet.import_rows(s, "members", data)
        assert err.value.code == "not_a_spreadsheet"
        assert "不是电子表格" in err.value.message_zh
    with pytest.raises(ApiError) as err:
        spreadsheet.import_rows(s, "members", csv_bytes("编号,名字,层级,区县", "m1,某,市,城关区"))
    error = err.value
    assert error.code == "wrong_headers"
    assert "缺少列：姓名、界别" in error.message_zh and "不认识的列：名字" in error.message_zh
    assert "missing columns: 姓名, 界别" in error.message
    book = Workbook()
    book.active.append(["工号", "姓名"])
    out = io.BytesIO()
    book.save(out)
    with pytest.raises(ApiError) as err:
        spreadsheet.import_rows(s, "stations", out.getvalue())
    assert err.value.code == "wrong_headers"


def test_a_gbk_csv_and_a_file_without_phones_keep_what_the_registry_has(s):
    data = csv_bytes(
        "编号,姓名,层级,界别,区县",
        "m005,陈立新,市,民建,安宁区",
        "m200,新委员,县区,minjian,安宁区",
        encoding="gb18030",
    )
    counts = spreadsheet.import_rows(s, "members", data)
    s.commit()
    assert counts == {"rows": 2, "created": 1, "updated": 0, "unchanged": 1}
    m005 = registry.get(s, "members", "m005")
    assert m005.phone == "0931-8612345" and m005.studio_memberships[0].role == "lead"
    assert registry.get(s, "members", "m200").sector_code == "minjian"


def test_last_months_roster_still_imports_after_a_member_on_it_left(s):
    content, _, _ = spreadsheet.export_file(s, "rosters", "xlsx")
    assert any("m003" in row[4] for row in spreadsheet.export_rows(s, "rosters")[1:])
    registry.deactivate(s, "members", "m003")
    s.commit()
    counts = spreadsheet.import_rows(s, "rosters", content)
    assert counts["unchanged"] == counts["rows"] > 0
