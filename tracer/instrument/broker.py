"""The one mapping from oslo.messaging's transport URLs to kombu's.

oslo.messaging spells RabbitMQ ``rabbit://``; kombu calls that transport ``pyamqp``.
The services' messaging layer and the trace emitter both connect through it.
"""

from __future__ import annotations


def kombu_url(url: str) -> str:
    """``rabbit://`` (or kombu's own ``amqp://``) as kombu's ``pyamqp://``; others as given."""
    for prefix in ("rabbit://", "amqp://"):
        if url.startswith(prefix):
            return "pyamqp://" + url[len(prefix):]
    return url
