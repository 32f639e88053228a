"""OTLP/JSON (ExportTraceServiceRequest), the body Jaeger and the OTel Collector accept.

Follows the OTLP JSON mapping, which differs from plain protobuf JSON in two places that
matter here: trace/span ids are lowercase hex (not base64) and enums are integers.
int64 values (times, intValue) are strings, as the protobuf JSON mapping requires.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from tracer.export.spans import ExportError, ExportSpan, ExportView

SPAN_KIND = {"INTERNAL": 1, "SERVER": 2, "CLIENT": 3, "PRODUCER": 4, "CONSUMER": 5,
             "HTTP": 2}  # an HTTP span is the API's server side of the request
STATUS_CODE = {"UNSET": 0, "OK": 1, "ERROR": 2}
_HEX = {32: re.compile(r"^[0-9a-f]{32}$"), 16: re.compile(r"^[0-9a-f]{16}$")}
_INT64 = (-(2**63), 2**63 - 1)


def _hex_id(value: str, width: int, what: str) -> str:
    """Ids must be hex of the right width; anything else would be rejected by a collector."""
    low = value.lower()
    if not _HEX[width].match(low) or set(low) == {"0"}:
        raise ExportError(f"{what} {value!r} is not a valid {width}-hex-digit OTLP id")
    return low


def any_value(value: Any) -> dict[str, Any]:
    """Python value → OTLP AnyValue (bool before int: bool is an int in Python)."""
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        if _INT64[0] <= value <= _INT64[1]:
            return {"intValue": str(value)}
        return {"stringValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, (list, tuple)):
        return {"arrayValue": {"values": [any_value(v) for v in value if v is not None]}}
    if isinstance(value, Mapping):
        return {"kvlistValue": {"values": attributes(value)}}
    return {"stringValue": str(value)}


def attributes(attrs: Mapping[str, Any]) -> list[dict[str, Any]]:
    """OTel attributes may not be null: a None value is left out."""
    return [{"key": str(k), "value": any_value(v)} for k, v in attrs.items() if v is not None]


def _span(span: ExportSpan) -> dict[str, Any]:
    out: dict[str, Any] = {
        "traceId": _hex_id(span.trace_id, 32, f"span {span.name!r} trace_id"),
        "spanId": _hex_id(span.span_id, 16, f"span {span.name!r} span_id"),
        "name": span.name,
        "kind": SPAN_KIND.get(span.kind, 1),
        "startTimeUnixNano": str(span.start_ns),
        "endTimeUnixNano": str(span.end_ns),
        "attributes": attributes(span.attrs),
    }
    if span.parent_id:
        out["parentSpanId"] = _hex_id(span.parent_id, 16, f"span {span.name!r} parent_id")
    if span.annotations:
        out["events"] = [
            {"timeUnixNano": str(a.ts_ns), "name": f"{a.name} {a.label()}".strip(),
             "attributes": attributes({"event.name": a.name, **a.attrs})}
            for a in span.annotations
        ]
    if span.links:
        out["links"] = [
            {"traceId": _hex_id(lk.trace_id, 32, f"link of {span.name!r}"),
             "spanId": _hex_id(lk.span_id, 16, f"link of {span.name!r}")}
            for lk in span.links
        ]
    status: dict[str, Any] = {"code": STATUS_CODE.get(span.status, 0)}
    if span.status_message:
        status["message"] = span.status_message
    out["status"] = status
    return out


def render(folded: ExportView) -> str:
    """Return the ExportTraceServiceRequest as JSON text; one resource per service+host.

    Annotations with no recorded span (heartbeats) have no place in a trace and are left out.
    """
    resource_spans = []
    for service, host in folded.endpoints():
        spans = [_span(s) for s in folded.spans if s.endpoint == (service, host)]
        if not spans:
            continue
        resource_spans.append({
            "resource": {"attributes": attributes({"service.name": service, "host.name": host})},
            "scopeSpans": [{"scope": {"name": "bootflow", "version": "1"}, "spans": spans}],
        })
    return json.dumps({"resourceSpans": resource_spans}, indent=1)
