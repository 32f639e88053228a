"""RPC helpers (nova/rpc.py): every client and server gets the same serializer stack.

``RequestContextSerializer(NovaObjectSerializer())`` is what makes a RequestContext and
``nova_object.*`` primitives cross the wire; remote ``services.exception`` errors are
re-raised as ``<Class>_Remote`` because the module is allowed.
"""

from __future__ import annotations

from typing import Any

from services import messaging
from services.context import RequestContextSerializer
from services.objects.base import NovaObjectSerializer

ALLOWED_EXMODS = ["services.exception", "nova.exception"]


def get_serializer() -> RequestContextSerializer:
    return RequestContextSerializer(NovaObjectSerializer())


def get_transport(config: Any, url: str | None = None) -> Any:
    """The transport of *config* (``memory://`` tuned, see DESIGN.md's polling pitfall)."""
    url = url or config.transport_url
    kwargs: dict[str, Any] = {"allowed_remote_exmods": ALLOWED_EXMODS}
    if url.startswith("memory://"):
        kwargs["polling_interval"] = config.polling_interval
    transport = messaging.get_transport(url, control_exchange=config.control_exchange,
                                        **kwargs)
    transport.rpc_response_timeout = config.rpc_response_timeout  # calls with timeout=None
    return transport


def version_cap(config: Any, key: str, aliases: dict[str, str]) -> str | None:
    """``[upgrade_levels] <key>``: a release alias or a version; None means no cap."""
    level = (getattr(config, "upgrade_levels", None) or {}).get(key)
    return aliases.get(level, level) if level else None


def get_client(transport: Any, target: Any, version_cap: str | None = None,
               code_location: str | None = None, timeout: float | None = None) -> Any:
    return messaging.RPCClient(transport, target, version_cap=version_cap,
                               serializer=get_serializer(), timeout=timeout,
                               code_location=code_location)


def get_server(transport: Any, target: Any, endpoints: list[Any], service: str,
               host: str) -> Any:
    return messaging.get_rpc_server(transport, target, endpoints,
                                    serializer=get_serializer(), service=service, host=host)


# ---- notifications (nova/rpc.py init / get_notifier / get_versioned_notifier) ----------
_NOTIFIERS: dict[str, Any] = {}


def init_notifications(config: Any, transport: Any) -> None:
    """LEGACY_NOTIFIER and NOTIFIER as Stein's ``rpc.init`` builds them from
    ``[notifications] notification_format``: ``both`` enables both, ``unversioned`` /
    ``versioned`` only one. One pair per process; a new service start re-points them."""
    from services.messaging.notifier import Notifier

    driver = config.notification_driver
    fmt = config.notification_format
    _NOTIFIERS["legacy"] = Notifier(
        transport, driver=driver if fmt in ("both", "unversioned") else "noop",
        serializer=get_serializer(), topics=list(config.notification_topics))
    _NOTIFIERS["versioned"] = Notifier(
        transport, driver=driver if fmt in ("both", "versioned") else "noop",
        serializer=get_serializer(), topics=list(config.versioned_notifications_topics))
    _NOTIFIERS["state_change"] = config.notify_on_state_change


def _notifier(kind: str, publisher_id: str) -> Any:
    from services.messaging.notifier import Notifier

    base = _NOTIFIERS.get(kind)
    if base is None:
        return Notifier(None, publisher_id=publisher_id)  # type: ignore[arg-type]
    return base.prepare(publisher_id=publisher_id)


def get_notifier(service: str, host: str | None = None,
                 publisher_id: str | None = None) -> Any:
    """The unversioned notifier; publisher ``<service>.<host>`` (``compute.compute1``)."""
    return _notifier("legacy", publisher_id or f"{service}.{host}")


def get_versioned_notifier(publisher_id: str) -> Any:
    """The versioned notifier; publisher ``nova-<source>:<host>``."""
    return _notifier("versioned", publisher_id)


def notify_on_state_change() -> str | None:
    """``[notifications] notify_on_state_change`` of the running process."""
    value = _NOTIFIERS.get("state_change")
    return value if isinstance(value, str) and value else None
