"""bootflow's instrumentation API: what the services import to emit span events.

Spans and context propagation (``api``), redaction (``redact``), the event encoding
(``events``) and the emitters that ship events (``emitter``). Like OpenTelemetry's API
package it stands alone: it imports nothing else of ``tracer`` or ``services``.
"""
