"""The citizen's photos on a case card: thumbnails from intake, each a link to the whole photo.

Routing keeps only how many photos a case has (``cases.photos``, from ``intake.issue_received``);
the photos stay in intake, behind its guarded routes ``/issues/<number>/photos/<k>`` and
``…/thumb`` (the office, the case's station admin, the member who has the case). The page's
browser fetches them from intake with the same session, as it opens intake's call page.
"""

from __future__ import annotations

from html import escape
from urllib.parse import quote

BLOCK = "display:flex;gap:6px;flex-wrap:wrap;margin:6px 0"
IMAGE = "width:96px;height:96px;object-fit:cover;border-radius:6px;border:1px solid #ccc"


def thumbnails(case: dict, intake_base: str | None) -> str:
    """The photos block of a card (empty when the case has none, or intake's address is not
    known)."""
    count = int(case.get("photos") or 0)
    if not count or not intake_base:
        return ""
    number = quote(case["tracking_number"], safe="")
    links = []
    for k in range(1, count + 1):
        href = escape(f"{intake_base}/issues/{number}/photos/{k}")
        links.append(
            f'<a href="{href}" target="_blank" rel="noopener" class=photo>'
            f'<img src="{href}/thumb" style="{IMAGE}" alt="群众照片 {k} / citizen\'s photo {k}" loading="lazy"></a>'
        )
    return (
        f'<div class=photos style="{BLOCK}" aria-label="群众照片 / citizen&#39;s photos">'
        + "".join(links)
        + "</div>"
    )
