"""Secrets never leave a process inside a span: tokens, passwords, broker credentials."""

from __future__ import annotations

import re
from typing import Any

MASK = "***"
_SECRET_KEY = re.compile(
    r"token|password|passwd|secret|credential|auth_key|adminpass|authorization", re.I
)
_URL_PASSWORD = re.compile(
    r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:/@\s]*):(?P<pw>[^@/\s]+)@", re.I
)


def is_secret_key(key: str) -> bool:
    """True for a key whose value must be masked (``auth_token``, ``admin_password``…)."""
    return bool(_SECRET_KEY.search(key))


def redact_url(text: str) -> str:
    """Mask the password part of every ``scheme://user:password@`` in *text*."""
    return _URL_PASSWORD.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", text)


def redact(value: Any) -> Any:
    """Return a copy of *value* with secret keys masked, recursively; URLs lose passwords."""
    if isinstance(value, dict):
        return {
            k: (MASK if isinstance(k, str) and is_secret_key(k) and v is not None else redact(v))
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [redact(v) for v in value]
    if isinstance(value, str) and "://" in value:
        return redact_url(value)
    return value
