"""The duty-list page shows each case's state and deadline, the right actions, and escapes all."""

from datetime import UTC, datetime, timedelta, timezone

from services.routing import pages
from services.routing.workdays import Calendar

BEIJING = timezone(timedelta(hours=8))


def case(number="LX1", status="assigned", colour="green", **kw):
    return {
        "tracking_number": number,
        "status": status,
        "status_name": "已派单",
        "colour": colour,
        "category": "health",
        "member": "m003",
        "version": 3,
        "response_due": "2026-11-30T16:00:00+00:00",
        "resolution_due": None,
        "responded_at": None,
        **kw,
    }


def test_actions_follow_the_state_and_the_version_is_sent():
    html = pages.duty_page(
        "m003",
        [
            case(),
            case(
                "LX2",
                status="responded",
                responded_at="2026-11-28T01:00:00+00:00",
                resolution_due="2026-12-02T16:00:00+00:00",
            ),
        ],
    )
    first, second = html.split('id="case-LX1"')[1].split('id="case-LX2"')
    assert 'data-version="3"' in first
    assert "data-action=accept" in first and "data-action=respond" in first
    assert "data-action=resolve" not in first and "data-action=resolve" in second
    # 00:00 of 3 December (Beijing) is the end of 2 December
    assert "12月2日（周三）下班前" in second and "12-03" not in second
    assert "医疗健康" in html and "name=viewport" in html


def test_everything_shown_is_escaped():
    html = pages.duty_page("<script>alert(1)</script>", [case("<img src=x onerror=alert(1)>")])
    assert "<script>alert(1)</script>" not in html
    assert "<img src=x" not in html and "&lt;img src=x" in html
    assert "onclick" not in html and "onerror=alert" not in html.replace(
        "&lt;img src=x onerror=alert(1)&gt;", ""
    )


def test_an_empty_list_says_so():
    assert "暂无案件" in pages.duty_page("m001", [])


# -- deadlines as a person reads them ------------------------------------------------------------


def test_a_deadline_at_midnight_is_the_end_of_the_day_before():
    due = datetime(2026, 12, 2, 0, 0, tzinfo=BEIJING)  # what Calendar.due gives
    assert pages.deadline_words(due) == ("12月1日（周二）下班前", "by the end of Tue 1 Dec")
    # the same instant in UTC (as stored and sent) reads the same
    assert pages.deadline_words("2026-12-01T16:00:00+00:00")[0] == "12月1日（周二）下班前"


def test_a_deadline_a_minute_after_midnight_is_that_day():
    due = datetime(2026, 12, 2, 0, 1, tzinfo=BEIJING)
    assert pages.deadline_words(due) == ("12月2日（周三）00:01前", "by 00:01 Wed 2 Dec")


def test_a_deadline_mid_day_is_said_with_its_time():
    due = datetime(2026, 12, 1, 6, 30, tzinfo=UTC)  # 14:30 in Beijing
    assert pages.deadline_words(due) == ("12月1日（周二）14:30前", "by 14:30 Tue 1 Dec")


def test_a_deadline_ending_a_weekend_day_is_not_said_as_after_work():
    monday = datetime(2026, 12, 7, 0, 0, tzinfo=BEIJING)  # the end of Sunday 6 December
    assert pages.deadline_words(monday) == ("12月6日（周日）24:00前", "by 24:00 Sun 6 Dec")
    friday_end = datetime(2026, 12, 5, 0, 0, tzinfo=BEIJING)  # Saturday 00:00: Friday's end
    assert pages.deadline_words(friday_end)[0] == "12月4日（周五）下班前"


def test_the_calendar_decides_make_up_days_and_holidays():
    saturday = datetime(2026, 12, 6, 0, 0, tzinfo=BEIJING)  # the end of Saturday 5 December
    make_up = Calendar(workdays=frozenset({datetime(2026, 12, 5).date()}))
    assert pages.deadline_words(saturday, make_up)[0] == "12月5日（周六）下班前"
    holiday = Calendar(holidays=frozenset({datetime(2026, 12, 1).date()}))
    tuesday_end = datetime(2026, 12, 2, 0, 0, tzinfo=BEIJING)
    assert pages.deadline_words(tuesday_end, holiday)[0] == "12月1日（周二）24:00前"


def test_no_deadline_is_a_dash():
    assert pages.deadline_words(None) == ("-", "-")


# -- the card: the citizen's words, history, every legal action ---------------------------------


def test_the_card_shows_the_citizens_words_place_channel_and_time():
    html = pages.duty_page(
        "m003",
        [
            case(
                description="楼道灯坏了，我的电话139****5678",
                place="广武门 3 号楼",
                channel="qr",
                received_at="2026-11-29T02:05:00+00:00",
            )
        ],
    )
    assert "楼道灯坏了，我的电话139****5678" in html and "广武门 3 号楼" in html
    assert "扫码" in html and "11月29日 10:05" in html


def test_an_old_case_without_words_says_so():
    assert "未附群众原话" in pages.duty_page("m003", [case()])


def test_the_full_history_is_on_the_card():
    steps = [
        {
            "action": "assign",
            "actor": "system",
            "to": "assigned",
            "note": "本站委员",
            "at": "2026-11-29T02:05:00+00:00",
        },
        {
            "action": "accept",
            "actor": "m003",
            "to": "accepted",
            "note": None,
            "at": "2026-11-29T03:00:00+00:00",
        },
    ]
    html = pages.duty_page("m003", [case(status="accepted", history=steps)])
    assert "办理记录" in html and "(2)" in html
    assert "派单" in html and "本站委员" in html and "11月29日 11:00" in html


def test_every_legal_action_of_each_status_and_none_illegal():
    for status, present, absent in (
        ("assigned", ["accept", "respond"], ["resolve"]),
        ("accepted", ["respond"], ["accept", "resolve"]),
        ("responded", ["resolve"], ["accept", "respond"]),
    ):
        html = pages.duty_page("m003", [case(status=status)])
        for action in [*present, "close_unresolved", "transfer", "merge"]:
            assert f"data-action={action}" in html, (status, action)
        for action in absent:
            assert f"data-action={action} " not in html and f"data-action={action}>" not in html
    # close unresolved takes its reason from its own required field
    html = pages.duty_page("m003", [case()])
    assert "data-action=close_unresolved data-note=reason" in html
    assert "<textarea name=reason>" in html and "办结未解决" in html


def test_the_closed_tab_lists_past_cases_without_actions():
    past = [case("LX9", status="closed_unresolved", status_name="未解决关闭")]
    html = pages.duty_page("m003", [case()], past=past, view="closed")
    assert 'id="case-LX9"' in html and 'id="case-LX1"' not in html
    assert "data-action" not in html.split("<main>")[1].split("<script>")[0]
    assert "id=tab-closed class=on" in html and "(1)" in html


def test_the_sign_out_link_goes_to_the_registrys_sign_in_page():
    url = "http://127.0.0.1:8001/sign-in?next=x"
    html = pages.duty_page("m003", [], sign_out=url)
    assert f'id=sign-out href="{url}"' in html and "退出登录" in html


def test_the_pages_call_the_service_relative_to_themselves():
    """Behind nginx the service lives under /routing/: a page's calls may not start at '/'."""
    duty = pages.duty_page("m003", [])
    station = pages.station_page("gwm", [])
    assert 'data-root=".."' in duty and 'data-root="../.."' in station  # /duty/x, /duty/station/x
    assert "fetch('/" not in pages.SCRIPT and "document.body.dataset.root" in pages.SCRIPT
