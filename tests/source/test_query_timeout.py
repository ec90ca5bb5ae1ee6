"""database.query.timeout.ms: the staging SQL Server (its emulator) frozen with SIGSTOP keeps its
connections open and answers nothing; the source must give the session up, report itself down with a
reason naming the setting, and stream again once the server runs (SIGCONT)."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SLUICE = Path(os.environ.get("SLUICE_BINARY", ROOT / ".build" / "debug" / "sluice"))
STAGING_PID = ROOT / ".run" / "staging.pid"
NAME = "query-timeout-source"
COMPONENT = f"source.{NAME}.CreditStaging"


def wait_until(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def component(port: int) -> dict:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/ready", timeout=2) as response:
            body = json.loads(response.read())
    except urllib.error.HTTPError as error:
        body = json.loads(error.read())
    except OSError:
        return {}
    return body.get("components", {}).get(COMPONENT, {})


@pytest.fixture
def frozen_staging():
    """A function that freezes the staging emulator; it always runs again at the end."""
    assert STAGING_PID.is_file(), "the staging emulator is not running: scripts/services up"
    pid = int(STAGING_PID.read_text())
    frozen = []

    def freeze():
        os.kill(pid, signal.SIGSTOP)
        frozen.append(pid)

    def thaw():
        if frozen:
            os.kill(pid, signal.SIGCONT)
            frozen.clear()

    freeze.thaw = thaw
    yield freeze
    thaw()


def test_frozen_server_makes_the_source_down_and_it_resumes(tmp_path, frozen_staging):
    env = dict(os.environ)
    if not env.get("SLUICE_STAGING_URL"):
        pytest.fail("SLUICE_STAGING_URL unset: start the local world (scripts/services up && eval \"$(scripts/services env)\")")
    data = json.loads((ROOT / "connectors" / "credit-source.json").read_text())
    data["name"] = NAME
    data["config"].update({"topic.prefix": "query-timeout", "database.query.timeout.ms": 1000,
                           "retry.backoff.initial.ms": 200, "retry.backoff.max.ms": 1000, "poll.interval.ms": 100})
    path = tmp_path / "source.json"
    path.write_text(json.dumps(data))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = (tmp_path / "sluice.log").open("wb")
    process = subprocess.Popen([str(SLUICE), "run", str(path), "--http-port", str(port)], stdout=log,
                               stderr=subprocess.STDOUT, env=env, stdin=subprocess.DEVNULL)
    try:
        wait_until(lambda: component(port).get("status") == "up", 90, "the source to stream")
        frozen_staging()
        started = time.monotonic()
        down = wait_until(lambda: (c := component(port)).get("status") == "down" and c, 30, "the source to go down")
        elapsed = time.monotonic() - started
        assert "database.query.timeout.ms (1000 ms)" in down["reason"], down
        assert elapsed < 15, f"down only after {elapsed:.1f}s with a 1 s timeout"
        frozen_staging.thaw()
        wait_until(lambda: component(port).get("status") == "up", 60, "the source to stream again")
        assert process.poll() is None
    finally:
        frozen_staging.thaw()
        process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
        log.close()
    assert code == 0, (tmp_path / "sluice.log").read_text()[-3000:]
