"""The reducer's containers: shared with snapshots copy-on-write, forked for replay.

A snapshot must not see later writes, and a view snapshots 20 times a second, so a
container is shared (O(1)) and copied only on the first write after that. ``fork`` copies
a whole reducer state field by field without a list of fields to forget: every value is
either immutable, one of these containers (which know how to fork), or a plain
dict/list/set, copied as deep as it holds mutable things; anything else is refused.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from types import MappingProxyType
from typing import Any, overload

_MISSING = object()


class CowDict:
    """A dict shared with snapshots: copied once on the first write after sharing."""

    __slots__ = ("data", "shared", "proxy")

    def __init__(self, data: dict[Any, Any] | None = None) -> None:
        self.data: dict[Any, Any] = {} if data is None else data
        self.shared = False
        self.proxy: Mapping[Any, Any] = MappingProxyType(self.data)

    def set(self, key: Any, value: Any) -> None:
        if self.shared:
            self.data = dict(self.data)
            self.proxy = MappingProxyType(self.data)
            self.shared = False
        self.data[key] = value

    def share(self) -> Mapping[Any, Any]:
        self.shared = True
        return self.proxy

    def fork(self) -> CowDict:
        return CowDict(dict(self.data))


class ChunkedMapping(Mapping[str, Any]):
    """A read-only view of a ``Chunked`` store as it was when shared (see there)."""

    __slots__ = ("_index", "_chunks", "_len")

    def __init__(self, index: dict[str, int], chunks: tuple[dict[str, Any], ...]) -> None:
        self._index = index
        self._chunks = chunks
        self._len = sum(len(c) for c in chunks)

    def __getitem__(self, key: str) -> Any:
        no = self._index.get(key)
        if no is None or no >= len(self._chunks):
            raise KeyError(key)
        return self._chunks[no][key]

    def __contains__(self, key: object) -> bool:
        no = self._index.get(key)  # type: ignore[call-overload]
        return no is not None and no < len(self._chunks) and key in self._chunks[no]

    def values_of(self, keys: Iterable[str]) -> list[Any]:
        """The values of those *keys* it holds, in their order: one pass without a Python
        call per key (a 5,000-span trace's spans, every frame the trace changed)."""
        index, chunks, n = self._index, self._chunks, len(self._chunks)
        out = []
        for key in keys:
            no = index.get(key)
            if no is not None and no < n:
                value = chunks[no].get(key, _MISSING)
                if value is not _MISSING:
                    out.append(value)
        return out

    def __iter__(self) -> Iterator[str]:
        for chunk in self._chunks:
            yield from chunk

    def __len__(self) -> int:
        return self._len


class Chunked:
    """Values by id in chunks of ``CHUNK`` by arrival; a snapshot shares the chunks and a
    write after that copies only the one chunk it touches (recent spans, mostly), so a
    snapshot of 100,000 spans costs a few small copies instead of one big one."""

    CHUNK = 1024
    __slots__ = ("index", "chunks", "shared")

    def __init__(self) -> None:
        self.index: dict[str, int] = {}
        self.chunks: list[dict[str, Any]] = []
        self.shared: list[bool] = []

    def get(self, key: str) -> Any:
        no = self.index.get(key)
        return None if no is None else self.chunks[no].get(key)

    def __contains__(self, key: str) -> bool:
        return key in self.index

    def set(self, key: str, value: Any) -> None:
        no = self.index.get(key)
        if no is None:
            if not self.chunks or len(self.chunks[-1]) >= self.CHUNK:
                self.chunks.append({})
                self.shared.append(False)
            no = len(self.chunks) - 1
            self.index[key] = no
        if self.shared[no]:
            self.chunks[no] = dict(self.chunks[no])
            self.shared[no] = False
        self.chunks[no][key] = value

    def share(self) -> ChunkedMapping:
        self.shared = [True] * len(self.chunks)
        return ChunkedMapping(self.index, tuple(self.chunks))

    def fork(self) -> Chunked:
        new = Chunked()
        new.index = dict(self.index)
        new.chunks = list(self.chunks)
        new.shared = [True] * len(self.chunks)
        self.shared = [True] * len(self.chunks)
        return new


class Prefix(Sequence[Any]):
    """The first ``n`` items of an append-only list: what a snapshot saw of it."""

    __slots__ = ("_items", "_n")

    def __init__(self, items: list[Any], n: int) -> None:
        self._items = items
        self._n = n

    @overload
    def __getitem__(self, i: int) -> Any: ...
    @overload
    def __getitem__(self, i: slice) -> Sequence[Any]: ...

    def __getitem__(self, i: int | slice) -> Any:
        if isinstance(i, slice):
            return self._items[: self._n][i]
        if i < 0:
            i += self._n
        if not 0 <= i < self._n:
            raise IndexError(i)
        return self._items[i]

    def __len__(self) -> int:
        return self._n

    def __iter__(self) -> Iterator[Any]:
        items = self._items
        for i in range(self._n):
            yield items[i]


class AppendOnly:
    """A list that only grows: a snapshot shares it as a ``Prefix`` in O(1)."""

    __slots__ = ("items",)

    def __init__(self, items: list[Any] | None = None) -> None:
        self.items: list[Any] = [] if items is None else items

    def append(self, value: Any) -> None:
        self.items.append(value)

    def share(self) -> Sequence[Any]:
        return Prefix(self.items, len(self.items))

    def fork(self) -> AppendOnly:
        return AppendOnly(list(self.items))


_ATOMS: set[type] = {type(None), bool, int, float, str, bytes, frozenset, tuple,
                     MappingProxyType}


def _immutable(value: Any) -> bool:
    """An atom, or an instance of a frozen dataclass (the views)."""
    kind = type(value)
    return kind in _ATOMS or _immutable_type(kind)


def _all_immutable(values: Iterable[Any]) -> bool:
    """Whether every value is immutable, judged by type: the distinct types are found in
    C (``set(map(type, …))``), so a checkpoint of 100,000 span ids costs no Python call
    per id."""
    return all(kind in _ATOMS or _immutable_type(kind) for kind in set(map(type, values)))


def _immutable_type(kind: type) -> bool:
    """A frozen dataclass (remembered as an atom from then on)."""
    params = getattr(kind, "__dataclass_params__", None)
    if params is not None and params.frozen:
        _ATOMS.add(kind)
        return True
    return False


def fork(value: Any) -> Any:
    """A copy of *value* that shares nothing mutable with it (immutables are shared).

    ``MappingProxyType`` counts as immutable: the reducer hands out proxies only of dicts
    it never writes again (span attributes). A type this does not know is refused, so a
    new kind of field cannot end up shared between a replay checkpoint and the live state.
    """
    if _immutable(value):
        return value
    forker = getattr(value, "fork", None)
    if forker is not None:
        return forker()
    if isinstance(value, dict):
        if _all_immutable(value.values()):
            return dict(value)
        return {k: fork(v) for k, v in value.items()}
    if isinstance(value, list):
        if _all_immutable(value):
            return list(value)
        return [fork(v) for v in value]
    if isinstance(value, set):
        return set(value)
    raise TypeError(f"cannot fork a {type(value).__name__}: make it immutable or give it "
                    "a fork() method")
