"""Fixtures of the SQL Server conformance suite.

The suite speaks only TDS and T-SQL, so it runs unchanged against a real SQL Server 2022:

    MSSQL_URL=mssql://sa:Password@host:1433/master pytest tools/mssql-emulator/tests

Without MSSQL_URL it starts a private emulator (TEST FIXTURE) on a free loopback port, backed by the
local world's Postgres (SLUICE_EMULATOR_BACKING_URL, printed by `scripts/services env`), with a fresh
server name so nothing collides with the "staging" and "warehouse" emulators.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytds
import pytest

EMULATOR_DIR = Path(__file__).resolve().parents[1]
TEST_LOGIN = ("conformance", "Conformance_pw1")
CAPTURE_INTERVAL = float(os.environ.get("CONFORMANCE_CAPTURE_INTERVAL", "0.5"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_port(host: str, port: int, proc: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the emulator exited with {proc.returncode} before listening")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"the emulator did not listen on {host}:{port} within {timeout}s")


@pytest.fixture(scope="session")
def mssql_url(tmp_path_factory):
    """The TDS URL of the server under test: mssql://user:password@host:port/database."""
    url = os.environ.get("MSSQL_URL")
    if url:
        yield url
        return
    backing = os.environ.get("SLUICE_EMULATOR_BACKING_URL")
    if not backing:
        pytest.fail("set MSSQL_URL (a real SQL Server) or SLUICE_EMULATOR_BACKING_URL "
                    "(eval \"$(scripts/services env)\") to run the conformance suite")
    port = _free_port()
    name = f"conf{uuid.uuid4().hex[:8]}"
    log = tmp_path_factory.mktemp("emulator") / "emulator.log"
    env = dict(os.environ, PYTHONPATH=str(EMULATOR_DIR))
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "mssql_emulator",
             "--listen", f"127.0.0.1:{port}",
             "--backing-url", backing,
             "--server-name", name,
             "--login", f"{TEST_LOGIN[0]}:{TEST_LOGIN[1]}",
             "--capture-interval", str(CAPTURE_INTERVAL),
             "--drop-on-exit"],
            stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        _wait_for_port("127.0.0.1", port, proc)
        yield f"mssql://{TEST_LOGIN[0]}:{TEST_LOGIN[1]}@127.0.0.1:{port}/master"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        sys.stderr.write(log.read_text(errors="replace")[-4000:] if proc.returncode not in (0, -15) else "")


@pytest.fixture(scope="session")
def server(mssql_url):
    """host, port, user, password, database of the server under test."""
    u = urlparse(mssql_url)
    return {
        "host": u.hostname, "port": u.port or 1433,
        "user": unquote(u.username or ""), "password": unquote(u.password or ""),
        "database": (u.path or "/master").lstrip("/") or "master",
    }


@pytest.fixture(scope="session")
def connect(server):
    """connect(database=None, autocommit=True, **kw) -> a pytds connection to the server under test."""
    def _connect(database: str | None = None, autocommit: bool = True, **kw):
        return pytds.connect(server=server["host"], port=server["port"], user=server["user"],
                             password=server["password"], database=database or server["database"],
                             autocommit=autocommit, login_timeout=10, timeout=60, **kw)
    return _connect


@pytest.fixture
def db(connect, database, request):
    """An open connection to the test's fresh database, prepared by the test module's DB_SETUP: a list of
    T-SQL batches, or a function of the connection (none: an empty database)."""
    conn = connect(database)
    setup = getattr(request.module, "DB_SETUP", ())
    if callable(setup):
        setup(conn)
    else:
        for batch in setup:
            with conn.cursor() as cur:
                cur.execute(batch)
    yield conn
    conn.close()


@pytest.fixture
def database(connect):
    """A fresh, empty database for one test (dropped afterwards); yields its name."""
    name = f"conf_{uuid.uuid4().hex[:10]}"
    with connect() as conn, conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE [{name}]")
    try:
        yield name
    finally:
        with connect() as conn, conn.cursor() as cur:
            cur.execute(f"DROP DATABASE [{name}]")
