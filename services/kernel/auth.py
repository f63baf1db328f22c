"""Who is asking, and may they: signed session tokens, roles, CSRF tokens, password hashes.

Accounts live in the registry (it owns people and places); signing in there issues a session
token signed with the deployment's ``security.secret_key`` (HMAC-SHA256). Every service checks
the token itself with the same key, so no request waits on an RPC to learn who is asking. A
token carries the account's role and scope (its member code, its stations, its studios) and an
expiry; it is sent as the ``lx_session`` cookie (pages) or ``Authorization: Bearer`` (APIs).
A change of role takes effect at the next sign-in; tokens live ``security.session_hours``.

Roles: ``office`` (the CPPCC office: everything), ``station_admin`` (its own stations),
``studio_admin`` (its own studios), ``member`` (its own cases and activities).

Public forms (the QR form, the status page) carry a CSRF token: a random cookie and, in the
form, its HMAC under the secret key (double submit, signed); a cross-site page can make the
browser send the cookie but cannot read it to forge the field.

Every ``@http`` entrypoint carries :func:`guard` (signed in, in one of the roles; the handler
checks scope through :func:`current`) or :func:`public` (open on purpose); tests/e2e/test_access.py
fails for a route that has neither or that answers without a session.

Passwords are stored as scrypt hashes (``hashlib.scrypt``: memory-hard, in the standard library).

A deployment with ``security.environment: production`` refuses to start while any secret still
has its development default (:func:`check_production`).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import ipaddress
import json
import secrets
import socket
import time
from dataclasses import dataclass, field
from html import escape
from urllib.parse import quote, urlsplit

from werkzeug.wrappers import Response

from services.kernel.http import ApiError, answering

ROLES = ("office", "station_admin", "studio_admin", "member")
ROLE_NAMES = {
    "office": ("政协办公室", "CPPCC office"),
    "station_admin": ("工作站管理员", "station admin"),
    "studio_admin": ("工作室管理员", "studio admin"),
    "member": ("委员", "member"),
}
SESSION_COOKIE = "lx_session"
CSRF_COOKIE = "lx_csrf"
CSRF_FIELD = "csrf_token"

# The values deploy/config/local.yaml falls back to when the environment sets nothing: fine on a
# developer's machine, refused in production. Keep in step with local.yaml.
DEV_SECRET_KEY = "dev-only-secret-key-change-me-in-production"
DEV_PII_KEY = "ZGV2LW9ubHktcGlpLWtleS1jaGFuZ2UtbWUtbm93ISE="  # = sealed.DEV_PII_KEY
DEV_OPEN311_KEY = "lianxin-demo-key"
DEV_DEFAULTS = {
    ("security", "secret_key"): DEV_SECRET_KEY,
    ("security", "pii_key"): DEV_PII_KEY,
    ("services", "intake", "open311_api_keys"): DEV_OPEN311_KEY,
}
# Settings only some services read: the others need not hold them (least privilege).
USED_BY = {
    ("security", "pii_key"): {"intake"},
    ("services", "intake", "open311_api_keys"): {"intake"},
}
# Settings that may be left empty (the feature is then off); the others must be set.
MAY_BE_EMPTY = {("services", "intake", "open311_api_keys")}


class ConfigError(RuntimeError):
    """The deployment configuration is not fit to run."""


# --- signed values ---------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: str, purpose: str, body: str) -> str:
    digest = hmac.new(key.encode("utf-8"), f"{purpose}\n{body}".encode(), hashlib.sha256)
    return _b64(digest.digest())


def sign(payload: dict, key: str, purpose: str = "session") -> str:
    """``payload`` as a URL-safe string only the holder of ``key`` can have made."""
    body = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode("utf-8"))
    return f"{body}.{_mac(key, purpose, body)}"


def unsign(token: str, key: str, purpose: str = "session") -> dict | None:
    """The payload of a token made by :func:`sign` with the same key and purpose, else None."""
    if not token or token.count(".") != 1:
        return None
    body, mac = token.split(".")
    if not hmac.compare_digest(mac, _mac(key, purpose, body)):
        return None
    try:
        payload = json.loads(_unb64(body))
    except ValueError:
        return None
    return payload if isinstance(payload, dict) else None


# --- principals ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Principal:
    """A signed-in account: who, in which role, over what."""

    account: str
    role: str
    name: str = ""
    member: str | None = None  # the member code, for role member
    stations: frozenset[str] = field(default_factory=frozenset)
    studios: frozenset[str] = field(default_factory=frozenset)
    expires: int = 0  # unix seconds
    issued_ms: int = 0  # unix milliseconds; 0 in a token made before it was kept

    @property
    def is_office(self) -> bool:
        return self.role == "office"

    def may_station(self, code: str | None) -> bool:
        return self.is_office or (self.role == "station_admin" and code in self.stations)

    def may_studio(self, code: str | None) -> bool:
        return self.is_office or (self.role == "studio_admin" and code in self.studios)

    def may_member(self, code: str | None) -> bool:
        """The member's own things: the member, or the office."""
        return self.is_office or (
            self.role == "member" and code is not None and code == self.member
        )

    def to_payload(self) -> dict:
        return {
            "sub": self.account,
            "role": self.role,
            "name": self.name,
            "member": self.member,
            "stations": sorted(self.stations),
            "studios": sorted(self.studios),
            "exp": self.expires,
            "iat_ms": self.issued_ms,
        }

    @classmethod
    def from_payload(cls, data: dict) -> Principal | None:
        try:
            principal = cls(
                account=str(data["sub"]),
                role=str(data["role"]),
                name=str(data.get("name") or ""),
                member=data.get("member"),
                stations=frozenset(data.get("stations") or ()),
                studios=frozenset(data.get("studios") or ()),
                expires=int(data["exp"]),
                issued_ms=int(data.get("iat_ms") or 0),
            )
        except (KeyError, TypeError, ValueError):
            return None
        return principal if principal.role in ROLES else None


def security(config: dict) -> dict:
    """The ``security`` section of a (flattened or whole) deployment config."""
    return config.get("security") or {}


def secret_key(config: dict) -> str:
    return str(security(config).get("secret_key") or DEV_SECRET_KEY)


def session_seconds(config: dict) -> int:
    return int(float(security(config).get("session_hours") or 8) * 3600)


def issue_token(principal: Principal, config: dict, now: float | None = None) -> str:
    """A session token for ``principal``, valid for the configured session length."""
    now = time.time() if now is None else now
    payload = principal.to_payload() | {
        "exp": int(now) + session_seconds(config),
        "iat_ms": int(now * 1000),  # when, to the millisecond: kernel/sessions.py compares it
    }
    return sign(payload, secret_key(config), "session")


def read_token(token: str, config: dict, now: float | None = None) -> Principal | None:
    """The principal of a valid, unexpired token; None for anything else."""
    payload = unsign(token, secret_key(config), "session")
    principal = Principal.from_payload(payload) if payload else None
    now = time.time() if now is None else now
    if principal is None or principal.expires < now:
        return None
    return principal


def principal(request, config: dict) -> Principal | None:
    """Who sent ``request``: the bearer token, else the session cookie; None if nobody valid."""
    header = request.headers.get("Authorization", "")
    token = header[7:].strip() if header[:7].lower() == "bearer " else ""
    token = token or request.cookies.get(SESSION_COOKIE, "")
    return read_token(token, config) if token else None


def not_signed_in() -> ApiError:
    return ApiError("not_signed_in", "请先登录", "sign in first", status=401)


def forbidden() -> ApiError:
    return ApiError("forbidden", "无权访问", "not allowed", status=403)


def require(request, config: dict, *roles: str) -> Principal:
    """The signed-in principal, if its role is one of ``roles`` (any role when none are given).

    Raises 401 when nobody (valid) is signed in, 403 when the role does not fit. Scope checks
    (which station, which member) are the caller's: ``p.may_station(code)`` and friends, then
    :func:`forbidden`.
    """
    who = principal(request, config)
    if who is None:
        raise not_signed_in()
    if roles and who.role not in roles:
        raise forbidden()
    return who


# --- guarding HTTP entrypoints ----------------------------------------------------------------

PRINCIPAL_ENVIRON = "lianxin.principal"
UNSAFE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


def guard(*roles: str, page: bool = False, max_body: int | None = None):
    """Decorator for an ``@http`` entrypoint: only a signed-in principal in one of ``roles`` (any
    role when none are given) gets through; :func:`current` gives the handler who it is.

    Put it under ``@http``. The request passes the kernel's input layer
    (:func:`services.kernel.http.answering`: the body capped at ``max_body`` bytes, by default
    ``http.MAX_BODY_BYTES``) and what a client got wrong (an :class:`ApiError` such as
    ``forbidden()`` after a scope check, a marshmallow ``ValidationError``, a bad integer from
    :func:`~services.kernel.http.int_arg`) leaves in the one error format; entrypoints write no
    ``try/except`` for it. For a ``page`` the refusals are pages too: nobody signed in is sent to
    the sign-in page and back, a wrong role sees a short 403 page.

    A state-changing request that relies on the session cookie (not a Bearer header) must be JSON
    (``Content-Type: application/json``): a cross-site HTML form cannot send that without a CORS
    preflight, on top of the cookie's SameSite=Lax. A ``page``'s own form (url-encoded or
    multipart) may post instead when it carries the signed CSRF token (:func:`csrf_ok`).
    """

    def decorate(fn):
        @functools.wraps(fn)
        def checked(self, request, *args, **kwargs):
            who = require(request, self.config, *roles)
            ended = getattr(self, "ended_sessions", None)  # ServiceBase's: kernel/sessions.py
            if ended is not None:  # a session the registry ended early is refused
                ended.check(self.config, who)
            if _cookie_form_post(request) and not (page and _form_csrf_ok(request, self.config)):
                if page:  # a page's form without its token: most likely a page left open
                    raise ApiError(
                        "csrf",
                        "页面已过期，请返回、刷新后再提交",
                        "the page expired: go back, reload it and submit again",
                        status=403,
                    )
                raise ApiError(
                    "csrf",
                    "请求须为 JSON（或用 Authorization 头）",
                    "a cookie-authenticated change must be sent as JSON",
                    status=403,
                )
            request.environ[PRINCIPAL_ENVIRON] = who
            return fn(self, request, *args, **kwargs)

        wrapper = answering(checked, _page_refusal if page else None, max_body)
        wrapper.lianxin_access = roles or ROLES
        wrapper.lianxin_page = page
        return wrapper

    return decorate


def _page_refusal(err: ApiError, request, service) -> Response:
    return refusal_page(err, request, service.config)


def public(fn=None, *, max_body: int | None = None):
    """Marks an ``@http`` entrypoint as open to anybody on purpose (see docs/security.md); it
    passes the kernel's input layer as under :func:`guard` (``@public`` or
    ``@public(max_body=…)``)."""

    def decorate(fn):
        wrapper = answering(fn, max_body=max_body)
        wrapper.lianxin_access = "public"
        return wrapper

    return decorate(fn) if fn is not None else decorate


def current(request) -> Principal:
    """The principal :func:`guard` let through."""
    return request.environ[PRINCIPAL_ENVIRON]


def _cookie_form_post(request) -> bool:
    if request.method not in UNSAFE_METHODS:
        return False
    if request.headers.get("Authorization", "")[:7].lower() == "bearer ":
        return False
    return request.mimetype != "application/json"


def _form_csrf_ok(request, config: dict) -> bool:
    """A page's own form: url-encoded or multipart, with the CSRF token of its page."""
    forms = ("application/x-www-form-urlencoded", "multipart/form-data")
    return request.mimetype in forms and csrf_ok(request, config, request.form.get(CSRF_FIELD))


def public_url(config: dict, service: str) -> str:
    """Where people reach ``service`` (``public_urls.<service>``), without a trailing slash."""
    return str((config.get("public_urls") or {}).get(service) or "").rstrip("/")


def sign_in_url(config: dict, next_url: str = "") -> str:
    url = public_url(config, "registry") + "/sign-in"
    return f"{url}?next={quote(next_url, safe='')}" if next_url else url


def safe_next(value: str | None, config: dict) -> str | None:
    """``value`` if it is a path on this site (``/duty/m003``, not ``//evil`` or ``http://…``)
    or an address under one of the deployment's ``public_urls``; else None."""
    if not value:
        return None
    if value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value if not urlsplit(value).netloc else None
    for base in (config.get("public_urls") or {}).values():
        base = str(base or "").rstrip("/")
        if base and (value == base or value.startswith(base + "/")) and "\\" not in value:
            return value
    return None


def refusal_page(err: ApiError, request, config: dict) -> Response:
    """A page's answer to a refused request: sign in (303), a short 403 page, or for the
    caller's own mistake (400…) the page saying which field is wrong, with a way back."""
    if err.status == 401:
        here = request.full_path.rstrip("?")
        service = config.get("SERVICE_NAME", "")
        base = public_url(config, service)
        return Response(status=303, headers={"Location": sign_in_url(config, base + here)})
    if err.status == 403:
        way_out = (
            f'<a href="{escape(sign_in_url(config))}">换个账号登录 / sign in as someone else</a>'
        )
    else:  # the caller's mistake in the address (a bad month, say): say which, and go back
        way_out = f'<a href="{escape(request.path)}">返回 / back</a>'
    fields = "".join(
        f"<li>{escape(name)}: {escape('; '.join(map(str, messages)))}</li>"
        for name, messages in err.fields.items()
        if isinstance(messages, list | tuple)
    )
    body = (
        "<!doctype html><html lang=zh-CN><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width, initial-scale=1">'
        f'<title>{escape(err.message_zh)}</title></head><body style="font-family:sans-serif;'
        f'padding:16px"><h1 id=refused>{escape(err.message_zh)}</h1><p>{escape(err.message)}</p>'
        f"{f'<ul id=fields>{fields}</ul>' if fields else ''}<p>{way_out}</p></body></html>"
    )
    return Response(body, status=err.status, content_type="text/html; charset=utf-8")


_resolved: dict[str, tuple[float, set[str]]] = {}


def _addresses_of(entry: str) -> set[str]:
    """A host name's addresses, looked up at most once a minute (a proxy's may change)."""
    now = time.monotonic()
    cached = _resolved.get(entry)
    if cached and now - cached[0] < 60:
        return cached[1]
    try:
        found = {info[4][0] for info in socket.getaddrinfo(entry, None)}
    except OSError:
        found = set()
    _resolved[entry] = (now, found)
    return found


def is_trusted(address: str | None, trusted) -> bool:
    """Is ``address`` one of ``trusted`` (``security.trusted_proxies``: comma-separated
    addresses, networks or host names, or a list of them)?"""
    if not address or not trusted:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    entries = trusted.split(",") if isinstance(trusted, str) else trusted
    for entry in (str(e).strip() for e in entries):
        if not entry:
            continue
        try:
            if ip in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            if address in _addresses_of(entry):
                return True
    return False


def client_address(request, config: dict) -> str:
    """The caller's IP address: the socket's; behind a proxy listed in
    ``security.trusted_proxies`` (nginx), the address it forwarded for (the right-most
    ``X-Forwarded-For`` entry that is not itself a trusted proxy), never what a client claims
    on its own. Sign-in, status lookups and public submissions are throttled by it."""
    trusted = security(config).get("trusted_proxies")
    address = request.remote_addr or "unknown"
    if not is_trusted(address, trusted):
        return address
    forwarded = [a.strip() for a in request.headers.get("X-Forwarded-For", "").split(",")]
    for hop in reversed([a for a in forwarded if a]):
        if not is_trusted(hop, trusted):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return address  # a forged, malformed entry: fall back to the proxy
        address = hop
    return address


# --- CSRF (signed double submit) --------------------------------------------------------------


def csrf_pair(request, config: dict) -> tuple[str, str, bool]:
    """``(cookie value, form token, cookie is new)`` for a page that renders a form.

    Reuses the browser's ``lx_csrf`` cookie when it has one; when ``cookie is new`` the response
    must set it (HttpOnly, SameSite=Lax).
    """
    cookie = request.cookies.get(CSRF_COOKIE, "")
    new = len(cookie) < 16
    if new:
        cookie = secrets.token_urlsafe(24)
    return cookie, _mac(secret_key(config), "csrf", cookie), new


def csrf_ok(request, config: dict, token: str | None) -> bool:
    """Whether a form's token matches the browser's CSRF cookie."""
    cookie = request.cookies.get(CSRF_COOKIE, "")
    if len(cookie) < 16 or not token:
        return False
    return hmac.compare_digest(token, _mac(secret_key(config), "csrf", cookie))


# --- passwords --------------------------------------------------------------------------------

_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, dklen=32, **_SCRYPT)
    n, r, p = _SCRYPT["n"], _SCRYPT["r"], _SCRYPT["p"]
    return f"scrypt${n}${r}${p}${_b64(salt)}${_b64(digest)}"


def check_password(password: str, stored: str | None) -> bool:
    try:
        scheme, n, r, p, salt, digest = (stored or "").split("$")
        if scheme != "scrypt":
            return False
        found = hashlib.scrypt(
            password.encode("utf-8"),
            salt=_unb64(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=32,
        )
    except ValueError:
        return False
    return hmac.compare_digest(found, _unb64(digest))


# --- production -----------------------------------------------------------------------------


def insecure_settings(config: dict, service: str | None = None) -> list[str]:
    """The settings of ``config`` (whole or flattened) still at their development defaults;
    with ``service``, only those that service reads."""
    found = []
    for path, default in DEV_DEFAULTS.items():
        if service is not None and service not in USED_BY.get(path, {service}):
            continue
        value = config
        for part in path:
            value = value.get(part) if isinstance(value, dict) else None
        if value is None or str(value).strip() == "":
            if path not in MAY_BE_EMPTY:
                found.append(".".join(path))
        elif default in [v.strip() for v in str(value).split(",")]:  # a list: "new,old" keys
            found.append(".".join(path))
    return found


MIN_SECRET_CHARS = 32
"""A production ``security.secret_key`` has at least this many characters, not a repeat."""
WEAK_BROKER_PASSWORDS = {"", "guest", "lianxin", "password", "rabbitmq"}


def weak_settings(config: dict, service: str | None = None) -> list[str]:
    """Settings set, but too weak for production: a short or repetitive ``secret_key``, a
    ``pii_key`` that is not a Fernet key, a broker account that is RabbitMQ's ``guest`` or has a
    shipped or short password (``AMQP_URI``; several hosts may be listed, ``;``-separated)."""
    found = []
    key = str(security(config).get("secret_key") or "")
    if key and (len(key) < MIN_SECRET_CHARS or len(set(key)) < 8):
        found.append(
            f"security.secret_key (至少 {MIN_SECRET_CHARS} 个随机字符 / random, ≥ 32 chars)"
        )
    if service is None or service in USED_BY[("security", "pii_key")]:
        for pii in str(security(config).get("pii_key") or "").split(","):
            try:
                ok = len(base64.urlsafe_b64decode(pii.strip().encode("ascii"))) == 32
            except ValueError:
                ok = False
            if pii.strip() and not ok:
                found.append("security.pii_key (Fernet 密钥 / a Fernet key: 32 bytes, base64)")
                break
    for uri in str(config.get("AMQP_URI") or "").split(";"):
        parts = urlsplit(uri.strip())
        if parts.scheme.startswith("amqp") and (
            (parts.username or "guest") == "guest"
            or (parts.password or "") in WEAK_BROKER_PASSWORDS
            or len(parts.password or "") < 12
        ):
            found.append(
                "AMQP_URI (消息服务器账号须为专用账号和强密码 / a broker account of its "
                "own with a strong password, not guest)"
            )
            break
    return found


def check_production(config: dict, service: str | None = None) -> None:
    """In production, refuse to run with a secret left at (or missing to) its default, or too
    weak (:func:`weak_settings`); only the secrets ``service`` reads, when given."""
    if str(security(config).get("environment", "development")).lower() != "production":
        return
    bad = insecure_settings(config, service) + weak_settings(config, service)
    if bad:
        raise ConfigError(
            "生产环境不能使用默认或过弱的密钥 / production refuses default or weak secrets: "
            + ", ".join(bad)
            + " (set them in the environment, see docs/running.md)"
        )
