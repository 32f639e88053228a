"""Host weighers (``nova/weights.py`` + ``nova/scheduler/weights``).

Each weigher gives every host a raw number; the numbers are normalised to 0..1
(min-max, using the weigher's own ``minval``/``maxval`` when set) and multiplied by
the weigher's multiplier; the sums order the hosts, highest first.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from tracer.instrument import api as trace


def normalize(weight_list: Sequence[float], minval: float | None = None,
              maxval: float | None = None) -> list[float]:
    """Min-max normalise to 0..1; all-equal weights become 0 (Stein's ``normalize``)."""
    if not weight_list:
        return []
    maxval = float(max(weight_list) if maxval is None else maxval)
    minval = float(min(weight_list) if minval is None else minval)
    if minval == maxval:
        return [0.0] * len(weight_list)
    span = maxval - minval
    return [(w - minval) / span for w in weight_list]


class WeighedHost:
    """A host state and the weight it has collected so far."""

    __slots__ = ("obj", "weight")

    def __init__(self, obj: Any, weight: float) -> None:
        self.obj = obj
        self.weight = weight

    def to_dict(self) -> dict[str, Any]:
        return {"weight": self.weight, "host": self.obj.host}

    def __repr__(self) -> str:
        return f"WeighedHost [host: {self.obj!r}, weight: {self.weight}]"


class BaseHostWeigher:
    """Base class: ``_weigh_object`` gives a raw weight, higher wins."""

    STEIN_LOCATION = "nova/scheduler/weights"
    # Fixed bounds for normalisation (e.g. 0 for free RAM); None: use the observed value.
    minval: float | None = None
    maxval: float | None = None

    def __init__(self, config: Any = None) -> None:
        self.config = config

    def weight_multiplier(self, host_state: Any) -> float:
        return 1.0

    def _weigh_object(self, host_state: Any, spec_obj: Any) -> float:
        raise NotImplementedError

    def weigh_objects(self, weighed: Sequence[WeighedHost], spec_obj: Any
                      ) -> tuple[list[float], float | None, float | None]:
        """Raw weights and the (min, max) to normalise with.

        Stein stores the observed bounds on the weigher object itself, so they carry
        over between requests; here they are kept per call (see the report).
        """
        weights = [float(self._weigh_object(w.obj, spec_obj)) for w in weighed]
        minval, maxval = self.minval, self.maxval
        if weights:
            minval = min(weights) if minval is None else min(minval, *weights)
            maxval = max(weights) if maxval is None else max(maxval, *weights)
        return weights, minval, maxval


def _name(host_state: Any) -> str:
    host, node = host_state.host, getattr(host_state, "nodename", None)
    return host if not node or node == host else f"{host}/{node}"


class HostWeightHandler:
    """Applies the weighers in turn, one traced span per weigher."""

    def get_weighed_objects(self, weighers: Sequence[BaseHostWeigher], hosts: Iterable[Any],
                            spec_obj: Any) -> list[WeighedHost]:
        weighed = [WeighedHost(h, 0.0) for h in hosts]
        if len(weighed) <= 1:
            return weighed  # nothing to compare: Stein skips the weighers
        names = [_name(w.obj) for w in weighed]
        for weigher in weighers:
            cls_name = type(weigher).__name__
            with trace.span(f"weigher {cls_name}", attrs={
                    "code.location": _weigh_location(weigher),
                    "hosts": names}) as sp:
                raw, minval, maxval = weigher.weigh_objects(weighed, spec_obj)
                norm = normalize(raw, minval=minval, maxval=maxval)
                multipliers = [weigher.weight_multiplier(w.obj) for w in weighed]
                for w, n, m in zip(weighed, norm, multipliers, strict=True):
                    w.weight += m * n
                sp.set_attr("raw", dict(zip(names, raw, strict=True)))
                sp.set_attr("normalized", dict(zip(names, norm, strict=True)))
                sp.set_attr("minval", minval)
                sp.set_attr("maxval", maxval)
                if len(set(multipliers)) == 1:
                    sp.set_attr("multiplier", multipliers[0])
                else:
                    sp.set_attr("multiplier", dict(zip(names, multipliers, strict=True)))
                sp.set_attr("total_so_far", {n: w.weight for n, w in zip(names, weighed,
                                                                         strict=True)})
        return sorted(weighed, key=lambda w: w.weight, reverse=True)


def all_weighers() -> dict[str, type[BaseHostWeigher]]:
    """Every weigher class by name, in Stein's module order."""
    from services.scheduler.weights import (
        affinity,
        compute,
        cpu,
        disk,
        io_ops,
        metrics,
        pci,
        ram,
    )

    classes: dict[str, type[BaseHostWeigher]] = {}
    for module in (affinity, compute, cpu, disk, io_ops, metrics, pci, ram):
        for value in vars(module).values():
            if (isinstance(value, type) and issubclass(value, BaseHostWeigher)
                    and value is not BaseHostWeigher and not value.__name__.startswith("_")):
                classes[value.__name__] = value
    return classes


def _weigh_location(weigher: Any) -> str:
    """Where Stein defines the weigher's ``_weigh_object``: the class in the MRO that
    has it (``_SoftAffinityWeigherBase`` for the soft-affinity weigher), else
    ``nova/weights.py:BaseWeigher``."""
    for klass in type(weigher).__mro__:
        if klass is BaseHostWeigher:
            break
        if "_weigh_object" in vars(klass):
            location = getattr(klass, "STEIN_LOCATION", None)
            return f"{location}:{klass.__name__}._weigh_object"
    return "nova/weights.py:BaseWeigher._weigh_object"
