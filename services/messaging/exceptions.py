"""oslo.messaging's exception classes, with the same names and messages.

A server's failure travels as ``{"class", "module", ...}``; dispatcher errors go out as
module ``oslo_messaging.rpc.dispatcher`` (what a Stein server sends) so that a real oslo
peer and this package recognise each other's refusals.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


class MessagingException(Exception):
    """Base class of the messaging errors."""


class MessagingTimeout(MessagingException):
    """No reply (or, with call_monitor_timeout, no heartbeat) in time."""


class RemoteError(MessagingException):
    """A remote failure whose class may not be rebuilt here (module not allowed)."""

    def __init__(self, exc_type: str | None = None, value: str | None = None,
                 traceback: Any = None) -> None:
        self.exc_type = exc_type
        self.value = value
        self.traceback = traceback
        msg = f"Remote error: {exc_type} {value}\n{traceback}."
        super().__init__(msg)


class RPCVersionCapError(MessagingException):
    def __init__(self, version: str | None, version_cap: str | None) -> None:
        self.version = version
        self.version_cap = version_cap
        super().__init__(f"Requested message version, {version} is incompatible.  It needs "
                         f"to be equal in major version and less than or equal in minor "
                         f"version as the specified version cap {version_cap}.")


class RPCDispatcherError(MessagingException):
    """Base class of the errors the server's dispatcher reports to the caller."""


class NoSuchMethod(RPCDispatcherError, AttributeError):
    def __init__(self, method: str) -> None:
        super().__init__(f"Endpoint does not support RPC method {method}")
        self.method = method


class UnsupportedVersion(RPCDispatcherError):
    def __init__(self, version: str, method: str | None = None) -> None:
        msg = f"Endpoint does not support RPC version {version}"
        if method:
            msg = f"{msg}. Attempted method: {method}"
        super().__init__(msg)
        self.version = version
        self.method = method


class ExpectedException(Exception):
    """Wraps an endpoint's expected failure: sent back, logged without a traceback."""

    def __init__(self) -> None:
        self.exc_info = sys.exc_info()


def expected_exceptions(*exceptions: type[BaseException]) -> Callable[[F], F]:
    """Decorate an endpoint method whose listed failures are part of its contract."""

    def outer(func: F) -> F:
        @functools.wraps(func)
        def inner(*args: Any, **kwargs: Any) -> Any:
            try:
                return func(*args, **kwargs)
            except exceptions as e:
                raise ExpectedException() from e

        return inner  # type: ignore[return-value]

    return outer
