"""oslo.messaging-compatible RPC on kombu (threads): the wire format of WIRE.md."""

from services.messaging.client import RPCClient
from services.messaging.exceptions import (
    ExpectedException,
    MessagingException,
    MessagingTimeout,
    NoSuchMethod,
    RemoteError,
    RPCVersionCapError,
    UnsupportedVersion,
    expected_exceptions,
)
from services.messaging.serializer import NoOpSerializer, Serializer
from services.messaging.server import RPCServer, get_rpc_server
from services.messaging.target import Target
from services.messaging.transport import Transport, get_transport

__all__ = [
    "ExpectedException", "MessagingException", "MessagingTimeout", "NoOpSerializer",
    "NoSuchMethod", "RPCClient", "RPCServer", "RPCVersionCapError", "RemoteError",
    "Serializer", "Target", "Transport", "UnsupportedVersion", "expected_exceptions",
    "get_rpc_server", "get_transport",
]
