"""Where a consumer's rate goes on this machine: a background sampler of the whole machine's CPU
(`/proc/stat`) and of the two servers a replica sink drives, the broker and Postgres, so a benchmark can
say, for the steady window of a run, how busy the machine was and how much CPU per message each of them
spent beside the consumer.

- The machine: busy jiffies (user, nice, system, irq, softirq, steal) over all of them, in cores.
- The broker: the process in `.run/broker.pid` and its descendants.
- Postgres: the postmaster (`.run/pg/data/postmaster.pid`) and its descendants, plus the postmaster's
  `cutime + cstime` (the CPU of backends that exited, e.g. a connection closed inside the window).

Samples are taken every `interval` seconds with `time.monotonic()`, the clock the peer reports its commit
times in; a window's figures are the differences between the samples nearest its two ends.
"""
from __future__ import annotations

import os
import threading
import time
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str]:
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            parent = int(_stat_fields(int(entry))[1])
        except (OSError, IndexError, ValueError):
            continue  # gone between the listing and the read
        tree.setdefault(parent, []).append(int(entry))
    return tree


def tree_cpu_seconds(root: int, tree: dict[int, list[int]], reaped: bool = False) -> float:
    """utime + stime of `root` and every descendant; with `reaped`, also the root's children that exited."""
    total, stack = 0.0, [root]
    while stack:
        pid = stack.pop()
        try:
            fields = _stat_fields(pid)
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
        if reaped and pid == root:
            total += int(fields[13]) + int(fields[14])
        stack.extend(tree.get(pid, []))
    return total / CLK_TCK


def machine_jiffies() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs since boot."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = (values + [0] * 8)[:8]
    busy = user + nice + system + irq + softirq + steal
    return busy, busy + idle + iowait


def _pid_from(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


class MachineSampler:
    """`with MachineSampler(root) as m: …; m.window(t0, t1)`."""

    def __init__(self, root: Path, interval: float = 0.1):
        self.broker = _pid_from(root / ".run/broker.pid")
        self.postgres = _pid_from(root / ".run/pg/data/postmaster.pid")
        self.interval = interval
        self.samples: list[tuple[float, int, int, float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="machine-sampler", daemon=True)

    def sample(self) -> tuple[float, int, int, float, float]:
        tree = _children()
        busy, total = machine_jiffies()
        broker = tree_cpu_seconds(self.broker, tree) if self.broker else 0.0
        postgres = tree_cpu_seconds(self.postgres, tree, reaped=True) if self.postgres else 0.0
        return time.monotonic(), busy, total, broker, postgres

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append(self.sample())
            self._stop.wait(self.interval)

    def __enter__(self) -> "MachineSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.samples.append(self.sample())

    def _nearest(self, t: float):
        return min(self.samples, key=lambda s: abs(s[0] - t))

    def window(self, start: float, end: float) -> dict:
        """Seconds, busy cores of the whole machine, and the broker's and Postgres's CPU seconds."""
        a, b = self._nearest(start), self._nearest(end)
        seconds = b[0] - a[0]
        cores = os.cpu_count() or 1
        busy_share = (b[1] - a[1]) / (b[2] - a[2]) if b[2] > a[2] else 0.0
        return {"seconds": seconds, "busy_cores": busy_share * cores, "cores": cores,
                "broker_cpu": b[3] - a[3], "postgres_cpu": b[4] - a[4]}


def breakdown(window: dict, consumer_cpu: float, messages: int) -> dict:
    """Per-message CPU (µs) of the consumer, Postgres, the broker and everything else in the window."""
    busy_cpu = window["busy_cores"] * window["seconds"]
    per = lambda s: round(s / messages * 1e6, 1) if messages else 0.0  # noqa: E731
    other = max(0.0, busy_cpu - consumer_cpu - window["broker_cpu"] - window["postgres_cpu"])
    return {"busy_cores": round(window["busy_cores"], 2), "cores": window["cores"],
            "consumer_us": per(consumer_cpu), "postgres_us": per(window["postgres_cpu"]),
            "broker_us": per(window["broker_cpu"]), "other_us": per(other), "machine_us": per(busy_cpu)}


def describe(b: dict) -> str:
    return (f"machine busy {b['busy_cores']:.2f} of {b['cores']} cores; CPU/msg: consumer {b['consumer_us']}, "
            f"Postgres {b['postgres_us']}, broker {b['broker_us']}, other {b['other_us']} µs "
            f"(machine {b['machine_us']} µs)")
