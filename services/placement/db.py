"""Placement's own tables on its own MetaData (never mixed with Nova's databases).

The shape follows placement's ``resource_providers``, ``inventories``, ``consumers`` and
``allocations`` tables, trimmed to the columns the scheduler path needs.
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
)

metadata = MetaData()

resource_providers = Table(
    "resource_providers", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("uuid", String(36), nullable=False, unique=True),
    Column("name", String(200), nullable=False, unique=True),
    # Bumped on every inventory or allocation change: the compare-and-swap that makes
    # two concurrent claims on one provider safe, also across processes.
    Column("generation", Integer, nullable=False, default=0),
)

inventories = Table(
    "inventories", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("resource_provider_id", Integer, ForeignKey("resource_providers.id"),
           nullable=False),
    Column("resource_class", String(255), nullable=False),
    Column("total", Integer, nullable=False),
    Column("reserved", Integer, nullable=False, default=0),
    Column("min_unit", Integer, nullable=False, default=1),
    Column("max_unit", Integer, nullable=False),
    Column("step_size", Integer, nullable=False, default=1),
    Column("allocation_ratio", Float, nullable=False, default=1.0),
    UniqueConstraint("resource_provider_id", "resource_class",
                     name="uniq_inventories0resource_provider_resource_class"),
)

consumers = Table(
    "consumers", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("uuid", String(36), nullable=False, unique=True),
    Column("project_id", String(255), nullable=False),
    Column("user_id", String(255), nullable=False),
    Column("generation", Integer, nullable=False, default=0),
)

allocations = Table(
    "allocations", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("resource_provider_id", Integer, ForeignKey("resource_providers.id"),
           nullable=False),
    Column("consumer_id", String(36), nullable=False, index=True),
    Column("resource_class", String(255), nullable=False),
    Column("used", Integer, nullable=False),
)
