"""The rules behind the office's pages: a refused import as a table of row, column and problem;
a check that rolls back; the add form read as the account API takes it; generated passwords."""

import contextlib

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from services.kernel.http import ApiError
from services.kernel.models import OutboxMessage
from services.registry import accounts_pages, demo, import_page, spreadsheet
from services.registry.models import Member
from services.registry.passwords import PLAIN, generated, password_problems
from services.registry.spreadsheet.importing import error_rows

BAD = (
    "编号,姓名,层级,界别,区县,电话\r\n"
    "m900,马兰花,市,医药卫生,城关区,13800009000\r\n"
    "m901,杨黄河,省长,医药卫生,城关区,电话待补\r\n"
    "m900,马兰花,市,医药卫生,城关区,13800009000\r\n"
).encode()
GOOD = "编号,姓名,层级,界别,区县\r\nm900,马兰花,市,医药卫生,城关区\r\n".encode()


@pytest.fixture
def transaction(migrated):
    """Sessions in a transaction as the service's ``db.transaction`` gives them, over the demo
    registry."""
    engine = migrated("registry")
    with Session(engine) as session, session.begin():
        demo.load(session)

    @contextlib.contextmanager
    def begin():
        with Session(engine) as session, session.begin():
            yield session

    return begin


def test_every_bad_cell_is_a_row_of_the_table_in_row_order(transaction):
    with pytest.raises(ApiError) as refused, transaction() as session:
        spreadsheet.import_rows(session, "members", BAD)
    rows = error_rows("members", refused.value.fields)
    assert [(r["row"], r["field"], r["header"]) for r in rows] == [
        (3, "level", "层级"),
        (3, "phone", "电话"),
        (4, "code", "编号"),
    ]
    assert rows[1]["zh"] == "格式不正确" and rows[1]["en"] == "invalid"
    assert rows[2]["zh"] == "与第2行重复" and rows[2]["en"] == "duplicates row 2"
    assert rows[0]["zh"].startswith("必须是以下之一")


def test_a_check_finds_the_counts_and_writes_nothing(transaction):
    def outbox():
        with transaction() as session:
            return session.scalar(select(func.count()).select_from(OutboxMessage))

    before = outbox()
    counts = import_page.run(transaction, "members", GOOD, check_only=True)
    assert counts == {"rows": 1, "created": 1, "updated": 0, "unchanged": 0}
    with transaction() as session:
        assert session.get(Member, "m900") is None
    assert outbox() == before  # nothing announced
    with pytest.raises(ApiError) as refused:
        import_page.run(transaction, "members", BAD, check_only=True)
    assert refused.value.code == "import_invalid"
    assert import_page.run(transaction, "members", GOOD, check_only=False)["created"] == 1
    with transaction() as session:
        assert session.get(Member, "m900").name == "马兰花"
    assert outbox() == before + 1
    assert import_page.saved_rows(transaction, "members", GOOD) == [("m900", "马兰花")]


def test_the_upload_form_names_a_wrong_kind_or_mode():
    assert import_page.choice(MultiDict({"kind": "members"})) == ("members", True)
    assert import_page.choice(MultiDict({"kind": "rosters", "mode": "import"})) == (
        "rosters",
        False,
    )
    with pytest.raises(ApiError) as wrong:
        import_page.choice(MultiDict({"kind": "accounts", "mode": "delete"}))
    assert set(wrong.value.fields) == {"kind", "mode"}


def test_the_add_form_reads_as_the_account_api_takes_it():
    form = MultiDict(
        [("login", "gwm-zhanwu"), ("name", "站务"), ("role", "station_admin"),
         ("stations", "gwm"), ("stations", "jnl"), ("member", " "), ("password", "")]
    )  # fmt: skip
    data, made = accounts_pages.new_account(form)
    assert made and data["stations"] == ["gwm", "jnl"] and data["member"] is None
    assert password_problems(data["password"], "gwm-zhanwu") == []
    typed, made = accounts_pages.new_account(MultiDict({"password": "黄河-水车-2026"}))
    assert not made and typed["password"] == "黄河-水车-2026"


def test_the_list_filters_are_checked():
    assert accounts_pages.filters(MultiDict({"role": "member", "active": "false"})) == {
        "role": "member",
        "active": False,
        "q": None,
    }
    for bad in ({"role": "boss"}, {"active": "maybe"}, {"q": "x" * 101}):
        with pytest.raises(ApiError) as wrong:
            accounts_pages.filters(MultiDict(bad))
        assert set(wrong.value.fields) == set(bad)


def test_generated_passwords_are_plain_and_pass_the_rules():
    made = {generated("li") for _ in range(50)}
    assert len(made) == 50
    for password in made:
        assert password_problems(password, "li") == []
        assert len(password) == 14 and set(password.replace("-", "")) <= set(PLAIN)
