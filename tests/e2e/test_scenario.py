"""The Lanzhou 2024 scenario, scaled down, reproduces its ground truth exactly, driven through
the real channels (QR form, AMQP client, staff entry) and the members' own actions."""

import io

import requests

from tools import scenario


def test_the_scaled_down_scenario_reproduces_its_ground_truth(stack):
    urls = {s: stack.url(s) for s in ("registry", "intake", "routing", "reporting")}
    printed = io.StringIO()
    result = scenario.run(urls, stack.amqp_uri, stack.config(), scale=0.02, seed=7, out=printed)
    assert result["expected"] == {"reception_days": 26, "people_served": 152, "matters_handled": 12}
    assert result["actual"] == result["expected"]
    stations = requests.get(
        stack.url("registry", "/stations"), headers=stack.headers, timeout=10
    ).json()["stations"]
    assert result["registry"]["stations"] == len(stations)
    assert "兰州 2024 情景" in printed.getvalue()


def test_the_plan_is_deterministic_for_a_seed():
    a = scenario.plan(["gwm", "jnl"], scale=0.1, seed=3)
    b = scenario.plan(["gwm", "jnl"], scale=0.1, seed=3)
    assert a == b and a != scenario.plan(["gwm", "jnl"], scale=0.1, seed=4)
    full = scenario.plan([f"s{i}" for i in range(126)], scale=1.0)
    assert full.expected == {"reception_days": 1290, "people_served": 7600, "matters_handled": 613}
