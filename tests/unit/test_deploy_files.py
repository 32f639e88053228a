"""What ``bootflow up`` writes into its state folder, and how ``--db`` names databases."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tracer.cloud.processes import DeployError, db_connections, write_toml


def test_the_config_holding_the_broker_password_is_private(tmp_path: Path) -> None:
    """bootflow.toml holds ``transport_url`` with its password: owner-only (0600), also
    when it replaces an older, world-readable one, whatever the umask."""
    path = tmp_path / "bootflow.toml"
    path.write_text("old = 1\n")
    os.chmod(path, 0o644)
    old_umask = os.umask(0o000)
    try:
        write_toml(path, {"transport_url": "rabbit://nova:s3cret@broker:5672/"})
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert 's3cret' in path.read_text()
    assert not path.with_suffix(".tmp").exists()


PG = "postgresql+psycopg://postgres@127.0.0.1:5432/"


def test_db_url_without_a_name_means_four_databases() -> None:
    assert db_connections(PG) == {
        "api_database_connection": PG + "nova_api",
        "cell0_database_connection": PG + "nova_cell0",
        "database_connection": PG + "nova_cell1",
        "placement_database_connection": PG + "placement"}
    assert db_connections(PG[:-1])["database_connection"] == PG + "nova_cell1"


def test_db_url_with_a_name_uses_that_database() -> None:
    """The finding: ``--db …/bootflow`` made ``bootflownova_api`` and friends and left the
    database the user had created empty. Now everything goes into it, one schema each."""
    conns = db_connections(PG + "bootflow")
    for key, schema in (("api_database_connection", "nova_api"),
                        ("cell0_database_connection", "nova_cell0"),
                        ("database_connection", "nova_cell1"),
                        ("placement_database_connection", "placement")):
        url = make_url(conns[key])
        assert url.database == "bootflow"
        assert url.query["options"] == f"-csearch_path={schema}"


def test_db_url_with_a_name_on_mysql_or_sqlite_is_refused_with_the_fix() -> None:
    with pytest.raises(DeployError, match="end the URL with /"):
        db_connections("mysql+pymysql://root@127.0.0.1/bootflow")
    with pytest.raises(DeployError, match="SQLite is the default"):
        db_connections("sqlite:///x.db")
