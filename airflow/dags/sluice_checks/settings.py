"""Everything environmental the DAGs use, by name: Airflow connections and variables. Reading them
happens inside tasks only (never at import). `scripts/airflow` writes the local world's values into a
connections/variables file the local-filesystem secrets backend serves; a deployment sets them in its
own secrets backend or the UI.

Connections
  sluice_ops        http      the `sluice run` operations endpoint (host, port; schema http|https)
  sluice_replica    postgres  the Postgres replica (database in `schema`; extra {"sslmode": …})
  sluice_staging    mssql     the SQL Server source, database CreditStaging in `schema`
  sluice_warehouse  mssql     the warehouse, database CreditWarehouse in `schema`
  slack_sluice      slackwebhook  the Slack incoming webhook: the whole URL in `password`
Variables
  sluice_dbt_bin            the dbt executable (.venv-dbt/bin/dbt)
  sluice_dbt_project_dir    the dbt project (dbt/)
  sluice_dbt_target_dir     where dbt writes target/ for DAG runs (default <project>/target-airflow)
  sluice_replica_max_lag    most messages the replica sink may lag before credit_marts builds (100)
  sluice_reconcile_attempts attempts before a difference counts as real (4)
  sluice_reconcile_wait_seconds  between attempts (5)
"""
from __future__ import annotations

OPS_CONN = "sluice_ops"
REPLICA_CONN = "sluice_replica"
STAGING_CONN = "sluice_staging"
WAREHOUSE_CONN = "sluice_warehouse"
SLACK_CONN = "slack_sluice"

REPLICA_CONNECTOR = "replica-postgres"


def variable(name: str, default: str | None = None) -> str:
    from airflow.sdk import Variable

    value = Variable.get(name, default=default)
    if value is None:
        raise RuntimeError(f"Airflow variable {name!r} is not set (see airflow/dags/sluice_checks/settings.py)")
    return value


def connection(conn_id: str):
    from airflow.sdk import Connection

    return Connection.get(conn_id)


def ops_url() -> str:
    c = connection(OPS_CONN)
    if not c.host:
        raise RuntimeError(f"Airflow connection {OPS_CONN!r} has no host")
    return f"{c.schema or 'http'}://{c.host}{f':{c.port}' if c.port else ''}"


def mssql_connect(conn_id: str):
    import pytds

    c = connection(conn_id)
    return pytds.connect(server=c.host, port=c.port or 1433, user=c.login, password=c.password,
                         database=c.schema or None, autocommit=True, login_timeout=15)


def replica_connect():
    import psycopg2

    c = connection(REPLICA_CONN)
    extra = c.extra_dejson or {}
    conn = psycopg2.connect(host=c.host, port=c.port or 5432, user=c.login, password=c.password,
                            dbname=c.schema or "credit_app", sslmode=extra.get("sslmode", "prefer"),
                            connect_timeout=15, application_name="airflow-credit-reconciliation")
    conn.autocommit = True
    return conn


def dbt_environment() -> dict[str, str]:
    """The variables dbt/profiles.yml reads, from the replica connection (the password only in the
    child's environment, under dbt's secret prefix so dbt scrubs it from its logs)."""
    c = connection(REPLICA_CONN)
    extra = c.extra_dejson or {}
    return {
        "DBT_PG_HOST": c.host or "", "DBT_PG_PORT": str(c.port or 5432), "DBT_PG_USER": c.login or "",
        "DBT_ENV_SECRET_PG_PASSWORD": c.password or "", "DBT_PG_DATABASE": c.schema or "credit_app",
        "DBT_PG_SSLMODE": extra.get("sslmode", "prefer"),
    }
