"""credit_reconciliation: hourly, row counts and checksums per table of staging (the SQL Server
source), the Postgres replica and the warehouse's current versions.

One mapped task per table (customers, credit_applications, repayments). Each compares the three up to
the position both sinks have applied — keys the source changed since are left out, so changes in
flight are not differences — and retries a difference a few times before calling it real
(sluice_checks/reconcile.py has the rule). A real difference fails the task with the keys, and the
failure goes to Slack (connection slack_sluice).
"""
from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import dag, task

from sluice_checks.notify import failure_notifier

TABLES = ["customers", "credit_applications", "repayments"]


@dag(
    dag_id="credit_reconciliation",
    schedule="@hourly",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["sluice", "reconciliation"],
    default_args={"owner": "data-team", "retries": 0, "on_failure_callback": [failure_notifier()]},
    doc_md=__doc__,
)
def credit_reconciliation():
    @task(execution_timeout=timedelta(minutes=15))
    def reconcile_table(table: str) -> dict:
        from sluice_checks import reconcile, settings

        def connect():
            return (settings.mssql_connect(settings.STAGING_CONN), settings.replica_connect(),
                    settings.mssql_connect(settings.WAREHOUSE_CONN))

        report = reconcile.reconcile(
            connect, reconcile.TABLES[table],
            attempts=int(settings.variable("sluice_reconcile_attempts", "4")),
            wait_seconds=float(settings.variable("sluice_reconcile_wait_seconds", "5")),
            log=lambda line: print(line, flush=True))
        return {"table": table, "cutoff": report.cutoff, "counts": report.counts, "checksums": report.checksums}

    reconcile_table.expand(table=TABLES)


credit_reconciliation()
