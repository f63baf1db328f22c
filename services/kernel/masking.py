"""How personal data is shown where it is listed: masked, the same way in every service.

A citizen's phone and name (intake) and a member's notice address (routing) are shown whole only
through their audited or owner-only views (docs/security.md); everywhere else like this.
"""

from __future__ import annotations


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
