"""Unit tests of the benchmark harness's own arithmetic (no local world needed):

    .venv/bin/pip install -q -r benchmarks/peer/requirements.txt && .venv/bin/pytest -q benchmarks/tests
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import bench  # noqa: E402
import machine  # noqa: E402
from latency import stage as latency  # noqa: E402
from memory import stage as memory  # noqa: E402


@pytest.mark.parametrize("p, expected", [(50, 50), (99, 99), (100, 100), (1, 1), (0, 1)])
def test_percentile_is_nearest_rank(p, expected):
    assert latency.percentile([float(v) for v in range(1, 101)], p) == expected


def test_percentile_of_a_short_list_takes_its_largest_for_p99():
    assert latency.percentile([5.0, 7.0, 900.0], 99) == 900.0
    assert latency.percentile([5.0, 7.0, 900.0], 50) == 7.0


def keys_of(sql: str) -> tuple[int, int]:
    """The smallest and largest key the generated INSERT … SELECT can produce, and its WHERE bound."""
    places = len(re.findall(r"AS d\d+\(n\)", sql))
    bound = int(re.search(r"WHERE i <= (\d+)$", sql).group(1))
    return 10 ** places, bound  # keys 1 … 10**places before the WHERE


@pytest.mark.parametrize("rows", [1, 9, 10, 11, 200_000, 999_999, 1_000_000, 1_000_001])
def test_one_transaction_insert_generates_every_key_and_no_more_digits_than_needed(rows):
    sql = memory.one_transaction_insert(rows)
    generated, bound = keys_of(sql)
    assert bound == rows
    assert generated >= rows, "the cross join must reach the last key"
    assert generated <= max(10, 10 * (rows - 1)), "one digit more than needed multiplies the server's work by ten"
    assert sql.count("INSERT INTO") == 1, "one statement: one source transaction"


def test_stage_modules_share_the_harness_module():
    # bench.py runs as __main__ and registers itself as `bench`: the stages must not load a second copy.
    assert memory.bench is bench and latency.bench is bench


def test_source_steady_figure_leaves_out_the_start_up():
    # 2 s of CPU over 100k events, of which 0.5 s before the first 1,000 events appeared (start-up).
    result = {"events": 100_000, "cpu": 2.0, "steady": {"events": 99_000, "seconds": 9.9, "cpu": 1.5}}
    assert bench.source_steady_us(result) == pytest.approx(15.2, abs=0.05)
    assert bench.source_cpu_text(result) == "15.2 µs CPU/event steady (10000 events/s), 20.0 whole run"


def test_source_without_a_steady_interval_says_so():
    result = {"events": 10, "cpu": 0.001, "steady": None}
    assert bench.source_steady_us(result) is None
    assert "no steady interval" in bench.source_cpu_text(result)


def test_machine_window_takes_the_samples_nearest_its_ends():
    sampler = machine.MachineSampler(Path("/nonexistent"))
    # (time, busy jiffies, total jiffies, broker CPU s, Postgres CPU s)
    sampler.samples = [(10.0, 1000, 2000, 1.0, 5.0), (11.0, 1150, 2200, 1.2, 5.5), (12.0, 1350, 2400, 1.4, 6.1)]
    window = sampler.window(10.04, 11.96)
    assert window["seconds"] == 2.0
    assert window["busy_cores"] == pytest.approx(350 / 400 * window["cores"])
    assert window["broker_cpu"] == pytest.approx(0.4) and window["postgres_cpu"] == pytest.approx(1.1)


def test_machine_breakdown_is_per_message_and_the_rest_is_other():
    window = {"seconds": 2.0, "busy_cores": 1.5, "cores": 2, "broker_cpu": 0.4, "postgres_cpu": 1.1}
    b = machine.breakdown(window, consumer_cpu=1.0, messages=100_000)
    assert (b["consumer_us"], b["postgres_us"], b["broker_us"]) == (10.0, 11.0, 4.0)
    assert b["machine_us"] == 30.0 and b["other_us"] == 5.0  # 3 s busy − 2.5 s accounted for
    assert "machine busy 1.50 of 2 cores" in machine.describe(b)


def test_tree_cpu_counts_this_process_and_its_children():
    child = subprocess.Popen([sys.executable, "-c", "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.3: pass\ntime.sleep(5)"])
    try:
        deadline = time.monotonic() + 10
        while machine.tree_cpu_seconds(child.pid, {}) < 0.2 and time.monotonic() < deadline:
            time.sleep(0.05)
        tree = machine._children()
        assert child.pid in tree.get(os.getpid(), [])
        assert machine.tree_cpu_seconds(os.getpid(), tree) >= machine.tree_cpu_seconds(child.pid, tree) >= 0.2
    finally:
        child.kill()
        child.wait()
