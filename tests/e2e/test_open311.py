"""Open311 GeoReport v2 round trip with a plain HTTP client, in JSON and in XML."""

import xml.etree.ElementTree as ET

import requests

from tests.e2e.conftest import wait_case

KEY = "lianxin-demo-key"  # the demo key of deploy/config/local.yaml


def root(stack):
    return stack.url("intake", "/open311/v2")


def test_services_and_definitions_come_from_the_catalogue(stack):
    services = requests.get(f"{root(stack)}/services.json", timeout=10).json()
    codes = [s["service_code"] for s in services]
    assert "health" in codes and all(s["type"] == "realtime" for s in services)
    definition = requests.get(f"{root(stack)}/services/health.json", timeout=10).json()
    [station] = definition["attributes"]
    assert station["code"] == "station" and station["required"] is False  # lat/long will do
    assert {"gwm", "jnl", "jql", "ytl", "sp"} <= {v["key"] for v in station["values"]}

    xml = ET.fromstring(requests.get(f"{root(stack)}/services.xml", timeout=10).content)
    assert xml.tag == "services" and "health" in [s.findtext("service_code") for s in xml]
    unknown = requests.get(f"{root(stack)}/services/nope.json", timeout=10)
    assert unknown.status_code == 404 and unknown.json()[0]["code"] == 404


def test_post_a_request_then_find_it_by_id_by_filter_and_in_xml(stack):
    report = {
        "api_key": KEY,
        "service_code": "hazard",
        "attribute[station]": "jnl",
        "address_string": "建宁路 88 号",
        "description": "井盖缺失 <b>危险</b>",
        "first_name": "伟",
        "last_name": "张",
        "phone": "13700003333",
    }
    r = requests.post(f"{root(stack)}/requests.json", data=report, timeout=30)
    assert r.status_code == 201, r.text
    [answer] = r.json()
    number = answer["service_request_id"]
    assert number.startswith("LX")
    wait_case(stack, number)

    [one] = requests.get(f"{root(stack)}/requests/{number}.json", timeout=10).json()
    assert one["service_code"] == "hazard" and one["status"] == "open"
    assert one["description"] is None  # without an api_key, no citizen's words
    [full] = requests.get(
        f"{root(stack)}/requests/{number}.json", params={"api_key": KEY}, timeout=10
    ).json()
    assert full["description"] == "井盖缺失 <b>危险</b>" and full["address"] == "建宁路 88 号"
    for answer in (one, full):
        assert "13700003333" not in str(answer) and "张" not in str(answer)

    listed = requests.get(
        f"{root(stack)}/requests.json",
        params={"service_code": "hazard", "status": "open"},
        timeout=10,
    ).json()
    assert number in [x["service_request_id"] for x in listed]
    closed = requests.get(
        f"{root(stack)}/requests.json", params={"status": "closed"}, timeout=10
    ).json()
    assert number not in [x["service_request_id"] for x in closed]

    xml = ET.fromstring(requests.get(f"{root(stack)}/requests/{number}.xml", timeout=10).content)
    assert xml.tag == "service_requests" and xml.find("request/service_request_id").text == number

    r = requests.post(
        f"{root(stack)}/requests.xml", data={**report, "api_key": "wrong"}, timeout=30
    )
    assert r.status_code == 403 and ET.fromstring(r.content).find("error/code").text == "403"
    r = requests.post(
        f"{root(stack)}/requests.json",
        data={"api_key": KEY, "service_code": "nope", "description": ""},
        timeout=30,
    )
    assert r.status_code == 400
    problem = r.json()[0]["description"]
    assert "attribute[station]" in problem and "service_code" in problem and "location" in problem


def test_a_token_gives_the_request_id(stack):
    # a token is what POST answers when the number is not made in time; any submission id works
    r = requests.post(
        f"{root(stack)}/requests.json",
        data={
            "api_key": KEY,
            "service_code": "sanitation",
            "jurisdiction_id": "ytl",
            "lat": "36.06",
            "long": "103.83",
            "description": "垃圾清运不及时",
        },
        timeout=30,
    )
    number = r.json()[0]["service_request_id"]
    listed = requests.get(
        stack.url("intake", "/submissions"), params={"limit": 20}, headers=stack.headers, timeout=10
    ).json()["submissions"]
    token = next(s["submission_id"] for s in listed if s["tracking_number"] == number)
    [found] = requests.get(f"{root(stack)}/tokens/{token}.json", timeout=10).json()
    assert found == {"token": token, "service_request_id": number}
