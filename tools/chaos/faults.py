"""The fault schedule, drawn from the seed, and the faults themselves. Faults run one after another on
the fault thread at their scheduled offsets (a fault that is late waits for the one before it)."""
from __future__ import annotations

import json
import math
import os
import random
import signal
import subprocess
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import kafka
from world import ROOT, mssql_execute, mssql_fetch, pg, replica_pg_port, replica_url, retry, services

KINDS = ["kill9-source", "kill9-replica-sink", "kill9-warehouse-sink", "sigterm-restart", "broker-pause",
         "postgres-crash", "capture-job-stop", "replica-session-kill", "poison-message", "stale-redelivery"]


@dataclass
class Fault:
    at: float           # seconds after the start of the load
    kind: str
    params: dict = field(default_factory=dict)


def schedule(seed: int, minutes: float) -> list[Fault]:
    """At least 2.5 faults a minute (6 at least); every kind once before any repeats, and a stale
    redelivery in every run (it is what catches a sink whose position guard is gone)."""
    rng = random.Random(seed)
    count = max(6, math.ceil(2.5 * minutes))
    others = [k for k in KINDS if k != "stale-redelivery"]
    kinds = rng.sample(others, len(others))[:count - 1] + ["stale-redelivery"]
    while len(kinds) < count:
        kinds.append(rng.choice(KINDS))
    rng.shuffle(kinds)
    span = minutes * 60
    times = sorted(rng.uniform(5, max(10, span - 25)) for _ in range(count))
    faults = []
    for at, kind in zip(times, kinds):
        params: dict = {}
        if kind.startswith("kill9") or kind == "sigterm-restart":
            params["restart_after"] = round(rng.uniform(1, 6), 1)
        if kind == "sigterm-restart":
            params["process"] = rng.choice(["source", "replica-sink", "warehouse-sink"])
        if kind == "broker-pause":
            params["seconds"] = round(rng.uniform(5, 30), 1)
        if kind == "postgres-crash":
            params["down_for"] = round(rng.uniform(2, 10), 1)
        if kind == "capture-job-stop":
            params["seconds"] = round(rng.uniform(5, 25), 1)
        if kind == "poison-message":
            params["table"] = rng.choice(["customers", "credit_applications", "repayments"])
        if kind == "stale-redelivery":
            params["sink"] = rng.choice(["replica-sink", "warehouse-sink"])
        faults.append(Fault(round(at, 1), kind, params))
    return faults


def offsets_reset(proc) -> int:
    """`sluice offsets reset <connector> --to earliest --yes` (refused while the group still has members:
    retried); how many events the sink will read again (stored minus new, over the partitions)."""
    r = subprocess.run([str(proc.binary), "offsets", "reset", str(proc.connector), "--to", "earliest", "--yes"],
                       env=proc.environ, cwd=ROOT, capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError(f"sluice offsets reset exited {r.returncode}: {(r.stderr or r.stdout).strip()[-300:]}")
    rewound = 0
    for line in r.stdout.splitlines()[1:]:
        cols = line.split("\t")
        if len(cols) == 4 and cols[2].isdigit() and cols[3].isdigit():
            rewound += int(cols[2]) - int(cols[3])
    return rewound


class FaultRunner:
    def __init__(self, faults: list[Fault], processes: dict, prefix: str, broker_pid: int, log):
        self.faults, self.processes, self.prefix, self.broker_pid, self.log = faults, processes, prefix, broker_pid, log
        self.done: list[tuple[Fault, float, str]] = []
        self.poison: list[tuple[str, str]] = []   # (topic, key)
        self.counts: Counter[str] = Counter()
        self.redelivered = 0
        self.error: str | None = None
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, name="faults", daemon=True)
        self.t0 = 0.0

    def start(self) -> None:
        self.t0 = time.monotonic()
        self.thread.start()

    def join(self) -> None:
        self.thread.join()

    def run(self) -> None:
        for n, fault in enumerate(self.faults, start=1):
            delay = fault.at - (time.monotonic() - self.t0)
            if delay > 0 and self.stopping.wait(delay):
                return
            started = time.time()
            offset = time.monotonic() - self.t0
            try:
                outcome = self.apply(n, fault)
            except Exception as error:  # noqa: BLE001 - recorded; the run fails on it
                outcome = f"FAILED: {error}"
                self.error = self.error or f"fault {n} {fault.kind}: {error}"
            self.counts[fault.kind] += 1
            self.done.append((fault, started, outcome))
            self.log(f"fault {n}/{len(self.faults)} at +{offset:.1f}s ({time.strftime('%H:%M:%S', time.gmtime(started))} UTC, "
                     f"{time.monotonic() - self.t0 - offset:.1f} s): {fault.kind} {json.dumps(fault.params)} -> {outcome}")

    def rewind_in_target(self, sink: str) -> int:
        """The sink's stored offsets set to 0 where it stores them (it is stopped); events to read again."""
        if sink == "replica-sink":
            rows = pg(replica_url(), "UPDATE sluice.sluice_offsets AS o SET next_offset = 0 FROM sluice.sluice_offsets AS b "
                      "WHERE o.group_id = $1 AND b.group_id = o.group_id AND b.topic = o.topic AND b.\"partition\" = o.\"partition\" "
                      "RETURNING b.next_offset", f"{self.prefix}-replica")
            return sum(r["next_offset"] for r in rows)
        group = f"{self.prefix}-warehouse"
        before = mssql_fetch("SLUICE_WAREHOUSE_URL", "SELECT next_offset FROM dw.sluice_offsets WHERE consumer_group = %s", (group,))
        mssql_execute("SLUICE_WAREHOUSE_URL", "UPDATE dw.sluice_offsets SET next_offset = 0 WHERE consumer_group = %s", (group,))
        return sum(r[0] for r in before)

    def apply(self, n: int, fault: Fault) -> str:
        k, p = fault.kind, fault.params
        if k.startswith("kill9-") or k == "sigterm-restart":
            name = k.removeprefix("kill9-") if k.startswith("kill9-") else p["process"]
            proc = self.processes[name]
            sig = signal.SIGKILL if k.startswith("kill9-") else signal.SIGTERM
            pid = proc.pid()
            status = proc.signal(sig)
            time.sleep(p["restart_after"])
            proc.start()
            return f"{name} pid {pid} exited {status}, restarted after {p['restart_after']} s"
        if k == "broker-pause":
            os.kill(self.broker_pid, signal.SIGSTOP)
            try:
                time.sleep(p["seconds"])
            finally:
                os.kill(self.broker_pid, signal.SIGCONT)
            return f"broker pid {self.broker_pid} stopped for {p['seconds']} s"
        if k == "postgres-crash":
            services("pg-scratch", "stop", str(replica_pg_port()), "immediate")
            time.sleep(p["down_for"])
            services("pg-scratch", "up", str(replica_pg_port()))
            return f"replica cluster :{replica_pg_port()} crashed (immediate), started after {p['down_for']} s"
        if k == "capture-job-stop":
            mssql_execute("SLUICE_STAGING_URL", "EXEC sys.sp_cdc_stop_job @job_type = N'capture'")
            time.sleep(p["seconds"])
            retry("sp_cdc_start_job", lambda: mssql_execute("SLUICE_STAGING_URL", "EXEC sys.sp_cdc_start_job @job_type = N'capture'"))
            return f"capture job stopped for {p['seconds']} s"
        if k == "replica-session-kill":
            rows = retry("pg_terminate_backend", lambda: pg(
                replica_url(), "SELECT pid, pg_terminate_backend(pid) AS ok FROM pg_stat_activity "
                "WHERE datname = 'credit_app' AND pid <> pg_backend_pid() AND backend_type = 'client backend'"))
            return f"terminated {sum(1 for r in rows if r['ok'])} replica sink session(s)"
        if k == "stale-redelivery":
            # Stop a sink, rewind its stored offsets to the start of every partition, start it again: it
            # reads everything again, and its position guard must make all of it a no-op. Through
            # `sluice offsets reset`, which refuses while the broker lists members of the group; Tansu
            # keeps listing a member whose session timed out (a broker pause) or that was stopped mid-join,
            # so then the stored offsets (the sink resumes from them) are rewound in the target directly.
            proc = self.processes[p["sink"]]
            proc.wait_for_log("Partitions assigned", timeout=120)
            status = proc.signal(signal.SIGTERM)
            try:
                try:
                    rewound = retry("sluice offsets reset", lambda: offsets_reset(proc), timeout=30, interval=1)
                    how = "sluice offsets reset --to earliest"
                except RuntimeError as refused:
                    rewound = self.rewind_in_target(p["sink"])
                    how = f"in the target (offsets reset refused: {str(refused)[-120:]})"
            finally:
                proc.start()
            self.redelivered += rewound
            return f"{p['sink']} stopped ({status}), its offsets rewound to 0 {how} ({rewound} events to read again), restarted"
        if k == "poison-message":
            topic = f"{self.prefix}.CreditStaging.dbo.{p['table']}"
            key = f"chaos-poison-{n}"
            kafka.produce(topic, key, f"{{not json: poison message {n}")
            self.poison.append((topic, key))
            return f"poison message key {key} into {topic}"
        raise ValueError(f"unknown fault kind {k}")
