#!/usr/bin/env python3
"""Reproduces issue #13 (the replica sink's group never assigned after the chaos run's last faults) with
the real `sluice run` binary and the local broker, in about 90 s a run:

    eval "$(scripts/services env)"; .venv/bin/python tools/chaos/group_wedge.py [--binary B] [--runs N]

The sequence of seed 300's last faults: a sink (P) runs, the broker is SIGSTOPped 12.8 s (P's session
times out), SIGCONT, P is killed -9 KILL_DELAY s later (0.5 s: long enough for P's new JoinGroup to
reach the broker, which adds a member that never heartbeats), A starts 5 s later, A gets SIGTERM 13 s
after its start (while the rebalance that the ghost's expiry starts is under way, A is the forming
group's leader), B starts 3.5 s later, B is killed -9 18 s after its start, C starts 5 s later. Exit 1
when C got no partition within --wait seconds (the wedge), printing C's last JoinGroup/SyncGroup lines
(`kafka.debug=cgrp`); exit 0 when every run's C got its partitions. Logs: .run/group-wedge/."""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

ROOT = Path(__file__).resolve().parents[2]


def one_run(args: argparse.Namespace, tag: str, out: Path) -> bool:
    bootstrap = os.environ["SLUICE_KAFKA_BOOTSTRAP"]
    prefix = f"wedge{tag}"
    topics = [f"{prefix}.CreditStaging.dbo.{t}" for t in ("customers", "credit_applications", "repayments")]
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics([NewTopic(t, 1, 1) for t in topics]).values():
        future.result(timeout=30)
    connector = {"name": f"{prefix}-replica", "config": {
        "connector.class": "postgres-sink", "topics.regex": prefix + "\\.CreditStaging\\.dbo\\..*",
        "group.id": f"{prefix}-replica", "connection.url": os.environ["SLUICE_PG_URL"],
        "kafka.bootstrap.servers": bootstrap, "offsets.schema": "sluice", "batch.size": 2000,
        "kafka.session.timeout.ms": "10000", "kafka.debug": "cgrp"}}
    connector_file = out / f"{prefix}.json"
    connector_file.write_text(json.dumps(connector, indent=1))
    log = out / f"{prefix}.log"
    broker = int(args.broker_pid or (ROOT / ".run/broker.pid").read_text())

    def note(text: str) -> None:
        line = f"{time.strftime('%H:%M:%S')} HARNESS {text}"
        print(line, flush=True)
        with log.open("a") as handle:
            handle.write(line + "\n")

    def start(name: str) -> subprocess.Popen:
        note(f"{name} start")
        with log.open("ab") as handle:
            return subprocess.Popen([args.binary, "run", "--http-port", "0", "--log-level", "debug", str(connector_file)],
                                    stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)

    def assigned_since(name: str) -> bool:
        return "Kafka partitions assigned" in log.read_text(errors="replace").split(f"HARNESS {name} start")[-1]

    stop = threading.Event()

    def produce() -> None:  # tombstones: the sink only advances (and commits) offsets
        producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20})
        while not stop.is_set():
            for topic in topics:
                producer.produce(topic, key=b"k", value=None)
            producer.poll(0)
            time.sleep(0.03)
        producer.flush(5)

    threading.Thread(target=produce, daemon=True).start()
    processes = []
    try:
        p = start("P"); processes.append(p)
        deadline = time.monotonic() + 60
        while not assigned_since("P") and time.monotonic() < deadline:
            time.sleep(0.5)
        time.sleep(10)
        os.kill(broker, signal.SIGSTOP); note("broker stopped")
        time.sleep(12.8)
        os.kill(broker, signal.SIGCONT); note("broker resumed")
        time.sleep(args.kill_delay); p.kill(); p.wait(); note("P killed")
        time.sleep(5)
        a = start("A"); processes.append(a); time.sleep(13)
        a.terminate(); a.wait(); note("A terminated"); time.sleep(3.5)
        b = start("B"); processes.append(b); time.sleep(18)
        b.kill(); b.wait(); note("B killed"); time.sleep(5)
        c = start("C"); processes.append(c)
        started = time.monotonic()
        while time.monotonic() - started < args.wait:
            if assigned_since("C"):
                note(f"C assigned after {time.monotonic() - started:.1f} s")
                return True
            time.sleep(1)
        note(f"C NOT assigned within {args.wait:.0f} s")
        lines = log.read_text(errors="replace").split("HARNESS C start")[-1].splitlines()
        for line in [l for l in lines if "JoinGroup response" in l or "SyncGroup response" in l][-2:]:
            print("   ", line[line.find("[thrd:main]"):][:300])
        return False
    finally:
        stop.set()
        for process in processes:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", default=str(ROOT / ".build/debug/sluice"))
    parser.add_argument("--broker-pid", help="the broker to SIGSTOP (default: .run/broker.pid)")
    parser.add_argument("--kill-delay", type=float, default=0.5, help="seconds between SIGCONT and P's kill -9")
    parser.add_argument("--wait", type=float, default=60)
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    out = ROOT / ".run/group-wedge"
    out.mkdir(parents=True, exist_ok=True)
    results = [one_run(args, f"{int(time.time())}x{run}", out) for run in range(args.runs)]
    print(f"{results.count(False)} of {len(results)} run(s) wedged")
    return 1 if False in results else 0


if __name__ == "__main__":
    raise SystemExit(main())
