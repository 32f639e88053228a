"""``bootflow-conductor --workers N`` for ``bench/scale.py``, with tracing switchable per batch.

    python -m bench.scale_conductor --switch EXCHANGE [bootflow-conductor options]

Runs ``services.cmd.conductor.main`` unchanged (parse, ``launch`` → ProcessLauncher forks
the workers, each ``Service.create`` + ``start`` on the one ``conductor`` topic queue),
with two hooks installed before the fork, so each worker has them:

* ``setup_emitter``: the worker's BrokerEmitter is built as ``bootflow-conductor`` builds
  it (the config's broker, ``trace_linger``, the trace exchange), wrapped in a counter,
  but *not* installed: the worker starts untraced;
* a switch thread per worker, consuming a fanout exchange of the bench's own: a message
  ``{"seq", "trace", "reply_to"}`` installs the emitter (``trace`` true) or removes it
  and flushes it (false), then answers ``{"seq", "worker", "pid", "ready", "emitted"}``
  on ``reply_to``: the bench knows every worker switched, has started its RPC server
  (``ready``) and how many events it handed to tracing (``emitted``).

The bench switches only between batches, when nothing is in flight, so a worker is
never half traced; untraced, ``trace.set_emitter(None)`` makes tracing cost what it
costs in a service started with ``--no-trace``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import kombu  # noqa: E402

from services.cmd import common  # noqa: E402
from services.cmd import conductor as conductor_cmd  # noqa: E402
from tracer.instrument import api as trace  # noqa: E402
from tracer.instrument.broker import kombu_url  # noqa: E402

_state: dict[str, Any] = {"ready": False}


class CountingEmitter:
    """Counts the events this worker hands to tracing ('emitted' in the bench's table)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self._n = itertools.count()
        self.emitted = 0

    def __call__(self, event: dict[str, Any]) -> None:
        self.emitted = next(self._n) + 1
        self.inner(event)


def _switch_loop(url: str, exchange: str, counter: CountingEmitter) -> None:
    """Consume the bench's switch messages for the life of the worker process."""
    with kombu.Connection(kombu_url(url)) as conn:
        ex = kombu.Exchange(exchange, type="fanout", durable=False, auto_delete=True)
        q = kombu.Queue(exclusive=True, auto_delete=True, exchange=ex)
        producer = conn.Producer()

        def on_message(body: Any, message: Any) -> None:
            msg = json.loads(body) if isinstance(body, str | bytes) else dict(body)
            if msg.get("trace"):
                trace.set_emitter(counter)
            else:
                trace.set_emitter(None)
                counter.inner.flush(30)
            producer.publish({
                "seq": msg["seq"], "worker": trace.worker(), "pid": os.getpid(),
                "ready": _state["ready"], "emitted": counter.emitted},
                serializer="json", routing_key=msg["reply_to"], exchange="", retry=True)
            message.ack()

        with conn.Consumer([q], callbacks=[on_message], accept=["json"]):
            while True:
                try:
                    conn.drain_events(timeout=1)
                except TimeoutError:
                    continue


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(add_help=False)
    ap.add_argument("--switch", required=True, help="fanout exchange of the bench's switch")
    own, rest = ap.parse_known_args(argv)
    setup_emitter = common.setup_emitter
    start_rpc_service = common.start_rpc_service

    def switchable_emitter(config: Any, args: argparse.Namespace, binary: str, host: str,
                           worker: int | None = None) -> Any:
        emitter = setup_emitter(config, args, binary, host, worker)
        if emitter is None:
            raise SystemExit("scale_conductor needs a RabbitMQ transport and tracing on")
        trace.set_emitter(None)   # untraced until the bench switches it on
        counter = CountingEmitter(emitter)
        threading.Thread(target=_switch_loop, args=(config.transport_url, own.switch,
                                                    counter),
                         name="bench-switch", daemon=True).start()
        return emitter

    def start_and_mark(*a: Any, **kw: Any) -> Any:
        started = start_rpc_service(*a, **kw)
        _state["ready"] = True
        return started

    common.setup_emitter = switchable_emitter  # type: ignore[assignment]
    common.start_rpc_service = start_and_mark  # type: ignore[assignment]
    return conductor_cmd.main(rest)


if __name__ == "__main__":
    sys.exit(main())
