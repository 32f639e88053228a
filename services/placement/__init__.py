"""A compact, in-process stand-in for the Placement service (Stein's placement API 1.29).

Nova's scheduler asks Placement which compute nodes *can* hold a flavor
(``GET /allocation_candidates``) and then claims one (``PUT /allocations/{consumer}``).
Here the same REST calls are methods on :class:`PlacementClient`, each traced as an
``HTTP`` span so a learner sees the hop.
"""

from services.placement.client import PlacementClient

__all__ = ["PlacementClient"]
