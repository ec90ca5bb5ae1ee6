"""`sluice app` in the chaos run: its configuration (the run's replica, where db-init's app schema and demo
users are loaded), and a second writer that goes through the app's JSON API: an officer submits an
application now and then and an approver decides the one before (four-eyes: never their own)."""
from __future__ import annotations

import asyncio
import json
import random
import threading
import time
from collections import Counter
from pathlib import Path

import asyncpg
import requests

from world import ROOT, env, replica_url

DEMO_PASSWORD = "Credit_demo_2026"  # db-init/postgres/20-app.sql: the local world's demo users


def load_app_schema() -> None:
    """db-init/postgres/20-app.sql into the run's replica database (without its psql \\connect line)."""
    script = (ROOT / "db-init/postgres/20-app.sql").read_text()
    sql = "\n".join(line for line in script.splitlines() if not line.startswith("\\"))

    async def run():
        conn = await asyncpg.connect(replica_url(), timeout=10)
        try:
            await conn.execute(sql)  # several statements: the simple query protocol
        finally:
            await conn.close()
    asyncio.run(run())


def write_config(directory: Path, pipeline_url: str) -> Path:
    """The app's --config file (0600: it holds the local world's passwords, as the connector files do)."""
    path = directory / "app.json"
    path.write_text(json.dumps({"staging.url": env("SLUICE_STAGING_URL"), "replica.url": replica_url(),
                                "warehouse.url": env("SLUICE_WAREHOUSE_URL"), "pipeline.url": pipeline_url}, indent=2))
    path.chmod(0o600)
    return path


class AppUser:
    def __init__(self, base: str, username: str):
        self.base, self.username = base, username
        self.http = requests.Session()
        self.csrf: str | None = None

    def login(self) -> None:
        r = self.http.post(self.base + "/api/v1/session", json={"username": self.username, "password": DEMO_PASSWORD}, timeout=20)
        r.raise_for_status()
        self.csrf = r.json()["csrf_token"]

    def post(self, path: str, body: dict) -> requests.Response:
        if self.csrf is None:
            self.login()
        r = self.http.post(self.base + path, json=body, headers={"X-CSRF-Token": self.csrf}, timeout=20)
        if r.status_code == 401:  # the session went (an app restart keeps it; a replica crash may not)
            self.login()
            r = self.http.post(self.base + path, json=body, headers={"X-CSRF-Token": self.csrf}, timeout=20)
        return r


class AppWriter:
    """Every `interval` s: a submission by an officer, then a decision by an approver on the previous one."""

    def __init__(self, seed: int, base: str, interval: float = 10.0, log=print):
        self.rng = random.Random(seed * 7919)
        self.officer, self.approver = AppUser(base, "alice.kern"), AppUser(base, "carla.diaz")
        self.interval, self.log = interval, log
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, name="app-writer", daemon=True)
        self.counts: Counter[str] = Counter()
        self.submitted: list[int] = []
        self.error: str | None = None

    def run(self) -> None:
        n = 0
        while not self.stopping.wait(self.interval):
            n += 1
            try:
                if self.submitted and n % 2 == 0:
                    app_id = self.submitted[-1]
                    r = self.approver.post(f"/api/v1/applications/{app_id}/decision",
                                           {"decision": self.rng.choice(["approve", "reject"]), "note": "chaos run"})
                    kind = "decision"
                else:
                    digits = f"{time.time_ns() % 10**9:09d}"
                    r = self.officer.post("/api/v1/applications", {
                        "customer": {"national_id": f"X{digits}", "full_name": f"Chaos Applicant {n}", "date_of_birth": "1984-05-17",
                                     "email": f"chaos.{digits}@example.com", "phone": "+49 151 1234567",
                                     "address": "Teststraße 1, 10115 Berlin", "monthly_income": 4200.50, "employment_status": "employed"},
                        "product": "personal_loan", "requested_amount": float(self.rng.randrange(10, 400) * 100), "term_months": 36})
                    kind = "submission"
                    if r.status_code == 201:
                        self.submitted.append(int(r.json()["application_id"]))
                ok = r.status_code in (200, 201)
                self.counts[f"{kind} {'ok' if ok else r.status_code}"] += 1
                if not ok:
                    self.error = f"{kind}: {r.status_code} {r.text[:200]}"
            except Exception as error:  # noqa: BLE001 - the app may be restarting with the replica; counted
                self.counts["request failed"] += 1
                self.error = str(error)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=60)
