"""Back-dating: an operator-only rule for replaying a past year (``make scenario``).

Everything the system records is dated *now*. A replay of a past year (the Lanzhou 2024
scenario, ``tools/scenario.py``) must date its submissions and the members' answers in that
year, so the figures count them in the months they belong to. Two things must both hold:

- the deployment setting ``security.backdating`` (``LIANXIN_BACKDATING``) is on. It is off by
  default and in every real deployment; the scenario turns it on only for the private stack it
  starts for itself;
- the request carries the office's credential: a routing action's ``at`` is taken only from an
  office session; a queued submission's ``submitted_at`` becomes its received time only when
  the message carries an office session token in the :data:`OPERATOR_HEADER` AMQP header
  (signed with the deployment's secret key, as every session token is).

A back-dated time is never before the thing it follows (a case's receipt or its last step) and
never in the future. Without the setting or the credential a routing ``at`` is a 400 field
error, and a queued submission asking for back-dating is rejected with a field error on
``submitted_at`` (never silently received now: the replay would count it in the wrong month).
docs/security.md ("Back-dating") says who may and why.
"""

from __future__ import annotations

from datetime import UTC, datetime

from services.kernel import auth
from services.kernel.http import ApiError

OPERATOR_HEADER = "lianxin-operator"  # AMQP header: an office session token
_TRUE = ("1", "true", "yes", "on")


def enabled(config: dict) -> bool:
    """Whether this deployment accepts back-dated times at all (``security.backdating``)."""
    value = auth.security(config).get("backdating")
    return value is True or str(value).strip().lower() in _TRUE


def may(config: dict, who: auth.Principal | None) -> bool:
    """Whether ``who`` may back-date here: the setting is on and ``who`` is the office."""
    return who is not None and who.is_office and enabled(config)


def operator(config: dict, headers: dict | None) -> auth.Principal | None:
    """The office account whose token a queued message carries in :data:`OPERATOR_HEADER`, if
    back-dating is on and the token is valid; else None."""
    token = (headers or {}).get(OPERATOR_HEADER)
    if not enabled(config) or not isinstance(token, str):
        return None
    who = auth.read_token(token, config)
    return who if who is not None and who.is_office else None


def refused(field: str, zh: str, en: str) -> ApiError:
    return ApiError("invalid", zh, en, fields={field: [f"{zh} / {en}"]})


def check(
    at: datetime,
    earliest: datetime,
    allowed: bool,
    field: str = "at",
    now: datetime | None = None,
) -> datetime:
    """``at`` (aware) if it may be used: ``allowed`` (:func:`may`), not before ``earliest``,
    not after now. Otherwise a 400 ``invalid`` naming ``field``."""
    now = now or datetime.now(UTC)
    if not allowed:
        raise refused(
            field,
            "本系统不接受补记过去的时间（仅限运维人员在回放环境中使用）",
            "back-dating is not allowed here (operator-only, on a replay deployment)",
        )
    if at.tzinfo is None:
        raise refused(field, "时间须带时区", "the time must carry a time zone")
    if at > now:
        raise refused(field, "时间不能晚于现在", "the time cannot be in the future")
    if at < earliest:
        raise refused(
            field,
            f"时间不能早于 {earliest.isoformat()}",
            f"the time cannot be before {earliest.isoformat()}",
        )
    return at
