"""QR codes and the poster as plain functions: the target address and a well-formed A4 SVG."""

from xml.etree import ElementTree

import pytest

from services.registry import qr


def test_the_code_points_at_intakes_page_for_the_record():
    assert qr.target_url("https://lx.example.cn/", "station", "gwm") == (
        "https://lx.example.cn/q/station/gwm"
    )
    with pytest.raises(ValueError):
        qr.target_url("https://lx.example.cn", "sector", "yiyao")


def test_the_poster_is_valid_svg_even_for_names_with_markup():
    url = "https://lx.example.cn/q/member/m001"
    svg = qr.poster(url, "王<建国> & 李", ["市政协委员 · 经济界别"], "m001")
    root = ElementTree.fromstring(svg)  # raises if the name broke the XML
    assert root.get("width") == "210mm" and root.get("height") == "297mm"
    texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert "王<建国> & 李" in texts and "编号 m001" in texts and qr.INSTRUCTIONS in texts
    assert qr.png(url) == qr.png(url) and qr.svg(url) == qr.svg(url)  # same bytes every time
