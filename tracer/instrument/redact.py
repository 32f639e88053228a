"""Secrets never leave a process inside a span: tokens, passwords, broker credentials."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from tracer.instrument.events import dumps

MASK = "***"
_SECRET_KEY = re.compile(
    r"token|password|passwd|secret|credential|auth_key|adminpass|authorization", re.I
)
_SECRET_WORDS = ("token", "password", "passwd", "secret", "credential", "auth_key",
                 "adminpass", "authorization")  # _SECRET_KEY's words, lower case
_URL_PASSWORD = re.compile(
    r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:/@\s]*):(?P<pw>[^@/\s]+)@", re.I
)


_secret_keys: dict[str, bool] = {}   # key -> is secret: keys repeat, the regex need not
_SCALARS = (int, float, bool)


def is_secret_key(key: str) -> bool:
    """True for a key whose value must be masked (``auth_token``, ``admin_password``…)."""
    secret = _secret_keys.get(key)
    if secret is None:
        secret = bool(_SECRET_KEY.search(key))
        if len(_secret_keys) < 10_000:
            _secret_keys[key] = secret
    return secret


def redact_url(text: str) -> str:
    """Mask the password part of every ``scheme://user:password@`` in *text*."""
    return _URL_PASSWORD.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", text)


def redact(value: Any) -> Any:
    """Return a copy of *value* with secret keys masked, recursively; URLs lose passwords."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if v is None or type(v) in _SCALARS:
                out[k] = MASK if v is not None and isinstance(k, str) and is_secret_key(k) \
                    else v
            elif isinstance(k, str) and is_secret_key(k):
                out[k] = MASK
            elif type(v) is str:
                out[k] = redact_url(v) if "://" in v else v
            else:
                out[k] = redact(v)
        return out
    if isinstance(value, (list, tuple)):
        return [redact(v) for v in value]
    if isinstance(value, str) and "://" in value:
        return redact_url(value)
    return value


def _secret_words(text: str) -> int:
    """How many secret-looking words *text* holds (per word, so counts add up)."""
    low = text.lower()
    return sum(low.count(w) for w in _SECRET_WORDS)


def redact_json(value: Any, default: Callable[[Any], Any] = str) -> str:
    """JSON text of ``redact(value)``, cheaper for a message dict.

    An oslo message carries its secrets in top-level keys (``_context_auth_token``…):
    those are masked in a shallow copy that is dumped once. The full recursive walk runs
    only if the dumped text holds a secret-looking word outside those key names (a
    nested secret key, or such a word in any value), a URL, or any non-ASCII character
    (in plain ASCII ``str.lower`` folds case as the key regex does; JSON escaping adds
    no letters, ``:``, ``/`` or ``@``, so nothing can hide).
    """
    if type(value) is not dict:
        return dumps(redact(value), default)
    masked: dict[str, Any] | None = None
    expected = 0
    for k, v in value.items():
        if isinstance(k, str) and is_secret_key(k):
            if not (k.isascii() and k.isprintable()) or '"' in k or "\\" in k:
                return dumps(redact(value), default)
            expected += _secret_words(k)
            if v is not None:
                if masked is None:
                    masked = dict(value)
                masked[k] = MASK
    text = dumps(value if masked is None else masked, default)
    if "://" not in text and text.isascii() and _secret_words(text) == expected:
        return text
    return dumps(redact(value), default)
