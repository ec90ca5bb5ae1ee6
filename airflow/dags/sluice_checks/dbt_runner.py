"""Runs dbt (the dbt/ project) as a child process from inside a task, its output in the task log."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

from sluice_checks import settings


class DbtFailed(Exception):
    pass


def run_dbt(*args: str) -> None:
    dbt = settings.variable("sluice_dbt_bin")
    project = settings.variable("sluice_dbt_project_dir")
    target = settings.variable("sluice_dbt_target_dir", str(Path(project) / "target-airflow"))
    env = {**os.environ, **settings.dbt_environment(), "DBT_PROJECT_DIR": project, "DBT_PROFILES_DIR": project,
           "DBT_TARGET_PATH": target, "DBT_LOG_PATH": str(Path(target) / "logs"), "DBT_USE_COLORS": "false"}
    cmd = [dbt, *args]
    print(f"running {' '.join(cmd)} in {project}", flush=True)
    proc = subprocess.Popen(cmd, cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    tail: list[str] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        print(line.rstrip(), flush=True)
        tail = (tail + [line.rstrip()])[-15:]
    if proc.wait() != 0:
        raise DbtFailed(f"dbt {' '.join(args)} exited {proc.returncode}:\n" + "\n".join(tail))
