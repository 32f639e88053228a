"""Host filters (``nova/scheduler/filters``): each one keeps or drops hosts for a request.

``host_passes`` returns a bool, or a falsy :class:`Rejected` carrying the reason, so the
trace can tell the learner *why* a host went away, not only that it did.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tracer.instrument import api as trace


class Rejected:
    """A falsy answer from ``host_passes`` that says why the host failed."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return f"Rejected({self.reason!r})"


def reject(reason: str) -> Rejected:
    return Rejected(reason)


class BaseHostFilter:
    """Base class for host filters (Stein's ``filters.BaseHostFilter``)."""

    # Filters whose answer cannot change between the instances of one multi-create run
    # only for the first one (Stein: run_filter_once_per_request).
    run_filter_once_per_request = False
    RUN_ON_REBUILD = False

    def __init__(self, config: Any = None) -> None:
        self.config = config

    def host_passes(self, host_state: Any, spec_obj: Any) -> bool | Rejected:
        raise NotImplementedError

    def run_filter_for_index(self, index: int) -> bool:
        return not (self.run_filter_once_per_request and index > 0)

    def filter_all(self, hosts: Iterable[Any], spec_obj: Any
                   ) -> tuple[list[Any], dict[str, str]]:
        """The hosts that pass, and a reason for each one that did not."""
        passed: list[Any] = []
        reasons: dict[str, str] = {}
        for host in hosts:
            verdict = self.host_passes(host, spec_obj)
            if verdict:
                passed.append(host)
            else:
                reasons[_name(host)] = getattr(verdict, "reason", None) or "host_passes False"
        return passed, reasons


def _name(host_state: Any) -> str:
    host, node = host_state.host, getattr(host_state, "nodename", None)
    return host if not node or node == host else f"{host}/{node}"


class HostFilterHandler:
    """Runs the enabled filters in order, one traced span per filter."""

    def get_filtered_objects(self, filters: list[BaseHostFilter], hosts: Iterable[Any],
                             spec_obj: Any, index: int = 0) -> list[Any]:
        objs = list(hosts)
        for filter_ in filters:
            cls_name = type(filter_).__name__
            names_in = [_name(h) for h in objs]
            with trace.span(f"filter {cls_name}", attrs={
                    "code.location": _host_passes_location(filter_),
                    "hosts_in": names_in, "instance_index": index}) as sp:
                if not filter_.run_filter_for_index(index):
                    sp.set_attr("skipped", "run_filter_once_per_request")
                    sp.set_attr("hosts_out", names_in)
                    sp.set_attr("rejected", [])
                    continue
                objs, reasons = filter_.filter_all(objs, spec_obj)
                sp.set_attr("hosts_out", [_name(h) for h in objs])
                sp.set_attr("rejected", list(reasons))
                sp.set_attr("reasons", reasons)
            if not objs:
                break  # Stein stops at the first filter that leaves no host
        return objs


def _host_passes_location(filter_: Any) -> str:
    """Where Stein defines the filter's ``host_passes``: the class in the MRO that has
    it (``_GroupAffinityFilter`` for ServerGroupAffinityFilter), else the base class in
    ``nova/scheduler/filters/__init__.py``."""
    for klass in type(filter_).__mro__:
        if klass is BaseHostFilter:
            break
        if "host_passes" in vars(klass) and getattr(klass, "STEIN_LOCATION", None):
            location = getattr(klass, "STEIN_LOCATION", None)
            return f"{location}:{klass.__name__}.host_passes"
    return "nova/scheduler/filters/__init__.py:BaseHostFilter.host_passes"


def all_filters() -> dict[str, type[BaseHostFilter]]:
    """Every filter class by name (Stein's ``nova.scheduler.filters.all_filters``)."""
    from services.scheduler.filters import (
        affinity_filter,
        availability_zone_filter,
        compute_capabilities_filter,
        compute_filter,
        core_filter,
        disk_filter,
        image_props_filter,
        ram_filter,
        retry_filter,
    )

    classes: dict[str, type[BaseHostFilter]] = {}
    for module in (retry_filter, availability_zone_filter, compute_filter,
                   compute_capabilities_filter, image_props_filter, affinity_filter,
                   ram_filter, disk_filter, core_filter):
        for value in vars(module).values():
            if (isinstance(value, type) and issubclass(value, BaseHostFilter)
                    and not value.__name__.startswith("_") and value is not BaseHostFilter
                    and not value.__name__.startswith("Base")):
                classes[value.__name__] = value
    return classes
