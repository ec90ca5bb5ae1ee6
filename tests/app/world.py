"""Helpers of the credit app's tests: the databases of the local world, processes, polling."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path
from urllib.parse import unquote, urlparse

import asyncpg
import pytds
import requests

ROOT = Path(__file__).resolve().parents[2]
DEMO_PASSWORD = "Credit_demo_2026"


def wait_for(condition, timeout: float, what: str, interval: float = 0.2):
    """Polls `condition` until it returns a truthy value (returned) or the deadline passes."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = condition()
            if last:
                return last
        except Exception as error:  # the condition may fail while a process is still starting
            last = error
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def free_port_in(low: int, high: int) -> int:
    for port in range(low, high + 1):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    raise RuntimeError(f"no free port in {low}-{high}")


def mssql(url: str):
    u = urlparse(url)
    return pytds.connect(dsn=u.hostname, port=u.port or 1433, user=unquote(u.username or ""),
                         password=unquote(u.password or ""), database=u.path.lstrip("/") or None,
                         autocommit=True, login_timeout=10)


def mssql_query(url: str, sql: str, params=None):
    with mssql(url) as conn, conn.cursor() as cur:
        cur.execute(sql, params or ())
        return cur.fetchall()


def pg_query(url: str, sql: str, *args):
    async def run():
        conn = await asyncpg.connect(url)
        try:
            return await conn.fetch(sql, *args)
        finally:
            await conn.close()
    return asyncio.run(run())


class Process:
    """A child process with its output in a log file, stopped by its pid."""

    def __init__(self, name: str, argv: list[str], env: dict, log: Path):
        self.name, self.argv, self.env, self.log = name, argv, env, log
        self.proc: subprocess.Popen | None = None

    def start(self):
        handle = open(self.log, "ab")
        self.proc = subprocess.Popen(self.argv, env=self.env, stdout=handle, stderr=subprocess.STDOUT, cwd=ROOT)
        handle.close()
        return self

    def stop(self, timeout: float = 20.0) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


class AppClient:
    """A logged-in (or not) client of `sluice app`, with the CSRF token of its session."""

    def __init__(self, base: str):
        self.base = base
        self.http = requests.Session()
        self.csrf: str | None = None
        self.role: str | None = None

    def login(self, username: str, password: str = DEMO_PASSWORD) -> requests.Response:
        r = self.http.post(self.base + "/api/v1/session", json={"username": username, "password": password}, timeout=30)
        if r.status_code == 200:
            self.csrf = r.json()["csrf_token"]
            self.role = r.json()["role"]
        return r

    def get(self, path: str, **kw) -> requests.Response:
        return self.http.get(self.base + path, timeout=30, **kw)

    def post(self, path: str, body=None, csrf: bool = True, **kw) -> requests.Response:
        headers = kw.pop("headers", {})
        if csrf and self.csrf:
            headers.setdefault("X-CSRF-Token", self.csrf)
        return self.http.post(self.base + path, json=body, headers=headers, timeout=30, **kw)

    def delete(self, path: str, csrf: bool = True) -> requests.Response:
        headers = {"X-CSRF-Token": self.csrf} if csrf and self.csrf else {}
        return self.http.delete(self.base + path, headers=headers, timeout=30)


def new_customer(tag: str) -> dict:
    digits = re.sub(r"\D", "", str(time.time_ns()))[-9:]
    return {"national_id": f"T{digits}", "full_name": f"Test Applicant {tag}", "date_of_birth": "1984-05-17",
            "email": f"applicant.{digits}@example.com", "phone": "+49 151 1234567", "address": "Teststraße 1, 10115 Berlin",
            "monthly_income": 4200.50, "employment_status": "employed"}


def application_body(tag: str, **overrides) -> dict:
    body = {"customer": new_customer(tag), "product": "personal_loan", "requested_amount": 12000.00, "term_months": 36}
    body.update(overrides)
    return body
