"""The DAGs in airflow/dags: they import cleanly, and `airflow dags test` of each succeeds against the
local world with the pipeline running; a reconciliation after a deliberate difference in the replica
fails, and its failure notification reaches a stub Slack incoming webhook in Slack's payload shape.

Runs in the main venv; Airflow runs as child processes from .venv-airflow (scripts/airflow installs it)
with its own home (.run/airflow-test) and metadata database (airflow_test) in the world's Postgres."""
from __future__ import annotations

import json
import os
import re
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from world import ROOT, Pipeline, free_port, pg_execute, pg_fetch

AIRFLOW_HOME = ROOT / ".run/airflow-test"
AIRFLOW_DB = "airflow_test"
PY = str(ROOT / ".venv-airflow/bin/python")


class SlackStub:
    """A loopback stand-in for https://hooks.slack.com/services/…: records each POST, answers 200 ok."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                stub.requests.append({"path": self.path, "content_type": self.headers.get("Content-Type"),
                                      "body": body.decode()})
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", int(os.environ.get("SLUICE_TEST_SLACK_PORT") or 0)), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/services/T00000000/B00000000/test"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def airflow_env(**extra: str) -> dict:
    env = dict(os.environ)
    env.update({"SLUICE_AIRFLOW_HOME": str(AIRFLOW_HOME), "SLUICE_AIRFLOW_DB": AIRFLOW_DB,
                "SLUICE_AIRFLOW_PORT": env.get("SLUICE_TEST_AIRFLOW_PORT") or str(free_port())})
    env.update(extra)
    return env


def scripts_airflow(*args: str, env: dict, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run([str(ROOT / "scripts/airflow"), *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)


def last_run(dag_id: str) -> tuple[str, dict[str, str]]:
    """The newest run's state and its task instances' states (task_id[map_index] → state)."""
    import asyncio
    import asyncpg

    async def q():
        url = os.environ["SLUICE_PG_URL"].rsplit("/", 1)[0] + f"/{AIRFLOW_DB}"
        conn = await asyncpg.connect(url)
        try:
            run = await conn.fetchrow("SELECT run_id, state FROM dag_run WHERE dag_id = $1 ORDER BY id DESC LIMIT 1", dag_id)
            tis = await conn.fetch("SELECT task_id, map_index, state FROM task_instance WHERE dag_id = $1 AND run_id = $2",
                                   dag_id, run["run_id"])
            return run["state"], {f"{t['task_id']}[{t['map_index']}]": t["state"] for t in tis}
        finally:
            await conn.close()
    return asyncio.run(q())


@pytest.fixture(scope="module")
def pipeline() -> Pipeline:
    p = Pipeline.ensure()
    p.wait_ready(120)
    p.wait_replica_matches(180)
    return p


@pytest.fixture(scope="module")
def slack() -> SlackStub:
    stub = SlackStub()
    yield stub
    stub.close()


@pytest.fixture(scope="module")
def configured(pipeline: Pipeline, slack: SlackStub) -> dict:
    env = airflow_env(SLUICE_OPS_URL=pipeline.ops_url, SLUICE_SLACK_WEBHOOK_URL=slack.url,
                      SLUICE_RECONCILE_ATTEMPTS="3", SLUICE_RECONCILE_WAIT_SECONDS="2")
    r = scripts_airflow("configure", env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    return env


def dags_test(dag_id: str, env: dict) -> subprocess.CompletedProcess:
    return scripts_airflow("cli", "dags", "test", dag_id, env=env)


def test_every_dag_imports_cleanly(configured: dict) -> None:
    code = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from airflow.configuration import conf\n"
        "from airflow.dag_processing.dagbag import BundleDagBag\n"
        "folder = Path(conf.get('core', 'dags_folder'))\n"
        "bag = BundleDagBag(dag_folder=folder, bundle_path=folder)\n"
        "print(json.dumps({'errors': {str(k): v for k, v in bag.import_errors.items()},\n"
        "  'dags': {d.dag_id: {'file': Path(d.fileloc).name, 'tasks': sorted(t.task_id for t in d.tasks),\n"
        "  'schedule': repr(d.timetable),\n"
        "  'callbacks': all(t.on_failure_callback for t in d.tasks)} for d in bag.dags.values()}}))\n")
    env = dict(configured, AIRFLOW_HOME=str(AIRFLOW_HOME))
    r = subprocess.run([PY, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    bag = json.loads(r.stdout.strip().splitlines()[-1])
    assert bag["errors"] == {}
    dag_files = {p.stem for p in (ROOT / "airflow/dags").glob("*.py")}
    assert set(bag["dags"]) == {"credit_marts", "credit_reconciliation"} == dag_files
    for dag_id, d in bag["dags"].items():
        assert d["file"] == f"{dag_id}.py", "one DAG per file, named after its dag_id"
        assert d["callbacks"], f"{dag_id}: every task has an on_failure_callback"
    assert bag["dags"]["credit_marts"]["tasks"] == ["dbt_build", "dbt_source_freshness", "wait_for_replica"]
    assert "expression='*/15 * * * *'" in bag["dags"]["credit_marts"]["schedule"]
    assert bag["dags"]["credit_reconciliation"]["tasks"] == ["reconcile_table"]
    assert re.search(r"expression='(@hourly|0 \* \* \* \*)'", bag["dags"]["credit_reconciliation"]["schedule"])


def test_credit_marts_runs_against_the_pipeline(configured: dict) -> None:
    pg_execute("DROP TABLE IF EXISTS analytics_marts.portfolio_by_product")
    r = dags_test("credit_marts", configured)
    state, tis = last_run("credit_marts")
    assert r.returncode == 0 and state == "success", f"{state} {tis}\n{r.stdout[-4000:]}\n{r.stderr[-4000:]}"
    assert set(tis.values()) == {"success"} and len(tis) == 3, tis
    assert pg_fetch("SELECT count(*) AS n FROM analytics_marts.portfolio_by_product")[0]["n"] > 0


def test_credit_reconciliation_runs_against_the_pipeline(configured: dict, slack: SlackStub) -> None:
    before = len(slack.requests)
    r = dags_test("credit_reconciliation", configured)
    state, tis = last_run("credit_reconciliation")
    assert r.returncode == 0 and state == "success", f"{state} {tis}\n{r.stdout[-4000:]}\n{r.stderr[-4000:]}"
    assert sorted(tis) == ["reconcile_table[0]", "reconcile_table[1]", "reconcile_table[2]"]
    assert set(tis.values()) == {"success"}
    assert len(slack.requests) == before, "no notification for a successful run"


def test_reconciliation_tolerates_changes_in_flight(pipeline: Pipeline) -> None:
    """While the change generator commits ~20 transactions a second, the sinks lag behind the source;
    the reconciliation leaves out the keys changed after the applied position and finds no difference."""
    import sys
    gen = subprocess.Popen([sys.executable, str(ROOT / "tools/demo/change_generator.py"), "--interval", "0.05",
                            "--count", "400", "--seed", "15", "--quiet"], cwd=ROOT)
    try:
        excluded_seen = False
        for _ in range(3):
            r = subprocess.run([PY, str(ROOT / "airflow/dags/sluice_checks/reconcile.py"), "--attempts", "3", "--wait", "1"],
                               cwd=ROOT, capture_output=True, text=True, timeout=300)
            assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
            counts = [int(n) for n in re.findall(r"; (\d+) keys changed since", r.stdout)]
            assert len(counts) >= 3, r.stdout
            if any(counts):
                excluded_seen = True
                break
        assert excluded_seen, "no run overlapped changes in flight; the generator did not get ahead of the sinks"
    finally:
        gen.terminate()
        gen.wait(timeout=30)
    pipeline.wait_replica_matches(180)


def test_a_real_difference_fails_the_reconciliation_and_notifies_slack(configured: dict, slack: SlackStub) -> None:
    # A replica row changed behind Sluice's back (its source position kept): a real difference.
    row = pg_fetch("SELECT repayment_id, amount FROM dbo.repayments ORDER BY repayment_id LIMIT 1")[0]
    pg_execute("UPDATE dbo.repayments SET amount = amount + 100 WHERE repayment_id = $1", row["repayment_id"])
    before = len(slack.requests)
    try:
        r = dags_test("credit_reconciliation", configured)
    finally:
        pg_execute("UPDATE dbo.repayments SET amount = $2 WHERE repayment_id = $1", row["repayment_id"], row["amount"])
    state, tis = last_run("credit_reconciliation")
    assert state == "failed", f"{state} {tis}\n{r.stdout[-3000:]}"
    assert tis["reconcile_table[2]"] == "failed" and tis["reconcile_table[0]"] == tis["reconcile_table[1]"] == "success", tis
    sent = slack.requests[before:]
    assert len(sent) == 1, sent
    assert sent[0]["path"] == "/services/T00000000/B00000000/test"
    assert sent[0]["content_type"].startswith("application/json")
    payload = json.loads(sent[0]["body"])
    assert isinstance(payload.get("text"), str), payload  # Slack's incoming-webhook shape: {"text": …}
    text = payload["text"]
    assert "credit_reconciliation" in text and "reconcile_table" in text, text
    assert "dbo.repayments" in text and str(row["repayment_id"]) in text and "different values in the replica" in text, text
