"""Flavor (API database) and ImageMeta (glance image as seen by nova)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from services import exception
from services.db import api as db
from services.db import models
from services.objects.base import NovaObject, remotable_classmethod


class Flavor(NovaObject):
    VERSION = "1.2"
    STEIN_FILE = "nova/objects/flavor.py"
    LIST_METHODS = {"get_all": ("FlavorList", "1.1")}
    fields = {"id": "int", "flavorid": "str", "name": "str", "memory_mb": "int",
              "vcpus": "int", "root_gb": "int", "ephemeral_gb": "int", "swap": "int",
              "extra_specs": "dict"}

    @remotable_classmethod
    def get_by_name(cls, context: Any, name: str) -> Flavor:
        with db.api_session() as s:
            row = s.scalars(select(models.Flavor).where(models.Flavor.name == name)).first()
            if row is None:
                raise exception.FlavorNotFound(flavor_id=name)
            return cls._from_db(context, db.row_to_dict(row))

    @remotable_classmethod
    def get_by_flavor_id(cls, context: Any, flavorid: str) -> Flavor:
        with db.api_session() as s:
            row = s.scalars(select(models.Flavor).where(
                models.Flavor.flavorid == str(flavorid))).first()
            if row is None:
                row = s.scalars(select(models.Flavor).where(
                    models.Flavor.name == str(flavorid))).first()
            if row is None:
                raise exception.FlavorNotFound(flavor_id=flavorid)
            return cls._from_db(context, db.row_to_dict(row))

    @remotable_classmethod
    def get_all(cls, context: Any) -> list[Flavor]:
        with db.api_session() as s:
            rows = s.scalars(select(models.Flavor).order_by(models.Flavor.memory_mb)).all()
            return [cls._from_db(context, db.row_to_dict(r)) for r in rows]


class ImageMeta(NovaObject):
    VERSION = "1.8"
    STEIN_FILE = "nova/objects/image_meta.py"
    fields = {"id": "str", "name": "str", "status": "str", "disk_format": "str",
              "container_format": "str", "min_ram": "int", "min_disk": "int", "size": "int",
              "properties": "dict"}

    @classmethod
    def from_dict(cls, image: dict[str, Any]) -> ImageMeta:
        return cls(**{k: v for k, v in image.items() if k in cls.fields})
