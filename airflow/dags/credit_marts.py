"""credit_marts: every 15 minutes, rebuild the dbt marts on the replica once it is caught up.

1. wait_for_replica: polls the `sluice run` operations endpoint (connection sluice_ops) until the
   replica sink's health component is up and its consumer lag is at most the variable
   sluice_replica_max_lag (default 100 messages);
2. dbt_build: `dbt build` (seeds none, models, snapshot, every test);
3. dbt_source_freshness: `dbt source freshness` (when the replica sink last applied each table).
A failed task notifies Slack (connection slack_sluice).
"""
from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import PokeReturnValue, dag, task

from sluice_checks.notify import failure_notifier


@dag(
    dag_id="credit_marts",
    schedule="*/15 * * * *",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["sluice", "dbt"],
    default_args={"owner": "data-team", "retries": 0, "on_failure_callback": [failure_notifier()]},
    doc_md=__doc__,
)
def credit_marts():
    @task.sensor(poke_interval=10, timeout=600, mode="poke")
    def wait_for_replica() -> PokeReturnValue:
        from sluice_checks import ops, settings

        max_lag = float(settings.variable("sluice_replica_max_lag", "100"))
        status = ops.sink_status(settings.ops_url(), settings.REPLICA_CONNECTOR)
        print(f"replica sink: {status.detail} (max lag {max_lag:.0f})", flush=True)
        done = status.healthy and status.lag is not None and status.lag <= max_lag
        return PokeReturnValue(is_done=done, xcom_value=status.detail)

    @task(execution_timeout=timedelta(minutes=20))
    def dbt_build() -> None:
        from sluice_checks.dbt_runner import run_dbt

        run_dbt("build")

    @task(execution_timeout=timedelta(minutes=5))
    def dbt_source_freshness() -> None:
        from sluice_checks.dbt_runner import run_dbt

        run_dbt("source", "freshness")

    wait_for_replica() >> dbt_build() >> dbt_source_freshness()


credit_marts()
