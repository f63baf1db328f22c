"""Benchmark helpers: every figure is printed beside a baseline from the same run, and saved."""

import json
import operator
import time
from pathlib import Path

from services.kernel.config import ROOT

OUT = ROOT / "var" / "bench"
_COMPARE = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


def _shown(value) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:,.3g}"


def report(
    name: str,
    figures: dict,
    baseline: dict,
    goals: dict | None = None,
    notes: dict | None = None,
) -> dict:
    """Print ``figures`` beside ``baseline`` (same keys, measured in the same run) and their
    ratio, and whether each goal (``{key: (">=", 50000)}``) is met; write ``var/bench/<name>.json``.

    ``notes`` (sizes, settings, what the baseline is) are saved and printed as they are.
    Returns the saved record."""
    OUT.mkdir(parents=True, exist_ok=True)
    goals = goals or {}
    checked = {
        key: {"goal": f"{op} {target}", "met": _COMPARE[op](figures[key], target)}
        for key, (op, target) in goals.items()
    }
    ratios = {
        key: round(value / baseline[key], 3)
        for key, value in figures.items()
        if isinstance(value, int | float) and isinstance(baseline.get(key), int | float)
        if baseline[key]
    }
    data = {
        "benchmark": name,
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "figures": figures,
        "baseline": baseline,
        "ratio_to_baseline": ratios,
        "goals": checked,
        "notes": notes or {},
    }
    path = OUT / f"{name}.json"
    Path(path).write_text(json.dumps(data, indent=2, ensure_ascii=False))
    print(f"\n== {name} ==")
    for key, value in (notes or {}).items():
        print(f"  {key}: {value}")
    print(f"  {'figure':<34} {'value':>12} {'baseline':>12} {'ratio':>8}  goal")
    for key, value in figures.items():
        base = baseline.get(key)
        ratio = f"{ratios[key]:.2f}" if key in ratios else ""
        goal = checked.get(key)
        verdict = f"{goal['goal']}: {'met' if goal['met'] else 'NOT MET'}" if goal else ""
        shown_base = _shown(base) if base is not None else ""
        print(f"  {key:<34} {_shown(value):>12} {shown_base:>12} {ratio:>8}  {verdict}")
    print(f"  (saved to {path})")
    return data
