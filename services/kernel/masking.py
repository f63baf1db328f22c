"""How personal data is shown where it is listed: masked, the same way in every service.

A citizen's phone and name (intake) and a member's notice address (routing) are shown whole only
through their audited or owner-only views (docs/security.md); everywhere else like this.
"""

from __future__ import annotations

import re


def mask_phone(phone: str | None) -> str | None:
    """138****1234: the first three and the last four digits; shorter numbers keep the last two."""
    if not phone:
        return phone
    digits = "".join(c for c in phone if c.isdigit())
    if len(digits) >= 8:
        return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]
    return "*" * max(len(digits) - 2, 1) + digits[-2:]


def mask_name(name: str | None) -> str | None:
    """张*: the first character only."""
    if not name:
        return name
    return name.strip()[:1] + "*"


def mask_address(address: str | None) -> str | None:
    """An e-mail address as b***@example.cn; anything else (a phone number) as :func:`mask_phone`."""
    if not address:
        return address
    if "@" in address:
        name, _, domain = address.partition("@")
        return f"{name[:1]}***@{domain}"
    return mask_phone(address)


# What a citizen may type into free text (a description, a place) that is personal data:
# an identity card number (18 digits, the last may be X; or the old 15), a mobile number
# (optionally +86, with spaces or hyphens between its groups), a landline with its area code,
# and any other run of 7 or more digits (a local number). Over-masking (a long amount, a date
# written as 20261129) is the price of never letting a number through. ``\d`` also matches
# full-width digits (１３９…), which phones' Chinese keyboards type.
# (A tracking number, LX + 14 digits, is no one's phone: it stays.)
_NOT_BEFORE = r"(?<!\d)(?<![Ll][Xx])"
_NOT_AFTER = r"(?!\d)"
_ID_NUMBER = re.compile(_NOT_BEFORE + r"(?:\d{17}[\dXx]|\d{15})" + _NOT_AFTER)
_PHONE_IN_TEXT = re.compile(
    _NOT_BEFORE
    + r"(?:(?:\+|００)?(?:86|８６)[ -]?)?"
    + r"(?:1\d{2}[ -]?\d{4}[ -]?\d{4}|0\d{2,3}[ -]?\d{7,8}|\d{7,})"
    + _NOT_AFTER
)


def mask_id_number(number: str) -> str:
    """620***********12: the first three and the last two characters of an identity number."""
    return number[:3] + "*" * max(len(number) - 5, 1) + number[-2:]


def mask_text(text: str | None) -> str | None:
    """Free text with every identity number and phone number typed into it masked
    ("我的电话13912345678" → "我的电话139****5678"); the rest as it was. Names in free text cannot
    be told from other words and stay: the citizen's own name and phone are asked for in their
    own fields (sealed in intake), and the form says so."""
    if not text:
        return text
    text = _ID_NUMBER.sub(lambda m: mask_id_number(m.group()), text)
    return _PHONE_IN_TEXT.sub(lambda m: mask_phone(m.group()), text)
