"""`sluice run` speaks sd_notify to a datagram listener standing in for systemd (NOTIFY_SOCKET):
READY=1 only once /health/ready is 200, WATCHDOG=1 every WATCHDOG_USEC/2, no pings while a component
is wedged (the staging SQL Server frozen with SIGSTOP, so the source's poll hangs), STOPPING=1 on
SIGTERM, nothing at all without NOTIFY_SOCKET."""

from __future__ import annotations

import os
import signal
import statistics
import time

import pytest

from conftest import REPO, http_get, wait_until, world_env, world_pid

WATCHDOG_USEC = 1_000_000  # pings every 0.5 s
PROGRESS_TIMEOUT = "8"     # seconds past a component's expected wait before it counts as wedged (start-up joins a group: ~3 s)


@pytest.fixture
def source_file():
    world_env("SLUICE_STAGING_URL")
    world_env("SLUICE_KAFKA_BOOTSTRAP")
    return REPO / "connectors" / "credit-source.json"


def pings(listener, since: float) -> list[float]:
    return [t for t, m in listener.received if t >= since and "WATCHDOG=1" in m.split("\n")]


@pytest.mark.parametrize("abstract", [False, True], ids=["path", "abstract"])
def test_ready_watchdog_wedge_and_stopping(tmp_path, listener, sluice_runs, source_file, abstract):
    notify = listener(abstract)
    run = sluice_runs([source_file], tmp_path / "sluice.log", env={
        "NOTIFY_SOCKET": notify.address, "WATCHDOG_USEC": str(WATCHDOG_USEC), "WATCHDOG_PID": "",
        "SLUICE_PROGRESS_TIMEOUT": PROGRESS_TIMEOUT,
    })
    port = run.port()

    # READY=1 comes once, and only when /health/ready already answers 200.
    ready_at, message = notify.wait_for(lambda m: "READY=1" in m.split("\n"), 120, "READY=1")
    status, body = http_get(port, "/health/ready")
    assert status == 200, body
    assert "STATUS=ready:" in message
    before = [m for t, m in notify.received if t < ready_at]
    assert not any("READY=1" in m for m in before)

    # WATCHDOG=1 every WATCHDOG_USEC/2.
    wait_until(lambda: notify.poll() is not None and len(pings(notify, ready_at)) >= 7, 10, "7 watchdog pings")
    times = pings(notify, ready_at)
    intervals = [b - a for a, b in zip(times, times[1:])]
    assert 0.4 <= statistics.median(intervals) <= 0.6, intervals
    assert max(intervals) < 0.95, intervals  # never a gap systemd (WATCHDOG_USEC = 1 s) would act on

    # Freeze the staging SQL Server: the source's next poll hangs, its progress lease runs out, the
    # pings stop (and STATUS says which component is wedged) until the server moves again.
    staging = world_pid("staging")
    os.kill(staging, signal.SIGSTOP)
    try:
        _, wedged = notify.wait_for(lambda m: "wedged: source.credit-source.CreditStaging" in m, 25, "a wedged STATUS")
        quiet_from = time.monotonic()
        time.sleep(2.5)  # five ping periods
        notify.poll()
        assert pings(notify, quiet_from) == [], "watchdog pings continued while the source was wedged"
    finally:
        os.kill(staging, signal.SIGCONT)
    resumed = time.monotonic()
    wait_until(lambda: notify.poll() is not None and len(pings(notify, resumed)) >= 2, 30, "pings after SIGCONT")
    assert "pings resume" in run.text()

    # SIGTERM: STOPPING=1 as the drain begins, then a clean exit.
    run.proc.send_signal(signal.SIGTERM)
    notify.wait_for(lambda m: "STOPPING=1" in m.split("\n"), 30, "STOPPING=1")
    assert run.stop() == 0
    ready_count = sum(1 for _, m in notify.received if "READY=1" in m.split("\n"))
    assert ready_count == 1


def test_nothing_is_sent_without_notify_socket(tmp_path, listener, sluice_runs, source_file):
    notify = listener(False)
    env = {k: "" for k in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")}
    run = sluice_runs([source_file], tmp_path / "sluice.log", env=env)
    port = run.port()
    wait_until(lambda: http_get(port, "/health/ready")[0] == 200, 120, "/health/ready 200")
    time.sleep(1)
    assert run.stop() == 0
    assert notify.poll() == [] and notify.received == []
    assert "Notifying systemd" not in run.text()
