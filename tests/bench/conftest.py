"""Benchmark helpers: every figure is printed beside a baseline from the same run, and saved."""

import json
import time
from pathlib import Path

from services.kernel.config import ROOT

OUT = ROOT / "var" / "bench"


def report(name: str, figures: dict, baseline: dict) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    data = {
        "benchmark": name,
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "figures": figures,
        "baseline": baseline,
    }
    Path(OUT / f"{name}.json").write_text(json.dumps(data, indent=2, ensure_ascii=False))
    print(f"\n== {name} ==")
    for key, value in figures.items():
        base = baseline.get(key)
        ratio = f"  ratio {value / base:.2f}" if isinstance(base, int | float) and base else ""
        shown_base = f"  baseline {base:,.1f}" if isinstance(base, int | float) else ""
        shown = f"{value:,.1f}" if isinstance(value, int | float) else str(value)
        print(f"  {key:<40} {shown:>12}{shown_base}{ratio}")
    print(f"  (saved to {OUT / (name + '.json')})")
