"""ImagePropertiesFilter: the image's arch / hypervisor type / vm mode vs the host.

A host advertises ``supported_instances``: a list of ``[arch, hv_type, vm_mode]``
triples such as ``[["x86_64", "qemu", "hvm"]]`` (Stein: ComputeNode.supported_hv_specs).
The compute node dict gives it as ``supported_instances`` or ``stats["supported_instances"]``
(a list or its JSON).
"""

from __future__ import annotations

from typing import Any

from services.scheduler import utils
from services.scheduler.filters import BaseHostFilter, Rejected, reject

_ARCH_ALIASES = {"amd64": "x86_64", "x64": "x86_64", "x86_32": "i686", "i386": "i686",
                 "ia32": "i686"}
_HV_ALIASES = {"xapi": "xen"}
_VM_MODE_ALIASES = {"pv": "xen", "hv": "hvm", "baremetal": "hvm"}


def _canon(value: Any, aliases: dict[str, str]) -> str | None:
    if not value:
        return None
    value = str(value).lower()
    return aliases.get(value, value)


class ImagePropertiesFilter(BaseHostFilter):
    """Filter compute nodes that satisfy the image's architecture/hypervisor/vm mode."""

    STEIN_LOCATION = "nova/scheduler/filters/image_props_filter.py"
    RUN_ON_REBUILD = True
    run_filter_once_per_request = True

    def host_passes(self, host_state: Any, spec_obj: Any) -> bool | Rejected:
        image = getattr(spec_obj, "image", None)
        props = (getattr(image, "properties", None) or {}) if image is not None else {}
        default_arch = utils.conf(self.config, "image_properties_default_architecture")
        wanted = (_canon(props.get("hw_architecture", default_arch), _ARCH_ALIASES),
                  _canon(props.get("img_hv_type"), _HV_ALIASES),
                  _canon(props.get("hw_vm_mode"), _VM_MODE_ALIASES))
        if not any(wanted):
            return True
        supported = getattr(host_state, "supported_instances", None) or []
        if not supported:
            return reject(f"image wants {list(wanted)} but host advertises no "
                          "supported_instances")
        for triple in supported:
            if all(w is None or w in list(triple) for w in wanted):
                return True
        return reject(f"image wants {list(wanted)}; host supports {supported}")
