"""Fixtures of the lineage tests."""
from __future__ import annotations

import os
import socket

import pytest

from lineage_support import LineageEndpoint


@pytest.fixture
def world_env() -> dict:
    """The local world's addresses (make test, or `eval "$(scripts/services env)"`), lineage variables cleared."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLUICE_OPENLINEAGE_")}
    missing = [k for k in ("SLUICE_STAGING_URL", "SLUICE_KAFKA_BOOTSTRAP", "SLUICE_PG_URL", "SLUICE_WAREHOUSE_URL") if not env.get(k)]
    if missing:
        pytest.fail(f"{', '.join(missing)} unset: start the local world (scripts/services up && eval \"$(scripts/services env)\")")
    return env


@pytest.fixture
def endpoint():
    server = LineageEndpoint()
    yield server
    server.close()


@pytest.fixture
def free_port() -> int:
    """A port the kernel picks, for the operations endpoints of a `sluice run`."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
