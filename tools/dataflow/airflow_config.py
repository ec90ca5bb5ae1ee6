#!/usr/bin/env python3
"""Writes an Airflow home for the local world (run by scripts/airflow with .venv-airflow's python):

- airflow.cfg: LocalExecutor, the DAGs in airflow/dags, metadata in the world's Postgres (database
  $SLUICE_AIRFLOW_DB), the api-server on 127.0.0.1:$SLUICE_AIRFLOW_PORT (and the execution API URL
  that goes with it), SimpleAuthManager with user `admin`, the local-filesystem secrets backend for
  the scheduler, the api-server and the workers;
- connections.json and variables.json, which that backend serves: the sluice_* connections from the
  world's URLs (SLUICE_PG_URL, SLUICE_STAGING_URL, SLUICE_WAREHOUSE_URL, and SLUICE_OPS_URL or
  http://127.0.0.1:$SLUICE_HTTP_PORT), `slack_sluice` when SLUICE_SLACK_WEBHOOK_URL is set, and the
  dbt variables.
Files are mode 0600 (they hold the world's passwords). The fernet key and JWT secret are generated
once and kept across rewrites.
"""
from __future__ import annotations

import configparser
import json
import os
import secrets
import sys
from pathlib import Path
from urllib.parse import quote, unquote, urlparse

ROOT = Path(__file__).resolve().parents[2]


def fail(msg: str) -> None:
    sys.exit(f"scripts/airflow: {msg}")


def url_conn(env: str, conn_type: str, default_port: int) -> dict:
    raw = os.environ.get(env)
    if not raw:
        fail(f'{env} is not set: run eval "$(scripts/services env)" first')
    u = urlparse(raw)
    conn = {"conn_type": conn_type, "host": u.hostname, "port": u.port or default_port,
            "login": unquote(u.username or ""), "password": unquote(u.password or ""),
            "schema": u.path.lstrip("/")}
    return conn


def write_private(path: Path, text: str) -> None:
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text(text)


def main() -> None:
    home = Path(os.environ["AIRFLOW_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    port = int(os.environ.get("SLUICE_AIRFLOW_PORT", "8081"))
    database = os.environ.get("SLUICE_AIRFLOW_DB", "airflow")
    pg = url_conn("SLUICE_PG_URL", "postgres", 5432)

    cfg_path = home / "airflow.cfg"
    old = configparser.ConfigParser(interpolation=None)
    if cfg_path.exists():
        old.read(cfg_path)
    fernet = old.get("core", "fernet_key", fallback="")
    if not fernet:
        from cryptography.fernet import Fernet
        fernet = Fernet.generate_key().decode()
    jwt = old.get("api_auth", "jwt_secret", fallback="") or secrets.token_urlsafe(32)

    backend = "airflow.secrets.local_filesystem.LocalFilesystemBackend"
    backend_kwargs = json.dumps({"connections_file_path": str(home / "connections.json"),
                                 "variables_file_path": str(home / "variables.json")})
    cfg = configparser.ConfigParser(interpolation=None)
    cfg["core"] = {
        "dags_folder": str(ROOT / "airflow/dags"),
        "executor": "LocalExecutor",
        "load_examples": "False",
        "parallelism": "8",
        "fernet_key": fernet,
        "auth_manager": "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
        "simple_auth_manager_users": "admin:admin",
        "simple_auth_manager_passwords_file": str(home / "simple_auth_manager_passwords.json.generated"),
        "execution_api_server_url": f"http://127.0.0.1:{port}/execution/",
        "dags_are_paused_at_creation": "True",
    }
    cfg["database"] = {
        "sql_alchemy_conn": f"postgresql+psycopg2://{quote(pg['login'], safe='')}:{quote(pg['password'], safe='')}@{pg['host']}:{pg['port']}/{database}",
    }
    cfg["api"] = {"host": "127.0.0.1", "port": str(port), "base_url": f"http://127.0.0.1:{port}"}
    cfg["api_auth"] = {"jwt_secret": jwt}
    cfg["secrets"] = {"backend": backend, "backend_kwargs": backend_kwargs}
    cfg["workers"] = {"secrets_backend": backend, "secrets_backend_kwargs": backend_kwargs}
    cfg["logging"] = {"base_log_folder": str(home / "logs")}
    cfg["dag_processor"] = {"refresh_interval": "30"}
    with open(cfg_path.with_suffix(".tmp"), "w") as f:
        cfg.write(f)
    text = cfg_path.with_suffix(".tmp").read_text()
    cfg_path.with_suffix(".tmp").unlink()
    write_private(cfg_path, text)

    ops = os.environ.get("SLUICE_OPS_URL") or f"http://127.0.0.1:{os.environ.get('SLUICE_HTTP_PORT', '8083')}"
    o = urlparse(ops)
    pg_replica = dict(pg)
    pg_replica["extra"] = json.dumps({"sslmode": "prefer"})
    connections = {
        "sluice_ops": {"conn_type": "http", "host": o.hostname, "port": o.port or 80, "schema": o.scheme or "http"},
        "sluice_replica": pg_replica,
        "sluice_staging": url_conn("SLUICE_STAGING_URL", "mssql", 1433),
        "sluice_warehouse": url_conn("SLUICE_WAREHOUSE_URL", "mssql", 1433),
    }
    webhook = os.environ.get("SLUICE_SLACK_WEBHOOK_URL")
    if webhook:
        connections["slack_sluice"] = {"conn_type": "slackwebhook", "password": webhook}
    write_private(home / "connections.json", json.dumps(connections, indent=2) + "\n")

    variables = {
        "sluice_dbt_bin": str(ROOT / ".venv-dbt/bin/dbt"),
        "sluice_dbt_project_dir": str(ROOT / "dbt"),
        "sluice_dbt_target_dir": str(home / "dbt-target"),
        "sluice_replica_max_lag": os.environ.get("SLUICE_REPLICA_MAX_LAG", "100"),
        "sluice_reconcile_attempts": os.environ.get("SLUICE_RECONCILE_ATTEMPTS", "4"),
        "sluice_reconcile_wait_seconds": os.environ.get("SLUICE_RECONCILE_WAIT_SECONDS", "5"),
    }
    write_private(home / "variables.json", json.dumps(variables, indent=2) + "\n")


if __name__ == "__main__":
    main()
