"""The duty-list page shows each case's state and deadline, the right actions, and escapes all."""

from services.routing import pages


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
    assert "12-03 00:00" in second  # the resolution deadline in Beijing time
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
