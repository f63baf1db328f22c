"""The labelled duplicate set (tests/data/duplicates.yaml) and how the suggester is scored on it.

Every pair of reports the suggester would compare (same district, same category) is one case:
labelled *same* when both are in one group. Precision = pairs suggested that are the same problem
÷ pairs suggested; recall = same-problem pairs suggested ÷ same-problem pairs.
"""

from itertools import combinations
from pathlib import Path

import yaml

from services.intake import similar

DATA = Path(__file__).parent / "data" / "duplicates.yaml"
DISTRICTS = {"gwm": "城关区", "jql": "城关区", "jnl": "安宁区", "ytl": "安宁区", "sp": "永登县"}


def reports() -> list[dict]:
    """Every report of the set: group (the problem), station, district, category, text."""
    out = []
    for group in yaml.safe_load(DATA.read_text(encoding="utf-8"))["groups"]:
        for t in group["texts"]:
            text = t if isinstance(t, str) else f"{t['text']} {t.get('place', '')}".strip()
            out.append(
                {
                    "group": group["id"],
                    "station": group["station"],
                    "district": DISTRICTS[group["station"]],
                    "category": group["category"],
                    "text": text,
                }
            )
    return out


def evaluate(threshold: float = similar.THRESHOLD) -> dict:
    items = reports()
    grams = [similar.bigrams(r["text"]) for r in items]
    tp = fp = fn = tn = 0
    for i, j in combinations(range(len(items)), 2):
        a, b = items[i], items[j]
        if (a["district"], a["category"]) != (b["district"], b["category"]):
            continue  # never compared
        same = a["group"] == b["group"]
        suggested = similar.dice(grams[i], grams[j]) >= threshold
        tp += same and suggested
        fp += suggested and not same
        fn += same and not suggested
        tn += not same and not suggested
    return {
        "reports": len(items),
        "problems": len({r["group"] for r in items}),
        "pairs_compared": tp + fp + fn + tn,
        "same_pairs": tp + fn,
        "threshold": threshold,
        "precision": round(tp / (tp + fp), 4) if tp + fp else 1.0,
        "recall": round(tp / (tp + fn), 4) if tp + fn else 1.0,
    }
