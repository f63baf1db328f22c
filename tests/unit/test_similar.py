"""The duplicate scorer (services/intake/similar.py): Chinese text compared on character bigrams."""

from services.intake import similar
from tests.duplicate_set import evaluate


def test_chinese_is_compared_on_character_bigrams_not_spaces():
    assert similar.bigrams("路灯坏了") == {"路灯", "灯坏", "坏了"}
    # punctuation and spaces split runs: no bigram spans them
    assert "了晚" not in similar.bigrams("路灯坏了，晚上黑")
    # full-width digits and letters are the same as half-width ones
    assert similar.bigrams("３号楼") == similar.bigrams("3号楼")


def test_generic_words_do_not_make_two_reports_alike():
    a = "希望尽快解决小区问题"
    b = "小区问题希望尽快处理"
    assert similar.score(a, b) < similar.THRESHOLD


def test_the_same_problem_in_other_words_scores_above_the_threshold():
    a = "庆阳路188号院3号楼前面的路灯坏了一个多月了，晚上黑乎乎的"
    b = "我们188号院3号楼那儿的路灯一直不亮，已经好几个星期了"
    assert similar.score(a, b) >= similar.THRESHOLD
    # the thesaurus: 供暖 and 暖气 are one word to the scorer
    assert similar.score("11号楼供暖温度太低", "11号楼暖气温度太低") == 1.0


def test_a_different_problem_at_the_same_place_scores_below():
    noise = "南昌路小区7号楼有一家装修，周末早上七点就开始砸墙，物业说管不了。"
    parking = "南昌路小区有人把车停在消防通道上，物业贴了条也没人挪。"
    assert similar.score(noise, parking) < similar.THRESHOLD


def test_suggest_orders_by_score_and_keeps_at_most_three():
    pool = [
        {"id": "far", "text": "菜市场后巷没有路灯"},
        {"id": "near", "text": "3号楼前路灯坏了很久，晚上太黑"},
        {"id": "nearest", "text": "3号楼路灯坏了，晚上太黑"},
    ]
    found = similar.suggest("3号楼路灯坏了，晚上太黑了", pool)
    assert [c["id"] for c in found] == ["nearest", "near"]
    assert found[0]["score"] >= found[1]["score"] >= similar.THRESHOLD
    many = [{"id": i, "text": "3号楼路灯坏了"} for i in range(5)]
    assert len(similar.suggest("3号楼路灯坏了", many)) == similar.MAX_SUGGESTIONS
    assert similar.suggest("", pool) == []


def test_a_snippet_masks_numbers_a_citizen_wrote_in():
    text = "楼道灯坏了，联系我 13800001234"
    shown = similar.snippet(text)
    assert "13800001234" not in shown and shown.startswith("楼道灯坏了")
    assert len(similar.snippet("长" * 200)) == 60


def test_precision_and_recall_on_the_labelled_set_are_at_least_080():
    figures = evaluate()
    assert figures["reports"] >= 200
    assert figures["precision"] >= 0.8 and figures["recall"] >= 0.8, figures
