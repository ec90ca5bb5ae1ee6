"""Fixtures of the credit app's integration and browser tests.

They need the local world (`scripts/services up && eval "$(scripts/services env)"`) and a built
`sluice` (`swift build --product sluice`; SLUICE_BIN overrides .build/debug/sluice). The session
fixture loads db-init afresh, starts `sluice run` with the three shipped connectors (topic prefix
and consumer groups unique to the run, so old topics in the broker do not matter) and `sluice app`,
and waits until the replica and the warehouse hold the snapshot. Ports come from 18100–18199.
"""

from __future__ import annotations

import json
import os

import subprocess
import time
from pathlib import Path

import pytest
import requests

from world import ROOT, AppClient, Process, free_port_in, mssql_query, pg_query, wait_for

REQUIRED_ENV = ["SLUICE_PG_URL", "SLUICE_STAGING_URL", "SLUICE_WAREHOUSE_URL", "SLUICE_KAFKA_BOOTSTRAP"]


def _connectors(directory: Path, prefix: str) -> list[Path]:
    """The shipped connector files with this run's topic prefix and consumer groups."""
    out = []
    for name in ["credit-source.json", "replica-postgres.json", "warehouse-scd2.json"]:
        doc = json.loads((ROOT / "connectors" / name).read_text())
        config = doc["config"]
        if "topic.prefix" in config:
            config["topic.prefix"] = prefix
        if "topics.regex" in config:
            config["topics.regex"] = config["topics.regex"].replace("credit\\.", prefix + "\\.", 1)
        if "topics" in config:
            config["topics"] = ",".join(t.replace("credit.", prefix + ".", 1) for t in config["topics"].split(","))
        if "group.id" in config:
            config["group.id"] = f"{config['group.id']}-{prefix}"
        for key in ["errors.deadletterqueue.topic.name"]:
            if key in config:
                config[key] = f"{prefix}.{config[key]}"
        path = directory / name
        path.write_text(json.dumps(doc, indent=2))
        out.append(path)
    return out


class World:
    def __init__(self, tmp: Path):
        missing = [k for k in REQUIRED_ENV if not os.environ.get(k)]
        if missing:
            pytest.fail(f"set {', '.join(missing)}: run `scripts/services up && eval \"$(scripts/services env)\"` first")
        self.env = dict(os.environ)
        self.binary = os.environ.get("SLUICE_BIN", str(ROOT / ".build" / "debug" / "sluice"))
        if not Path(self.binary).exists():
            pytest.fail(f"{self.binary} is missing: run `swift build --product sluice` (or set SLUICE_BIN)")
        self.tmp = tmp
        self.logs = ROOT / ".run" / "app-tests"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.pg_url = self.env["SLUICE_PG_URL"]
        self.staging_url = self.env["SLUICE_STAGING_URL"]
        self.warehouse_url = self.env["SLUICE_WAREHOUSE_URL"]
        self.pipeline_port = free_port_in(18150, 18169)
        self.app_port = free_port_in(18100, 18119)
        self.base = f"http://127.0.0.1:{self.app_port}"
        self.pipeline: Process | None = None
        self.connector_files: list[Path] = []
        # The lineage page's dbt inputs: a manifest path and a docs directory of this run (tests write them).
        self.dbt_manifest = tmp / "dbt-target" / "manifest.json"
        self.dbt_docs = tmp / "dbt-docs"
        self.app: Process | None = None

    def app_env(self) -> dict:
        env = dict(self.env)
        env["SLUICE_PIPELINE_URL"] = f"http://127.0.0.1:{self.pipeline_port}"
        env.setdefault("SLUICE_LOG_LEVEL", "info")
        env["SLUICE_CONNECTORS"] = ",".join(map(str, self.connector_files))
        env["SLUICE_DBT_MANIFEST"] = str(self.dbt_manifest)
        env["SLUICE_DBT_DOCS"] = str(self.dbt_docs)
        return env

    def start_app(self):
        self.app = Process("sluice app", [self.binary, "app", "--http-port", str(self.app_port)], self.app_env(),
                           self.logs / "app.log").start()
        wait_for(lambda: self._ready(self.base, self.app), 60, f"sluice app ready on {self.base}\n{self.app.tail()}")

    def restart_app(self):
        rc = self.app.stop()
        assert rc == 0, f"sluice app exited with {rc} on SIGTERM\n{self.app.tail()}"
        self.start_app()

    @staticmethod
    def _ready(base: str, process: Process) -> bool:
        if not process.alive():
            raise AssertionError(f"{process.name} exited with {process.proc.returncode}\n{process.tail()}")
        return requests.get(base + "/health/ready", timeout=2).status_code == 200

    def start(self):
        subprocess.run([str(ROOT / "scripts" / "db-init"), "--reset"], check=True, env=self.env, cwd=ROOT,
                       stdout=subprocess.DEVNULL)
        prefix = "apptest" + str(int(time.time()))
        files = _connectors(self.tmp, prefix)
        self.connector_files = files
        self.pipeline = Process("sluice run", [self.binary, "run", *map(str, files), "--http-port", str(self.pipeline_port)],
                                self.env, self.logs / "pipeline.log").start()
        self.start_app()
        wait_for(lambda: self._ready(f"http://127.0.0.1:{self.pipeline_port}", self.pipeline), 120, "sluice run ready")
        wait_for(lambda: self.replica_count("credit_applications") >= 50, 180, "the snapshot in the replica")
        wait_for(lambda: mssql_query(self.warehouse_url, "SELECT COUNT(*) FROM dw.dim_application")[0][0] >= 50, 180,
                 "the snapshot in the warehouse")

    def stop(self):
        for p in [self.app, self.pipeline]:
            if p is not None:
                p.stop()

    def replica_count(self, table: str) -> int:
        return pg_query(self.pg_url, f"SELECT count(*) FROM dbo.{table}")[0][0]

    def client(self, username: str | None = None) -> AppClient:
        c = AppClient(self.base)
        if username:
            r = c.login(username)
            assert r.status_code == 200, r.text
        return c

    def wait_replicated(self, application_id: int, status: str | None = None, timeout: float = 60):
        def present():
            rows = pg_query(self.pg_url, "SELECT status FROM dbo.credit_applications WHERE application_id = $1", application_id)
            return rows and (status is None or rows[0][0] == status)
        wait_for(present, timeout, f"application {application_id} ({status or 'any status'}) in the replica")


@pytest.fixture(scope="session")
def world(tmp_path_factory):
    w = World(tmp_path_factory.mktemp("app-world"))
    try:
        w.start()
        yield w
    finally:
        w.stop()

