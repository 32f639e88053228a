"""NetworkInfoAsyncWrapper (nova/network/model.py): network_info that is still coming.

Why: Stein starts the port allocation in a greenthread (``_allocate_network_async``) and
goes on preparing block devices and reading allocations; whoever first looks at the
network_info (the driver plugging VIFs) waits for it there. A thread plays the
greenthread; it keeps the trace context and the service identity of its creator.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable, Iterator
from typing import Any


class NetworkInfoAsyncWrapper(list):  # type: ignore[type-arg]
    """A list of VIFs whose items appear when the allocation finishes."""

    def __init__(self, async_method: Callable[..., list[dict[str, Any]]], *args: Any,
                 **kwargs: Any) -> None:
        super().__init__()
        self._result: list[dict[str, Any]] | None = None
        self._exc: BaseException | None = None
        self._done = threading.Event()
        ctx = contextvars.copy_context()

        def run() -> None:
            try:
                self._result = async_method(*args, **kwargs)
            except BaseException as exc:  # re-raised by wait()
                self._exc = exc
            finally:
                self._done.set()

        self._thread = threading.Thread(target=ctx.run, args=(run,), daemon=True,
                                        name="allocate-network-async")
        self._thread.start()

    def wait(self, do_raise: bool = True) -> NetworkInfoAsyncWrapper:
        """Block until the allocation is done; its error is raised here (if *do_raise*)."""
        self._done.wait()
        if self._exc is not None:
            if do_raise:
                raise self._exc
        elif self._result is not None and not super().__len__():
            super().extend(self._result)
        return self

    def __iter__(self) -> Iterator[dict[str, Any]]:
        self.wait()
        return super().__iter__()

    def __len__(self) -> int:
        self.wait()
        return super().__len__()

    def __getitem__(self, index: Any) -> Any:
        self.wait()
        return super().__getitem__(index)

    def __repr__(self) -> str:
        return repr(list(self)) if self._done.is_set() else "<NetworkInfoAsyncWrapper pending>"
