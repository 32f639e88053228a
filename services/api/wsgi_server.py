"""nova-api over HTTP: the WSGI pipeline of ``build_app`` on cheroot's threaded server.

Nova serves it with eventlet.wsgi: a listen backlog of 128 and a pool of 1000 green
threads (nova/wsgi.py, ``[wsgi] default_pool_size``). Here cheroot (CherryPy's server): a
listen backlog of ``api_backlog`` (1024) and ``api_threads`` worker threads; connections
beyond the pool wait in cheroot's queue, none is refused (the stdlib's wsgiref server
listened with a backlog of 5 and reset the rest). Each request thread emits its spans as
``nova-api`` (the trace identity is a contextvar, not inherited by threads).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

from cheroot import wsgi

from tracer.instrument import api as trace

log = logging.getLogger("nova.api.wsgi")


def with_identity(app: Callable[..., Iterable[bytes]], service: str,
                  host: str) -> Callable[..., Iterable[bytes]]:
    """Wrap *app* so each request's spans come from *service*/*host*, as a new trace."""

    def wrapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        with trace.identity(service, host), trace.use(None):
            return list(app(environ, start_response))

    return wrapped


class APIServer:
    """Bound at construction (the port is known at once); ``start()`` serves in a
    thread, ``stop()`` closes the socket, lets requests in flight finish and waits."""

    def __init__(self, app: Callable[..., Iterable[bytes]], host: str = "127.0.0.1",
                 port: int = 8774, service: str = "nova-api", trace_host: str = "api",
                 threads: int = 16, backlog: int = 1024) -> None:
        self.server = wsgi.Server((host, port), with_identity(app, service, trace_host),
                                  numthreads=threads, request_queue_size=backlog,
                                  server_name="nova-api", timeout=60, shutdown_timeout=5)
        self.server.prepare()  # bind + listen now: a port in use fails here, not later
        bound = self.server.bind_addr
        self.host, self.port = str(bound[0]), int(bound[1])
        self._thread: threading.Thread | None = None

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        self._thread = threading.Thread(target=self._serve, name="nova-api-http",
                                        daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        try:
            self.server.serve()
        except Exception:  # say why the API stopped answering
            log.exception("nova-api HTTP server stopped")

    def stop(self) -> None:
        self.server.stop()
        if self._thread is not None:
            self._thread.join(timeout=10)
