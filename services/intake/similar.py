"""Duplicate suggestion (是否与以下问题相同?): how alike two issue texts are, dependency-free.

Chinese has no spaces, so a text is compared as the set of its character bigrams (“路灯坏了” →
路灯, 灯坏, 坏了), after three normalisations: full-width forms and case folded (NFKC), a small
thesaurus of neighbourhood words mapped to one spelling (供暖/取暖 → 暖气, 山坡/土坡 → 边坡 …), and
words that say nothing about *which* problem it is (希望, 问题, 小区, 尽快 …) treated like
punctuation: no bigram is made of them or across them. Two texts
score the Dice coefficient of their bigram sets, 2·|A∩B| / (|A|+|B|), between 0 and 1.

The threshold (``THRESHOLD``) and the thesaurus were tuned on the labelled set in
``tests/data/duplicates.yaml``; ``tests/bench/test_duplicates_bench.py`` prints precision and
recall on it. A suggestion only ever offers: a person decides whether it is the same problem.

Usage::

    >>> round(score("3号楼前路灯坏了，晚上很黑", "3号楼路灯不亮，晚上太黑了"), 2)
    0.38
    >>> suggest("3号楼路灯不亮", [{"id": "LX1", "text": "3号楼前路灯坏了"}])[0]["id"]
    'LX1'
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

THRESHOLD = 0.16
MAX_SUGGESTIONS = 3

# One spelling for words residents use for the same thing (longest first where they overlap).
THESAURUS = (
    ("雨水管道", "排水管"),
    ("排洪管道", "排水管"),
    ("排水管道", "排水管"),
    ("雨水管", "排水管"),
    ("下水管", "下水道"),
    ("供暖", "暖气"),
    ("取暖", "暖气"),
    ("山坡", "边坡"),
    ("土坡", "边坡"),
    ("坡体", "边坡"),
    ("断电", "停电"),
    ("跳闸", "停电"),
    ("看护", "托管"),
    ("照看", "托管"),
    ("照明", "路灯"),
    ("融资", "贷款"),
    ("停车位", "车位"),
    ("室温", "温度"),
    ("不热", "温度低"),
    ("噪音", "吵"),
    ("扰民", "吵"),
    ("音响", "音箱"),
    ("渗水", "漏水"),
    ("渗漏", "漏水"),
    ("漏雨", "漏水"),
    ("故障", "坏"),
    ("停运", "坏"),
    ("外溢", "冒水"),
    ("往外冒", "冒水"),
    ("冒出来", "冒水"),
    ("溢水", "冒水"),
    ("反水", "冒水"),
    ("扬尘", "尘土"),
    ("灰尘", "尘土"),
    ("暑期", "暑假"),
    ("假期", "暑假"),
    ("容量", "增容"),
    ("落石", "掉石头"),
)

# Words every complaint has: they would make any two reports look alike.
GENERIC = frozenset(
    """希望 问题 小区 社区 请问 解决 一下 能不 不能 能不能 已经 我们 居民 反映 尽快 处理 没有 一直
    现在 有关 部门 帮忙 好几 几天 这个 那个 时候 每次 非常 特别 太大 影响 管一 一管 请有 关部 门尽
    快处 理一 建议 要求 什么 怎么 就是 还是 可是 但是 因为 所以 如果 这样 自己 大家 老人 孩子 晚上
    """.split()
)
_GENERIC_LONGEST_FIRST = sorted(GENERIC, key=len, reverse=True)

_RUNS = re.compile(r"[\u3400-\u9fff0-9a-z]+")
_DIGITS = re.compile(r"\d{5,}")


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text or "").lower()
    for word, canonical in THESAURUS:
        text = text.replace(word, canonical)
    return text


def bigrams(text: str) -> frozenset[str]:
    """The text's character bigrams, never across punctuation, spaces or generic words (a run
    of one character counts as itself)."""
    text = normalise(text)
    for word in _GENERIC_LONGEST_FIRST:
        text = text.replace(word, " ")
    grams = set()
    for run in _RUNS.findall(text):
        if len(run) == 1:
            grams.add(run)
        grams.update(run[i : i + 2] for i in range(len(run) - 1))
    return frozenset(grams)


def dice(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    return 2 * len(a & b) / (len(a) + len(b))


def score(text_a: str, text_b: str) -> float:
    """How alike two issue texts are, 0 (nothing shared) to 1 (the same bigrams)."""
    return dice(bigrams(text_a), bigrams(text_b))


def suggest(
    text: str,
    candidates: Iterable[dict],
    threshold: float = THRESHOLD,
    limit: int = MAX_SUGGESTIONS,
) -> list[dict]:
    """The candidates (dicts with ``text``) that score at least ``threshold``, best first, each
    with its ``score`` (rounded to 3 places); at most ``limit``."""
    mine = bigrams(text)
    found = []
    for c in candidates:
        s = dice(mine, bigrams(c["text"]))
        if s >= threshold:
            found.append({**c, "score": round(s, 3)})
    found.sort(key=lambda c: -c["score"])
    return found[:limit]


def snippet(text: str, length: int = 60) -> str:
    """A short, public excerpt of someone's report: long digit runs (phone numbers, ID numbers)
    are masked, since a citizen may have written theirs into the text."""
    one_line = " ".join((text or "").split())
    masked = _DIGITS.sub(lambda m: m.group()[:2] + "*" * (len(m.group()) - 2), one_line)
    return masked if len(masked) <= length else masked[: length - 1] + "…"
