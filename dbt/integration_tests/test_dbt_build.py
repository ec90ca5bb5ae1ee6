"""dbt on the replica, after the pipeline replicated db-init: `dbt build` (every model, the snapshot and
all their tests), `dbt source freshness` from the sink's offsets table, and the reconciliation test
catching a mart or a replica that does not add up."""
from __future__ import annotations

import json
import subprocess
from datetime import timezone

import pytest

from world import ROOT, Pipeline, pg_execute, pg_fetch

TABLES = ["customers", "credit_applications", "repayments"]


def dbt(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(ROOT / "scripts/dbt"), *args], cwd=ROOT, capture_output=True, text=True)


def ok(r: subprocess.CompletedProcess) -> str:
    assert r.returncode == 0, f"dbt failed ({r.returncode}):\n{r.stdout[-5000:]}\n{r.stderr[-2000:]}"
    return r.stdout


@pytest.fixture(scope="module")
def built() -> Pipeline:
    p = Pipeline.ensure()
    p.wait_ready(120)
    p.wait_replica_matches(180)
    ok(dbt("build"))
    return p


def test_build_makes_marts_that_match_the_replica(built: Pipeline) -> None:
    apps = pg_fetch("SELECT product, status, requested_amount FROM dbo.credit_applications")
    funnel = {r["product"]: r for r in pg_fetch("SELECT * FROM analytics_marts.approval_funnel_by_product")}
    assert set(funnel) == {a["product"] for a in apps}
    for product, row in funnel.items():
        mine = [a for a in apps if a["product"] == product]
        approved = sum(1 for a in mine if a["status"] == "approved")
        rejected = sum(1 for a in mine if a["status"] == "rejected")
        assert row["submitted_count"] == len(mine)
        assert row["approved_count"] == approved
        if approved + rejected:
            assert float(row["approval_rate"]) == pytest.approx(approved / (approved + rejected), abs=1e-4)
    book = pg_fetch("SELECT sum(approved_amount) AS a, sum(repaid_amount) AS r, sum(outstanding_amount) AS o "
                    "FROM analytics_marts.portfolio_by_product")[0]
    assert book["a"] == sum(a["requested_amount"] for a in apps if a["status"] == "approved")
    assert book["r"] == pg_fetch("SELECT sum(amount) AS s FROM dbo.repayments")[0]["s"]
    assert book["o"] == book["a"] - book["r"]
    snap = pg_fetch("SELECT count(*) AS n FROM analytics_snapshots.customers_snapshot WHERE dbt_valid_to IS NULL")[0]["n"]
    assert snap == pg_fetch("SELECT count(*) AS n FROM dbo.customers")[0]["n"]


def test_source_freshness_reads_the_sinks_offsets(built: Pipeline) -> None:
    ok(dbt("source", "freshness"))
    results = json.loads((ROOT / "dbt/target/sources.json").read_text())["results"]
    by_table = {r["unique_id"].rsplit(".", 1)[-1]: r for r in results}
    assert set(by_table) == set(TABLES)
    for table in TABLES:
        r = by_table[table]
        assert r["status"] == "pass", r
        applied = pg_fetch("SELECT max(updated_at) AS t FROM sluice.sluice_offsets WHERE group_id = 'sluice-replica-postgres' "
                           "AND topic = $1", f"credit.CreditStaging.dbo.{table}")[0]["t"]
        assert applied is not None
        loaded = r["max_loaded_at"].replace("Z", "+00:00")
        # dbt reports the loaded_at_query's value: the sink's last commit for the table's topic.
        assert abs(applied.astimezone(timezone.utc).timestamp() - _ts(loaded)) < 1.0, (table, applied, loaded)


def _ts(iso: str) -> float:
    from datetime import datetime
    d = datetime.fromisoformat(iso)
    if d.tzinfo is None:
        d = d.replace(tzinfo=timezone.utc)
    return d.timestamp()


def test_reconciliation_test_fails_on_a_mart_that_does_not_add_up(built: Pipeline) -> None:
    pg_execute("UPDATE analytics_marts.portfolio_by_product SET repaid_amount = repaid_amount + 1 "
               "WHERE product = (SELECT min(product) FROM analytics_marts.portfolio_by_product)")
    try:
        r = dbt("test", "--select", "assert_marts_reconcile_with_replica")
        assert r.returncode != 0 and "assert_marts_reconcile_with_replica" in r.stdout, r.stdout[-3000:]
    finally:
        ok(dbt("run", "--select", "portfolio_by_product"))
    ok(dbt("test", "--select", "assert_marts_reconcile_with_replica"))


def test_reconciliation_test_fails_on_a_replica_row_changed_behind_sluice(built: Pipeline) -> None:
    # Same source position, different value: not a change Sluice applied, so it is a real difference.
    row = pg_fetch("SELECT repayment_id, amount FROM dbo.repayments ORDER BY repayment_id LIMIT 1")[0]
    pg_execute("UPDATE dbo.repayments SET amount = amount + 1 WHERE repayment_id = $1", row["repayment_id"])
    try:
        r = dbt("test", "--select", "assert_marts_reconcile_with_replica")
        assert r.returncode != 0, r.stdout[-3000:]
    finally:
        pg_execute("UPDATE dbo.repayments SET amount = $2 WHERE repayment_id = $1", row["repayment_id"], row["amount"])
    ok(dbt("test", "--select", "assert_marts_reconcile_with_replica"))
