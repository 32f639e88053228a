"""Schemathesis against the live nova-api (issue 11's mechanism for the REST API): every
operation of ``/v2.1/openapi.json``, with data that fits its schemas and data that does
not, gets a documented 2xx or 4xx in its documented shape: never a 5xx, never a hang.

Bounded: EXAMPLES per operation, mode and token, hypothesis derandomized; the document's
own examples (a valid boot, a multi-create, the over-quota ``min_count``) run first. Then
STATEFUL scenarios follow the document's links (create → show / reboot / delete the server
just created), so 200, 204 and 409 answers of real servers are checked too (hypothesis
picks those at random: a failure prints its reproduction). The cloud runs over RabbitMQ,
so accepted boots really are cast and built.
"""

from __future__ import annotations

import time
import warnings
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.stateful import run_state_machine_as_test
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from support.live_api import live_api

EXAMPLES = 20
STATEFUL = 8  # scenarios of up to 5 calls
TOKENS = ("fuzz:fuzz", "admin:admin")  # a project's view and the admin's
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]


def _runner(operation: Any, mode: GenerationMode, token: str, endpoint: str,
            statuses: Counter[int]) -> Callable[[], None]:
    """One hypothesis-driven run of *operation* in *mode* as *token*, counting answers."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    def run(case: schemathesis.Case) -> None:
        resp = case.call(base_url=endpoint, timeout=30, headers={"X-Auth-Token": token})
        statuses[resp.status_code] += 1
        case.validate_response(resp, checks=CHECKS)

    return run  # type: ignore[no-any-return]


def _machine(schema: Any, endpoint: str, statuses: Counter[int]) -> Any:
    """Schemathesis' state machine over the document's links, calling the live API."""

    class Workflow(schema.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, Any]:
            return {"base_url": endpoint, "timeout": 30,
                    "headers": {"X-Auth-Token": "stateful:stateful"}}

        def validate_response(self, response: Any, case: schemathesis.Case,
                              additional_checks: Any = None, **kwargs: Any) -> None:
            statuses[response.status_code] += 1
            case.validate_response(response, checks=CHECKS)

    return Workflow


def test_schemathesis_finds_no_5xx_and_no_undocumented_answer(tmp_path: Path,
                                                               rabbit_vhost_url: str) -> None:
    with live_api(tmp_path, rabbit_vhost_url) as (_, endpoint):
        schema = schemathesis.openapi.from_url(f"{endpoint}/v2.1/openapi.json", timeout=10)
        statuses: Counter[int] = Counter()
        failures: list[str] = []
        t0 = time.monotonic()
        for result in schema.get_all_operations():
            operation = result.ok()
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                for token in TOKENS:
                    run = _runner(operation, mode, token, endpoint, statuses)
                    try:
                        with warnings.catch_warnings():
                            warnings.simplefilter("ignore")
                            run()
                    except BaseException as exc:  # collect, report all
                        failures.append(f"{operation.label} {mode.value} {token}: {exc}")
        machine = _machine(schema, endpoint, statuses)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                run_state_machine_as_test(machine, settings=settings(
                    max_examples=STATEFUL, stateful_step_count=5, deadline=None,
                    database=None, suppress_health_check=list(HealthCheck)))
        except BaseException as exc:  # reported with the others
            failures.append(f"stateful: {exc}")
        elapsed = time.monotonic() - t0
    total = sum(statuses.values())
    print(f"schemathesis: {total} requests in {elapsed:.1f}s, statuses {sorted(statuses.items())}")
    assert not failures, "\n\n".join(failures)
    assert not [s for s in statuses if s >= 500]
    assert {200, 202, 400, 401, 403, 404} <= set(statuses)
    assert total >= 800  # about 1,000 stateless + the stateful scenarios
