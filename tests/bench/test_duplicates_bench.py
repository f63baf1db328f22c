"""Duplicate suggestion quality (issue #10): precision and recall (in %) of the suggester at its
threshold on the labelled set (tests/data/duplicates.yaml, 200+ Chinese reports of Lanzhou
neighbourhood problems), beside plain character-bigram Dice (no thesaurus, no generic-bigram
list) at the same threshold as the baseline, and a sweep of thresholds around it."""

from itertools import combinations

from services.intake import similar
from tests.bench.conftest import report
from tests.duplicate_set import evaluate, reports


def plain_dice(threshold: float) -> dict:
    """The baseline: raw bigram sets of the raw text."""
    items = reports()

    def grams(text):
        return {text[i : i + 2] for i in range(len(text) - 1)}

    g = [grams(r["text"]) for r in items]
    tp = fp = fn = 0
    for i, j in combinations(range(len(items)), 2):
        a, b = items[i], items[j]
        if (a["district"], a["category"]) != (b["district"], b["category"]):
            continue
        same = a["group"] == b["group"]
        suggested = 2 * len(g[i] & g[j]) / (len(g[i]) + len(g[j])) >= threshold
        tp += same and suggested
        fp += suggested and not same
        fn += same and not suggested
    return {"precision": round(tp / (tp + fp), 4), "recall": round(tp / (tp + fn), 4)}


def pct(x: float) -> float:
    """As a percentage: the report prints one decimal."""
    return round(100 * x, 1)


def test_duplicate_suggestion_precision_and_recall():
    at = evaluate()
    figures = {
        "reports": at["reports"],
        "problems": at["problems"],
        "pairs_compared": at["pairs_compared"],
        "same_problem_pairs": at["same_pairs"],
        "threshold_pct": pct(at["threshold"]),
        "precision_pct": pct(at["precision"]),
        "recall_pct": pct(at["recall"]),
        "f1_pct": pct(2 * at["precision"] * at["recall"] / (at["precision"] + at["recall"])),
    }
    for t in (0.12, 0.14, 0.18, 0.20):
        swept = evaluate(t)
        figures[f"precision_pct@{t:.2f}"] = pct(swept["precision"])
        figures[f"recall_pct@{t:.2f}"] = pct(swept["recall"])
    baseline = plain_dice(similar.THRESHOLD)
    report(
        "duplicates",
        figures,
        {"precision_pct": pct(baseline["precision"]), "recall_pct": pct(baseline["recall"])},
    )
    assert at["reports"] >= 200
