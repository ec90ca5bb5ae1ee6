"""The local world for the dbt and Airflow tests: connections, the running pipeline, and waits.

Used by dbt/integration_tests and airflow/tests (their conftest.py put this folder on sys.path).
Everything reads the addresses `eval "$(scripts/services env)"` exports.

- `Pipeline.ensure()`: the `sluice run` the tests replicate with. When SLUICE_OPS_URL points at a
  running one (scripts/test starts one for the whole section), that one; otherwise this process
  starts `.build/debug/sluice run` with the three shipped connectors on a free loopback port (or
  SLUICE_TEST_HTTP_PORT) and stops it at exit.
- `wait_replica_matches()`: tools/demo/watch.py --until-match (every table equal row for row, lag 0).
- `wait_warehouse_customers_caught_up()`: every customer's current warehouse version carries the
  replica row's source position.
"""
from __future__ import annotations

import asyncio
import atexit
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import unquote, urlparse

import asyncpg
import pytds

ROOT = Path(__file__).resolve().parents[2]
CONNECTORS = ["connectors/credit-source.json", "connectors/replica-postgres.json", "connectors/warehouse-scd2.json"]


def require_world() -> None:
    missing = [n for n in ("SLUICE_PG_URL", "SLUICE_STAGING_URL", "SLUICE_WAREHOUSE_URL", "SLUICE_KAFKA_BOOTSTRAP")
               if not os.environ.get(n)]
    if missing:
        raise RuntimeError(f"{', '.join(missing)} not set: run scripts/services up && eval \"$(scripts/services env)\"")


def mssql(url_env: str, autocommit: bool = True):
    u = urlparse(os.environ[url_env])
    return pytds.connect(server=u.hostname, port=u.port or 1433, user=unquote(u.username),
                         password=unquote(u.password), database=u.path.lstrip("/"), autocommit=autocommit,
                         login_timeout=10)


def pg_fetch(sql: str, *args) -> list:
    async def run():
        conn = await asyncpg.connect(os.environ["SLUICE_PG_URL"])
        try:
            return await conn.fetch(sql, *args)
        finally:
            await conn.close()
    return asyncio.run(run())


def pg_execute(sql: str, *args) -> str:
    async def run():
        conn = await asyncpg.connect(os.environ["SLUICE_PG_URL"])
        try:
            return await conn.execute(sql, *args)
        finally:
            await conn.close()
    return asyncio.run(run())


def staging_execute(statements: list[tuple[str, tuple]]) -> None:
    """Runs the statements in one source transaction."""
    conn = mssql("SLUICE_STAGING_URL", autocommit=False)
    try:
        with conn.cursor() as cur:
            for sql, params in statements:
                cur.execute(sql, params)
        conn.commit()
    finally:
        conn.close()


def mssql_fetch(url_variable: str, sql: str, params: tuple = ()) -> list:
    """All rows of one query on the SQL Server named by the environment variable."""
    conn = mssql(url_variable)
    try:
        with conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall()
    finally:
        conn.close()


def staging_fetch(sql: str, params: tuple = ()) -> list:
    return mssql_fetch("SLUICE_STAGING_URL", sql, params)


def warehouse_fetch(sql: str, params: tuple = ()) -> list:
    return mssql_fetch("SLUICE_WAREHOUSE_URL", sql, params)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:
        return None


class Pipeline:
    _current: "Pipeline | None" = None

    def __init__(self, ops_url: str, process: subprocess.Popen | None):
        self.ops_url = ops_url.rstrip("/")
        self.process = process

    @classmethod
    def ensure(cls) -> "Pipeline":
        if cls._current is not None:
            return cls._current
        require_world()
        url = os.environ.get("SLUICE_OPS_URL")
        if url and http_status(url.rstrip("/") + "/health/live") == 200:
            cls._current = Pipeline(url, None)
            return cls._current
        binary = ROOT / ".build/debug/sluice"
        if not binary.exists():
            raise RuntimeError(f"{binary} is missing: swift build --product sluice")
        port = int(os.environ.get("SLUICE_TEST_HTTP_PORT") or free_port())
        log = open(ROOT / ".run/dataflow-tests-sluice.log", "ab")
        proc = subprocess.Popen([str(binary), "run", "--http-port", str(port), *CONNECTORS], cwd=ROOT,
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
        pipeline = Pipeline(f"http://127.0.0.1:{port}", proc)
        atexit.register(pipeline.stop)
        deadline = time.monotonic() + 60
        while http_status(pipeline.ops_url + "/health/live") != 200:
            if proc.poll() is not None:
                raise RuntimeError(f"sluice run exited with {proc.returncode}; see .run/dataflow-tests-sluice.log")
            if time.monotonic() > deadline:
                raise RuntimeError("sluice run did not answer /health/live within 60 s")
            time.sleep(0.2)
        os.environ["SLUICE_OPS_URL"] = pipeline.ops_url
        cls._current = pipeline
        return pipeline

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while http_status(self.ops_url + "/health/ready") != 200:
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.ops_url}/health/ready not 200 within {timeout:.0f} s")
            time.sleep(0.5)

    def wait_replica_matches(self, timeout: float = 180) -> None:
        r = subprocess.run([sys.executable, str(ROOT / "tools/demo/watch.py"), "--interval", "1",
                            "--until-match", str(timeout), "--metrics", self.ops_url + "/metrics"],
                           cwd=ROOT, capture_output=True, text=True)
        if r.returncode != 0:
            raise AssertionError(f"the replica did not match the source within {timeout:.0f} s:\n{r.stdout[-3000:]}")


def wait_warehouse_customers_caught_up(timeout: float = 120) -> None:
    """Waits until each replica customer's position is the current warehouse version's last position
    and every current, non-deleted warehouse customer is in the replica."""
    deadline = time.monotonic() + timeout
    while True:
        replica = {r["customer_id"]: r["__sluice_position"] for r in
                   pg_fetch('SELECT customer_id, "__sluice_position" FROM dbo.customers')}
        # last_position is binary(58) holding the sortKey's ASCII bytes (decoded here: the emulator's
        # CAST(binary AS varchar) returns Postgres's hex text, not the bytes).
        rows = warehouse_fetch("SELECT customer_id, last_position, is_deleted FROM dw.dim_customer WHERE is_current = 1")
        warehouse = {cid: bytes(pos).decode("ascii") for cid, pos, deleted in rows if not deleted}
        if warehouse == replica:
            return
        if time.monotonic() > deadline:
            diff = {k for k in set(replica) | set(warehouse) if replica.get(k) != warehouse.get(k)}
            raise AssertionError(f"the warehouse's customers did not catch up with the replica in {timeout:.0f} s: {sorted(diff)[:20]}")
        time.sleep(0.5)
