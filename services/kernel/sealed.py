"""Personal data sealed at rest: Fernet (AES-128-CBC + HMAC-SHA256) under keys from the environment.

``security.pii_key`` (``LIANXIN_PII_KEY``) holds one Fernet key, or several separated by commas
during a rotation: the first seals, every one opens (``MultiFernet``). Columns declared
:class:`SealedText` / :class:`SealedBytes` are sealed on write and opened on read, so no code
path can forget. The key ring is the process's: a service that holds personal data calls
:func:`configure` at start (``Keys`` does it); anything that never configured (a unit test, a
tool) gets the development key, which production refuses (``auth.check_production``).

A new key: ``python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key()
.decode())"``. Rotation is in docs/security.md.

A sealed value is not searchable (each seal of the same text differs), and a lost key loses the
data: keep the keys where the database backups are not.
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from nameko.extensions import DependencyProvider
from sqlalchemy import LargeBinary, Text
from sqlalchemy.types import TypeDecorator

from services.kernel.auth import DEV_PII_KEY

# Marks a sealed message body in a store that also holds plain ones (kernel_parked).
BODY_MARK = b"lx-sealed:"

__all__ = ["InvalidToken", "Keyring", "SealedBytes", "SealedText", "configure", "current"]


class Keyring:
    """Seals with the first key, opens with any."""

    def __init__(self, keys: list[str]):
        if not keys:
            raise ValueError("no PII key: set LIANXIN_PII_KEY")
        self.keys = list(keys)
        self._fernet = MultiFernet([Fernet(k.encode("ascii")) for k in self.keys])

    def seal(self, data: bytes) -> bytes:
        return self._fernet.encrypt(data)

    def open(self, token: bytes) -> bytes:
        """The plain bytes; raises ``InvalidToken`` when no key of the ring sealed them."""
        return self._fernet.decrypt(token)

    def reseal(self, token: bytes) -> bytes:
        """The same data sealed under the first key (for a rotation)."""
        return self._fernet.rotate(token)

    def seal_body(self, body: bytes) -> bytes:
        return BODY_MARK + self.seal(body)

    def open_body(self, stored: bytes) -> bytes:
        """A body as stored by :meth:`seal_body`, opened; a plain one as it is."""
        return self.open(stored[len(BODY_MARK) :]) if is_sealed_body(stored) else stored


def is_sealed_body(stored: bytes | None) -> bool:
    return bool(stored) and stored.startswith(BODY_MARK)


def keys_of(config: dict) -> list[str]:
    """The key ring of a (whole or flattened) deployment config, current key first."""
    value = (config.get("security") or {}).get("pii_key") or DEV_PII_KEY
    return [k.strip() for k in str(value).split(",") if k.strip()]


_current: Keyring | None = None


def configure(config: dict) -> Keyring:
    """Make ``config``'s key ring the process's."""
    global _current
    _current = Keyring(keys_of(config))
    return _current


def current() -> Keyring:
    global _current
    if _current is None:
        _current = Keyring([DEV_PII_KEY])
    return _current


class Keys(DependencyProvider):
    """Configures the process's key ring from the service's config before anything runs."""

    def setup(self):
        configure(self.container.config)

    def get_dependency(self, worker_ctx):
        return current()


class SealedText(TypeDecorator):
    """Text sealed at rest (stored as the Fernet token, ASCII)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        return current().seal(value.encode("utf-8")).decode("ascii")

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return current().open(value.encode("ascii")).decode("utf-8")


class SealedBytes(TypeDecorator):
    """Bytes sealed at rest."""

    impl = LargeBinary
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else current().seal(bytes(value))

    def process_result_value(self, value, dialect):
        return None if value is None else current().open(bytes(value))
