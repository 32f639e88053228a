"""Nova's exceptions that cross the wire (``nova/exception.py``).

The messaging layer re-raises a remote failure from this module as ``<Class>_Remote``.
"""

from __future__ import annotations

from typing import Any


class NovaException(Exception):
    """Base class: ``msg_fmt`` formatted with the keyword arguments, as in Nova."""

    msg_fmt = "An unknown exception occurred."
    code = 500

    def __init__(self, message: str | None = None, **kwargs: Any) -> None:
        self.kwargs = kwargs
        if not message:
            try:
                message = self.msg_fmt % kwargs
            except (KeyError, TypeError):
                message = self.msg_fmt
        self.message = message
        super().__init__(message)


class NotFound(NovaException):
    msg_fmt = "Resource could not be found."
    code = 404


class Invalid(NovaException):
    msg_fmt = "Bad request: %(reason)s"
    code = 400


class NoValidHost(NovaException):
    msg_fmt = "No valid host was found. %(reason)s"


class MaxRetriesExceeded(NoValidHost):
    msg_fmt = "Exceeded maximum number of retries. %(reason)s"


class SelectionObjectsWithOldRPCVersionNotSupported(NovaException):
    msg_fmt = ("Requests for Selection objects with alternates are not supported in "
               "select_destinations() before RPC version 4.5; version %(version)s "
               "requested.")


class RescheduledException(NovaException):
    msg_fmt = "Build of instance %(instance_uuid)s was re-scheduled: %(reason)s"


class BuildAbortException(NovaException):
    msg_fmt = "Build of instance %(instance_uuid)s aborted: %(reason)s"


class InstanceNotFound(NotFound):
    msg_fmt = "Instance %(instance_id)s could not be found."


class FlavorNotFound(NotFound):
    msg_fmt = "Flavor %(flavor_id)s could not be found."


class ImageNotFound(NotFound):
    msg_fmt = "Image %(image_id)s could not be found."


class ComputeHostNotFound(NotFound):
    msg_fmt = "Compute host %(host)s could not be found."


class ServiceNotFound(NotFound):
    msg_fmt = "Service %(service_id)s could not be found."


class ServiceBinaryExists(NovaException):
    msg_fmt = "Service with host %(host)s binary %(binary)s exists."
    code = 409


class UnexpectedTaskStateError(NovaException):
    msg_fmt = (
        "Unexpected task state: expecting %(expected)s but the actual state is %(actual)s"
    )
    code = 409


class InstanceInvalidState(Invalid):
    msg_fmt = "Instance %(instance_uuid)s in %(attr)s %(state)s. Cannot %(method)s."
    code = 409


class QuotaError(NovaException):
    """Stein's code is 413 (EC2's); the compute API answers it as 403, as Nova does."""

    msg_fmt = "Quota exceeded: code=%(code)s"
    code = 413


class MetadataLimitExceeded(QuotaError):
    msg_fmt = "Maximum number of metadata items exceeds %(allowed)d"


class TooManyInstances(QuotaError):
    msg_fmt = ("Quota exceeded for %(overs)s: Requested %(req)s,"
               " but already used %(used)s of %(allowed)s %(overs)s")


class InstanceBootTimeout(NovaException):
    msg_fmt = "Instance %(instance_uuid)s did not print its boot line in time: %(reason)s"


class VirtDriverError(NovaException):
    msg_fmt = "Virt driver failed: %(reason)s"


class ValidationError(Invalid):
    """A request body that fails its JSON schema (nova/exception.py:ValidationError)."""

    msg_fmt = "%(detail)s"


class InvalidName(Invalid):
    msg_fmt = "An invalid 'name' value was provided. The name must be: %(reason)s"


class Forbidden(NovaException):
    msg_fmt = "Forbidden"
    code = 403


class PolicyNotAuthorized(Forbidden):
    """A policy rule said no (nova/exception.py); the API answers 403 ``forbidden``."""

    msg_fmt = "Policy doesn't allow %(action)s to be performed."


class VirtualInterfaceCreateException(NovaException):
    msg_fmt = "Virtual Interface creation failed"


class ResourceProviderCreationFailed(NovaException):
    msg_fmt = "Failed to create resource provider %(name)s"


class PlacementAPIConnectFailure(NovaException):
    msg_fmt = "Unable to communicate with the Placement API: %(reason)s"
