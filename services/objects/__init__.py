"""Nova's versioned objects; importing this package registers every class."""

from services.objects.base import NovaObject, NovaObjectSerializer  # noqa: F401
from services.objects.compute_node import ComputeNode, Service  # noqa: F401
from services.objects.flavor import Flavor, ImageMeta  # noqa: F401
from services.objects.instance import Instance, InstanceFault, InstanceList  # noqa: F401
from services.objects.instance_action import (  # noqa: F401
    InstanceAction,
    InstanceActionEvent,
)
from services.objects.mappings import CellMapping, HostMapping, InstanceMapping  # noqa: F401
from services.objects.request_spec import BuildRequest, RequestSpec, Selection  # noqa: F401
