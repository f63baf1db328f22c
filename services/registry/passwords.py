"""What the registry accepts as a password (the hash itself is ``services.kernel.auth``'s)."""

from __future__ import annotations

import secrets

PASSWORD_MIN = 10
PASSWORD_MAX = 256  # a passphrase fits; a megabyte is not hashed
# Passwords people pick first; refused whatever their length.
COMMON_PASSWORDS = {
    "1234567890",
    "12345678910",
    "0123456789",
    "1111111111",
    "password123",
    "password1234",
    "qwertyuiop",
    "1q2w3e4r5t",
    "abcdefghij",
    "lianxin123",
    "lianxin1234",
    "admin12345",
    "admin123456",
}


def password_problems(password, login: str = "") -> list[str]:
    """What is wrong with ``password`` for ``login`` ('Chinese / English' each); [] if nothing."""
    if not isinstance(password, str):
        return ["必填，应为文本 / required, as a string"]
    if not password:
        return ["必填 / required"]
    if len(password) > PASSWORD_MAX:
        return [f"最多 {PASSWORD_MAX} 个字符 / at most {PASSWORD_MAX} characters"]
    problems = []
    if len(password) < PASSWORD_MIN:
        problems.append(f"至少 {PASSWORD_MIN} 个字符 / at least {PASSWORD_MIN} characters")
    if password.isdigit() or len(set(password)) < 4:
        problems.append("不能只用数字或重复字符 / not only digits or repeated characters")
    if password.lower() in COMMON_PASSWORDS or (login and login.lower() in password.lower()):
        problems.append("太容易被猜到 / too easy to guess")
    return problems


# Letters and digits that cannot be misread or misheard (no 0/O, 1/l/I): the office reads a new
# password to its holder, often over the phone.
PLAIN = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def generated(login: str = "") -> str:
    """A new random password that passes :func:`password_problems` (the office's page hands it
    out once, for a new account or a reset): three groups of four of :data:`PLAIN`
    (``xK7m-Qa3z-P9wd``, about 69 bits)."""
    while True:
        groups = ["".join(secrets.choice(PLAIN) for _ in range(4)) for _ in range(3)]
        password = "-".join(groups)
        if not password_problems(password, login):
            return password
