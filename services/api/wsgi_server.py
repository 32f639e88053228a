"""nova-api over HTTP: the WSGI pipeline of ``build_app`` on a threading wsgiref server.

Nova serves it with eventlet.wsgi; here the stdlib's ``wsgiref`` with one thread per
request is enough for a learner's cloud on 127.0.0.1. Each request thread emits its
spans as ``nova-api`` (the trace identity is a contextvar, not inherited by threads).
"""

from __future__ import annotations

import logging
import socketserver
import threading
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from tracer.instrument import api as trace

log = logging.getLogger("nova.api.wsgi")


class ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    """One daemon thread per request; the port is reusable at once after a stop."""

    daemon_threads = True
    allow_reuse_address = True


class _Handler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib name
        log.info("%s %s", self.address_string(), format % args)


def with_identity(app: Callable[..., Iterable[bytes]], service: str,
                  host: str) -> Callable[..., Iterable[bytes]]:
    """Wrap *app* so each request's spans come from *service*/*host*, as a new trace."""

    def wrapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        with trace.identity(service, host), trace.use(None):
            return list(app(environ, start_response))

    return wrapped


class APIServer:
    """``serve_forever`` in a thread; ``stop()`` closes the socket and waits."""

    def __init__(self, app: Callable[..., Iterable[bytes]], host: str = "127.0.0.1",
                 port: int = 8774, service: str = "nova-api", trace_host: str = "api") -> None:
        self.httpd = make_server(host, port, with_identity(app, service, trace_host),
                                 server_class=ThreadingWSGIServer, handler_class=_Handler)
        self.host, self.port = str(self.httpd.server_address[0]), int(self.httpd.server_address[1])
        self._thread: threading.Thread | None = None

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        self._thread = threading.Thread(target=self.httpd.serve_forever,
                                        kwargs={"poll_interval": 0.2},
                                        name="nova-api-http", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
