"""Secrets must be masked before an event leaves the process (tracer.instrument.redact, .api)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tracer.instrument import api as trace
from tracer.instrument.emitter import ListEmitter
from tracer.instrument.redact import MASK, is_secret_key, redact, redact_json, redact_url


def test_secret_keys_masked() -> None:
    out = redact({"auth_token": "gAAAA", "admin_password": "pw", "db_secret": "s",
                  "credential": "c", "name": "vm1"})
    assert out == {"auth_token": MASK, "admin_password": MASK, "db_secret": MASK,
                   "credential": MASK, "name": "vm1"}


def test_nested_dicts_and_lists() -> None:
    value = {"context": {"user": "demo", "_context_auth_token": "tok",
                         "service_catalog": [{"token": "t1", "url": "http://x"}]},
             "args": [{"instance": {"adminPass": "hunter2", "uuid": "u"}}]}
    out = redact(value)
    assert out["context"]["_context_auth_token"] == MASK
    assert out["context"]["service_catalog"][0] == {"token": MASK, "url": "http://x"}
    assert out["args"][0]["instance"] == {"adminPass": MASK, "uuid": "u"}
    assert value["context"]["_context_auth_token"] == "tok"  # the input is not modified


def test_url_passwords_masked() -> None:
    url = "rabbit://guest:s3cret@10.0.0.1:5672/"
    assert redact_url(url) == f"rabbit://guest:{MASK}@10.0.0.1:5672/"
    out = redact({"transport_url": url, "deep": ["mysql+pymysql://nova:pa55@db/nova"]})
    assert "s3cret" not in str(out) and "pa55" not in str(out)
    assert out["deep"][0] == f"mysql+pymysql://nova:{MASK}@db/nova"
    assert redact("http://example.org/path") == "http://example.org/path"


def test_none_is_kept_and_key_check() -> None:
    assert redact({"password": None}) == {"password": None}
    assert is_secret_key("X-Auth-Token") and not is_secret_key("host")


def test_api_redacts_before_emitting() -> None:
    sink = ListEmitter()
    trace.set_emitter(sink)
    try:
        with trace.identity("nova-api", "api"):
            with trace.span("create", attrs={"auth_token": "tk-9f8e7d",
                                             "url": "rabbit://u:pw@h/"}) as sp:
                trace.annotate("log", {"message": "x", "password": "pw"})
                sp.set_attr("nested", {"secret": "s"})
    finally:
        trace.set_emitter(None)
    text = repr(sink.events)
    assert "tk-9f8e7d" not in text and ":pw@" not in text and "'pw'" not in text
    assert sink.events[0]["attrs"]["auth_token"] == MASK
    assert sink.events[-1]["attrs"]["nested"] == {"secret": MASK}


@pytest.mark.parametrize("message", [
    # an oslo message: the secret in a top-level context key (the fast path)
    {"method": "echo", "args": {"value": "x"}, "_context_auth_token": "gAAAA",
     "_context_user_id": "u"},
    # nested secret keys, a URL with a password, a secret word only in a value
    {"method": "m", "args": {"instance": {"admin_password": "pw", "name": "vm"}},
     "_context_auth_token": "t"},
    {"method": "m", "args": {"url": "rabbit://nova:s3cr3t@broker:5672/"}},
    {"method": "m", "args": {"note": "my token is abc"}, "_context_auth_token": None},
    # a key that is secret only once case-folded beyond ASCII (KELVIN SIGN is 'k')
    {"method": "m", "args": {"to\u212aen": "hidden", "name": "caf\u00e9"}},
    # what orjson refuses (an int beyond 64 bits) and a non-string key
    {"method": "m", "args": {"big": 2 ** 70, 1: "one"}, "_context_auth_token": "t"},
    ["not", "a", "dict", {"password": "pw"}],
])
def test_redact_json_masks_what_redact_masks(message: Any) -> None:
    text = redact_json(message)
    assert json.loads(text) == json.loads(json.dumps(redact(message)))
    for secret in ("gAAAA", "pw", "s3cr3t", "hidden"):
        assert secret not in text


def test_trace_ids_do_not_repeat_when_the_global_random_is_seeded() -> None:
    """A test tool seeding ``random`` (hypothesis does) must not make trace ids collide."""
    import random

    random.seed(7)
    first = (trace.new_trace_id(), trace.new_span_id())
    random.seed(7)
    assert (trace.new_trace_id(), trace.new_span_id()) != first
