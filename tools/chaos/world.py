"""The chaos run's world: addresses from `scripts/services env`, the replica's own Postgres cluster
(`scripts/services pg-scratch`, so a crash of it leaves the emulators' backing store alone), database
connections and a few shell-outs. Connection helpers come from tools/dataflow/world.py."""
from __future__ import annotations

import asyncio
import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import unquote, urlparse

import asyncpg
import pytds

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("dataflow_world", ROOT / "tools/dataflow/world.py")
dataflow_world = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(dataflow_world)

http_status = dataflow_world.http_status


def env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise SystemExit(f"chaos: {name} is not set: run scripts/services up && eval \"$(scripts/services env)\"")
    return value


def replica_pg_port() -> int:
    return int(os.environ.get("CHAOS_REPLICA_PG_PORT") or int(os.environ.get("SLUICE_PG_PORT", "25432")) + 1)


def replica_url() -> str:
    u = urlparse(env("SLUICE_PG_URL"))
    return f"postgres://{u.username}:{u.password}@127.0.0.1:{replica_pg_port()}/credit_app"


def services(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run([str(ROOT / "scripts/services"), *args], cwd=ROOT, check=check,
                          capture_output=True, text=True)


def mssql(url_env: str, autocommit: bool = True, database: str | None = None):
    u = urlparse(env(url_env))
    return pytds.connect(server=u.hostname, port=u.port or 1433, user=unquote(u.username),
                         password=unquote(u.password), database=database or u.path.lstrip("/"),
                         autocommit=autocommit, login_timeout=10, timeout=60)


def mssql_fetch(url_env: str, sql: str, params: tuple = ()) -> list:
    conn = mssql(url_env)
    try:
        with conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall() if cur.description else []
    finally:
        conn.close()


def mssql_execute(url_env: str, sql: str, params: tuple = ()) -> None:
    conn = mssql(url_env)
    try:
        with conn.cursor() as cur:
            cur.execute(sql, params)
    finally:
        conn.close()


def pg(url: str, sql: str, *args) -> list:
    async def run():
        conn = await asyncpg.connect(url, timeout=10)
        try:
            return await conn.fetch(sql, *args)
        finally:
            await conn.close()
    return asyncio.run(run())


def retry(what: str, fn, timeout: float = 60.0, interval: float = 1.0):
    """fn() until it returns without raising (a database may be restarting)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return fn()
        except Exception as error:  # noqa: BLE001 - reported when the deadline passes
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what} kept failing for {timeout:.0f} s: {error}") from error
            time.sleep(interval)
