"""Placement (Stein's openstack/placement, API up to 1.31): its own WSGI service.

Nova's scheduler asks placement which compute nodes *can* hold a flavor
(``GET /allocation_candidates``) and then claims one (``PUT /allocations/{consumer}``);
computes report their inventory. ``handler.PlacementApp`` is the REST API over
``objects.PlacementStore`` (placement's own database); ``client.PlacementClient`` is the
report client's HTTP side. ``bootflow-placement`` serves the app as its own process; the
embedded default runs the same app in-process.
"""

from services.placement.client import PlacementClient

__all__ = ["PlacementClient"]
