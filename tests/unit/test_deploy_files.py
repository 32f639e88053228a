"""What ``bootflow up`` writes into its state folder, and how ``--db`` names databases."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from tracer.cloud.processes import write_toml


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
