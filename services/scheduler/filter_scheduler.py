"""FilterScheduler (``nova/scheduler/filter_scheduler.py`` + the placement part of
``SchedulerManager.select_destinations``).

For a request: ask placement for allocation candidates, build host states for those
compute nodes, then per instance filter -> weigh -> pick -> claim in placement ->
consume from the host state; finally add alternates from the same cell. Every step is
a traced span so the learner sees the decision, not only its result.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from typing import Any

from services import exception
from services.placement.client import PlacementClient
from services.scheduler import utils
from services.scheduler.client.report import SchedulerReportClient
from services.scheduler.host_manager import HostManager, HostState
from tracer.instrument import api as trace

STEIN_LOCATION = "nova/scheduler/filter_scheduler.py:FilterScheduler"


def _name(host: HostState) -> str:
    return host.host if host.nodename == host.host else f"{host.host}/{host.nodename}"


class FilterScheduler:
    """Scheduler that can be used for filtering and weighing."""

    USES_ALLOCATION_CANDIDATES = True

    def __init__(self, config: Any, host_manager: HostManager,
                 placement: SchedulerReportClient | PlacementClient | str | None = None
                 ) -> None:
        self.config = config
        self.host_manager = host_manager
        if getattr(host_manager, "config", None) is None and config is not None:
            host_manager.configure(config)
        if placement is None or isinstance(placement, SchedulerReportClient):
            self.placement_client = placement
        else:
            self.placement_client = SchedulerReportClient(placement)

    # -- entry point ------------------------------------------------------------------

    def select_destinations(self, context: Any, spec_obj: Any,
                            instance_uuids: list[str] | None,
                            return_alternates: bool = True,
                            candidates: tuple[Any, Any, Any] | None = None
                            ) -> list[list[dict[str, Any]]]:
        """One list per instance: [selected, alternates...] as Selection-like dicts.

        *candidates* is what SchedulerManager.select_destinations got from placement
        (``get_allocation_candidates`` below); without it (a FilterScheduler used on its
        own) placement is asked here. Raises NoValidHost when placement offers nothing or
        fewer hosts than instances pass; claims already made for this request are then
        deleted.
        """
        if candidates is None:
            candidates = self.get_allocation_candidates(context, spec_obj)
        alloc_reqs_by_rp_uuid, provider_summaries, version = candidates
        selections = self._schedule(context, spec_obj, instance_uuids, alloc_reqs_by_rp_uuid,
                                    provider_summaries, version, return_alternates)
        return selections

    def get_allocation_candidates(self, context: Any, spec_obj: Any) -> tuple[Any, Any, Any]:
        """The placement half of Stein's SchedulerManager.select_destinations:
        GET /allocation_candidates, grouped by resource provider; none → NoValidHost."""
        if self.placement_client is None or utils.request_is_rebuild(spec_obj):
            return None, None, None
        resources = utils.resources_from_request_spec(spec_obj)
        alloc_reqs, provider_summaries, version = \
            self.placement_client.get_allocation_candidates(
                context, resources, utils.conf(self.config, "max_placement_results"))
        if not alloc_reqs:
            # SchedulerManager: "Got no allocation candidates from the Placement API"
            raise exception.NoValidHost(reason="")
        alloc_reqs_by_rp_uuid: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for ar in alloc_reqs:
            for rp_uuid in ar["allocations"]:
                alloc_reqs_by_rp_uuid[rp_uuid].append(ar)
        return alloc_reqs_by_rp_uuid, provider_summaries, version

    # -- Stein's _schedule ------------------------------------------------------------

    def _schedule(self, context: Any, spec_obj: Any, instance_uuids: list[str] | None,
                  alloc_reqs_by_rp_uuid: dict[str, list[dict[str, Any]]] | None,
                  provider_summaries: dict[str, Any] | None,
                  allocation_request_version: str | None = None,
                  return_alternates: bool = False) -> list[list[dict[str, Any]]]:
        candidates = sorted(provider_summaries) if provider_summaries is not None else None
        with trace.stein_step(STEIN_LOCATION, "_schedule", qualified=True,
                              instance_uuids=list(instance_uuids or []),
                              candidates=candidates) as sp:
            hosts = self._get_all_host_states(context, spec_obj, provider_summaries)
            num_instances = len(instance_uuids) if instance_uuids else \
                int(getattr(spec_obj, "num_instances", 1) or 1)
            num_alts = int(utils.conf(self.config, "max_attempts")) - 1 \
                if return_alternates else 0
            if instance_uuids is None or alloc_reqs_by_rp_uuid is None:
                selections = self._legacy_find_hosts(context, num_instances, spec_obj, hosts,
                                                     num_alts, instance_uuids)
            else:
                selections = self._claiming_find_hosts(
                    context, spec_obj, instance_uuids, hosts, num_alts,
                    alloc_reqs_by_rp_uuid, allocation_request_version)
            sp.set_attr("selected", [s[0]["service_host"] for s in selections])
            sp.set_attr("alternates", [[a["service_host"] for a in s[1:]]
                                       for s in selections])
            return selections

    def _claiming_find_hosts(self, context: Any, spec_obj: Any, instance_uuids: list[str],
                             hosts: list[HostState], num_alts: int,
                             alloc_reqs_by_rp_uuid: dict[str, list[dict[str, Any]]],
                             version: str | None) -> list[list[dict[str, Any]]]:
        """Stein's main loop: sort, then claim on the first host placement accepts."""
        claimed_uuids: list[str] = []
        claimed_hosts: list[HostState] = []
        num = 0
        for num, instance_uuid in enumerate(instance_uuids):
            spec_obj.instance_uuid = instance_uuid
            hosts = self._get_sorted_hosts(spec_obj, hosts, num)
            if not hosts:
                break
            claimed_host = None
            for host in hosts:
                if host.uuid not in alloc_reqs_by_rp_uuid:
                    continue  # a host state without an allocation request is skipped
                alloc_req = alloc_reqs_by_rp_uuid[host.uuid][0]
                with trace.span("claim_resources", attrs={
                        "code.location": "nova/scheduler/utils.py:claim_resources",
                        "instance_uuid": instance_uuid, "host": _name(host)}) as csp:
                    ok = utils.claim_resources(context, self.placement_client, spec_obj,
                                               instance_uuid, alloc_req, version)
                    csp.set_attr("claimed", ok)
                if ok:
                    claimed_host = host
                    break
            if claimed_host is None:
                break  # "Unable to successfully claim against any host."
            claimed_uuids.append(instance_uuid)
            claimed_hosts.append(claimed_host)
            self._consume_selected_host(claimed_host, spec_obj, instance_uuid)
        self._ensure_sufficient_hosts(context, claimed_hosts, len(instance_uuids),
                                      claimed_uuids)
        return self._get_alternate_hosts(claimed_hosts, spec_obj, hosts, num, num_alts,
                                         alloc_reqs_by_rp_uuid, version)

    def _legacy_find_hosts(self, context: Any, num_instances: int, spec_obj: Any,
                           hosts: list[HostState], num_alts: int,
                           instance_uuids: list[str] | None) -> list[list[dict[str, Any]]]:
        """Without placement: pick without claiming (Stein's legacy path)."""
        selected: list[HostState] = []
        num = 0
        for num in range(num_instances):
            instance_uuid = instance_uuids[num] if instance_uuids else None
            if instance_uuid:
                spec_obj.instance_uuid = instance_uuid
            hosts = self._get_sorted_hosts(spec_obj, hosts, num)
            if not hosts:
                break
            selected.append(hosts[0])
            self._consume_selected_host(hosts[0], spec_obj, instance_uuid)
        self._ensure_sufficient_hosts(context, selected, num_instances)
        return self._get_alternate_hosts(selected, spec_obj, hosts, num, num_alts)

    def _ensure_sufficient_hosts(self, context: Any, hosts: list[HostState],
                                 required_count: int,
                                 claimed_uuids: list[str] | None = None) -> None:
        """NoValidHost unless every instance got a host; undo this request's claims."""
        if len(hosts) == required_count:
            return
        if claimed_uuids:
            assert self.placement_client is not None, "claims are made through placement"
            with trace.stein_step(STEIN_LOCATION, "_cleanup_allocations",
                                  instance_uuids=list(claimed_uuids)):
                for uuid in claimed_uuids:
                    self.placement_client.delete_allocation_for_instance(context, uuid)
        for host in hosts:
            host.updated = None
        trace.annotate("log", {"level": "DEBUG", "message":
                               f"There are {len(hosts)} hosts available but "
                               f"{required_count} instances requested to build."})
        raise exception.NoValidHost(reason="There are not enough hosts available.")

    def _consume_selected_host(self, selected_host: HostState, spec_obj: Any,
                               instance_uuid: str | None = None) -> None:
        selected_host.consume_from_request(spec_obj)
        group = getattr(spec_obj, "instance_group", None)
        if group is not None:
            group.hosts.append(selected_host.host)
            if instance_uuid and instance_uuid not in selected_host.instances:
                selected_host.instances[instance_uuid] = {"uuid": instance_uuid}

    def _get_alternate_hosts(self, selected_hosts: list[HostState], spec_obj: Any,
                             hosts: list[HostState], index: int, num_alts: int,
                             alloc_reqs_by_rp_uuid: dict[str, list[dict[str, Any]]]
                             | None = None,
                             allocation_request_version: str | None = None
                             ) -> list[list[dict[str, Any]]]:
        """Selected host plus up to num_alts unclaimed hosts from its cell."""
        if index > 0 and num_alts > 0:
            # The last _get_sorted_hosts ran before the last consume: re-sort.
            hosts = self._get_sorted_hosts(spec_obj, hosts, index)
        result = []
        for selected in selected_hosts:
            alloc_req = None
            if alloc_reqs_by_rp_uuid:
                assert selected.uuid is not None, "a placement candidate has its provider uuid"
                alloc_req = alloc_reqs_by_rp_uuid[selected.uuid][0]
            plus_alts = [self._selection(selected, alloc_req, allocation_request_version)]
            for host in hosts:
                if len(plus_alts) >= num_alts + 1:
                    break
                if host.cell_uuid != selected.cell_uuid or host in selected_hosts:
                    continue
                if alloc_reqs_by_rp_uuid is not None:
                    if host.uuid not in alloc_reqs_by_rp_uuid:
                        continue
                    plus_alts.append(self._selection(
                        host, alloc_reqs_by_rp_uuid[host.uuid][0], allocation_request_version))
                else:
                    plus_alts.append(self._selection(host))
            result.append(plus_alts)
        return result

    @staticmethod
    def _selection(host: HostState, alloc_req: dict[str, Any] | None = None,
                   version: str | None = None) -> dict[str, Any]:
        """``objects.Selection.from_host_state`` as a plain dict."""
        return {
            "service_host": host.host,
            "nodename": host.nodename,
            "compute_node_uuid": host.uuid,
            "cell_uuid": host.cell_uuid,
            "limits": dict(host.limits),
            "allocation_request": json.dumps(alloc_req) if alloc_req is not None else None,
            "allocation_request_version": version,
        }

    def _get_sorted_hosts(self, spec_obj: Any, host_states: list[HostState],
                          index: int) -> list[HostState]:
        """Filtered hosts, best weight first, the first picked from host_subset_size."""
        with trace.stein_step(STEIN_LOCATION, "_get_sorted_hosts", index=index,
                              instance_uuid=getattr(spec_obj, "instance_uuid", None),
                              hosts_in=[_name(h) for h in host_states]) as sp:
            filtered = self.host_manager.get_filtered_hosts(host_states, spec_obj, index)
            sp.set_attr("filtered", [_name(h) for h in filtered])
            if not filtered:
                sp.set_attr("chosen", None)
                return []
            weighed = self.host_manager.get_weighed_hosts(filtered, spec_obj)
            if utils.conf(self.config, "shuffle_best_same_weighed_hosts"):
                best = [w for w in weighed if w.weight == weighed[0].weight]
                random.shuffle(best)
                weighed = best + weighed[len(best):]
            sp.set_attr("weighed", [[_name(w.obj), w.weight] for w in weighed])
            ordered = [w.obj for w in weighed]
            subset_size = int(utils.conf(self.config, "host_subset_size"))
            subset = ordered[:subset_size] if subset_size < len(ordered) else ordered
            chosen = random.choice(subset)
            ordered.remove(chosen)
            sp.set_attr("chosen", _name(chosen))
            return [chosen] + ordered

    def _get_all_host_states(self, context: Any, spec_obj: Any,
                             provider_summaries: dict[str, Any] | None) -> list[HostState]:
        compute_uuids = None if provider_summaries is None else list(provider_summaries)
        return list(self.host_manager.get_host_states_by_uuids(context, compute_uuids,
                                                               spec_obj))
