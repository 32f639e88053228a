"""Engines and sessions for the API database and the cell databases.

Why a registry: one process may host several services (embedded mode) and every cell
has its own database; ``context.cell_uuid`` (set by ``target_cell``) picks the engine,
like ``nova.context.target_cell`` picks ``db_connection`` in Nova.
"""

from __future__ import annotations

import contextlib
import threading
import uuid as uuidlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Session, sessionmaker

from services.db import models

CELL0_UUID = "00000000-0000-0000-0000-000000000000"

_lock = threading.Lock()
_engines: dict[str, Engine] = {}
_state: dict[str, Any] = {"api": None, "default_cell": None, "cells": {}}


def make_engine(url: str) -> Engine:
    """SQLite file (threads share it: check_same_thread off, WAL, busy timeout) or any URL."""
    with _lock:
        if url in _engines:
            return _engines[url]
        if url.startswith("sqlite"):
            path = url.split("///", 1)[-1]
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(url, connect_args={"check_same_thread": False,
                                                      "timeout": 30})

            @event.listens_for(engine, "connect")
            def _pragmas(dbapi_conn: Any, _rec: Any) -> None:
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=NORMAL")
                cur.close()
        else:
            engine = create_engine(url, pool_pre_ping=True)
        _engines[url] = engine
        return engine


def configure(config: Any) -> None:
    """Open (and create) the API, cell0 and cell1 databases named by *config*."""
    api = make_engine(config.api_database_connection)
    models.ApiBase.metadata.create_all(api)
    cell1 = make_engine(config.database_connection)
    cell0 = make_engine(config.cell0_database_connection)
    for eng in (cell0, cell1):
        models.CellBase.metadata.create_all(eng)
    _state["api"] = api
    with Session(api) as s, s.begin():
        mappings = {m.name: m for m in s.scalars(select(models.CellMapping))}
        if "cell0" not in mappings:
            s.add(models.CellMapping(uuid=CELL0_UUID, name="cell0", transport_url="none:///",
                                     database_connection=config.cell0_database_connection))
        if "cell1" not in mappings:
            s.add(models.CellMapping(uuid=str(uuidlib.uuid4()), name="cell1",
                                     transport_url=config.transport_url,
                                     database_connection=config.database_connection))
    _state["cells"] = {}  # a new configuration replaces the previous cells entirely
    with Session(api) as s:
        for m in s.scalars(select(models.CellMapping)):
            _state["cells"][m.uuid] = make_engine(m.database_connection)
            if m.name == "cell1":
                _state["default_cell"] = m.uuid
    seed_flavors()
    # the cell engine this process uses when no cell is targeted ([database] connection)
    _state["local_cell_engine"] = cell1


def api_engine() -> Engine:
    if _state["api"] is None:
        raise RuntimeError("services.db.api.configure(config) was not called")
    return _state["api"]


def cell_engine(cell_uuid: str | None = None) -> Engine:
    if cell_uuid is None:
        eng = _state.get("local_cell_engine")
        if eng is None:
            raise RuntimeError("services.db.api.configure(config) was not called")
        return eng
    return _state["cells"][cell_uuid]


def default_cell_uuid() -> str:
    return _state["default_cell"]


@contextlib.contextmanager
def api_session() -> Iterator[Session]:
    with sessionmaker(api_engine(), expire_on_commit=False).begin() as s:
        yield s


@contextlib.contextmanager
def cell_session(ctxt: Any = None) -> Iterator[Session]:
    cell = getattr(ctxt, "cell_uuid", None)
    with sessionmaker(cell_engine(cell), expire_on_commit=False).begin() as s:
        yield s


def row_to_dict(row: Any) -> dict[str, Any]:
    """Column attributes of a row (``metadata_`` comes back as ``metadata``)."""
    out = {a.key: getattr(row, a.key) for a in sa_inspect(row).mapper.column_attrs}
    if "metadata_" in out:
        out["metadata"] = out.pop("metadata_")
    return out


# nova-manage-like defaults: the classic m1.* flavors plus the tiny real-guest one
FLAVORS = (("1", "m1.tiny", 512, 1, 1), ("2", "m1.small", 2048, 1, 20),
           ("3", "m1.medium", 4096, 2, 40), ("4", "m1.large", 8192, 4, 80),
           ("5", "m1.xlarge", 16384, 8, 160), ("42", "bootflow.guest", 128, 1, 1))


def seed_flavors() -> None:
    with api_session() as s:
        have = set(s.scalars(select(models.Flavor.name)))
        for flavorid, name, ram, vcpus, disk in FLAVORS:
            if name not in have:
                s.add(models.Flavor(flavorid=flavorid, name=name, memory_mb=ram, vcpus=vcpus,
                                    root_gb=disk, ephemeral_gb=0, swap=0, extra_specs={}))
