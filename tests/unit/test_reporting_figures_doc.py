"""The figures have one source, services/reporting/figures.yaml (package data the service reads);
the table in docs/statistics.md is generated from it and must say the same."""

from services.kernel.config import ROOT
from services.reporting.statistics import COLUMNS, KINDS, markdown_table


def test_the_statistics_page_shows_exactly_the_table_generated_from_figures_yaml():
    page = (ROOT / "docs" / "statistics.md").read_text(encoding="utf-8")
    assert markdown_table() in page, (
        "docs/statistics.md's table differs from services/reporting/figures.yaml: paste the "
        "output of `python -m services.reporting.statistics` into the page"
    )
    rows = [line for line in page.splitlines() if line.startswith("| ") and "| `" in line]
    assert len(rows) == len(COLUMNS)  # no figure described on the page that the file lacks


def test_every_figure_has_a_unique_key_both_names_a_definition_and_a_known_kind():
    assert len({f.key for f in COLUMNS}) == len(COLUMNS) >= 30
    for f in COLUMNS:
        assert f.name_zh and f.name_en and f.definition and f.kind in KINDS, f
