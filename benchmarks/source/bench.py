#!/usr/bin/env python3
"""Source connector benchmark: events/s published and CPU per event of `sluice run`.

    make bench-source                 # builds release, starts the local world, runs this
    .venv/bin/python benchmarks/source/bench.py --rows 20000 --binary .build/release/sluice
    .venv/bin/python benchmarks/source/bench.py --binary /tmp/sluice-old --binary .build/release/sluice   # A/B

With several --binary, each binary runs as its own connector (own name, topic prefix and offsets) on the
same database, back to back in the order given, each phase in turn (A snapshot, B snapshot, …, then the
rows are inserted once, A stream, B stream, …): an A/B in one world. `--binary PATH,KEY=VALUE,…` adds
connector properties to that run only (a producer setting against the same binary: `--binary B
--binary B,kafka.linger.ms=5`).

Two phases against the local world's "staging" SQL Server (the emulator: a test fixture, itself the
slowest part of the pipeline, so these figures are a floor for Sluice, not its ceiling):
  snapshot  N rows already in a table, snapshot.mode=initial: time until N `r` events are acknowledged;
  stream    N rows inserted in transactions of --batch rows while the connector is stopped, then the
            connector started: time until all N `c` events are published (read from /metrics).
CPU per event comes from the connector process's utime+stime in /proc (Linux), two ways: over the whole
run (start-up included: joining the liveness group and reading the stored offsets take ~6 s and ~0.2 s of
CPU, whatever the row count), and "steady": from the first published event to the last, per event
published in between (what each further event costs).
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from urllib.parse import urlparse, unquote

import pytds

CLK_TCK = os.sysconf("SC_CLK_TCK")


def staging():
    u = urlparse(os.environ["SLUICE_STAGING_URL"])
    return dict(server=u.hostname, port=u.port, user=unquote(u.username), password=unquote(u.password))


def sql(database, statements, autocommit=True):
    with pytds.connect(database=database, autocommit=autocommit, timeout=600, **staging()) as conn, conn.cursor() as cur:
        for s in statements:
            cur.execute(s)
        if not autocommit:
            conn.commit()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def events_published(port):
    try:
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2).read().decode()
    except OSError:
        return 0
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("sluice_source_events_total{"))


def run_connector(binary, config, expected, timeout):
    port = free_port()
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(config, f)
        path = f.name
    log = open(path + ".log", "w")
    proc = subprocess.Popen([binary, "run", "--http-port", str(port), path], stdout=log, stderr=subprocess.STDOUT)
    start = time.monotonic()
    first = None
    try:
        while time.monotonic() - start < timeout:
            n = events_published(port)
            if n > 0 and first is None:
                first = (time.monotonic(), cpu_seconds(proc.pid), n)
            if n >= expected:
                elapsed = time.monotonic() - start
                cpu = cpu_seconds(proc.pid)
                steady = None
                if first is not None and n > first[2]:
                    steady = {"events": int(n - first[2]), "seconds": round(time.monotonic() - first[0], 2),
                              "cpu_us_per_event": round((cpu - first[1]) / (n - first[2]) * 1e6, 1)}
                return elapsed, cpu, n, steady
            if proc.poll() is not None:
                raise SystemExit(f"sluice exited with {proc.returncode}; see {path}.log")
            time.sleep(0.05)
        raise SystemExit(f"timed out after {timeout}s with {events_published(port)} of {expected} events; see {path}.log")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def steady_text(steady):
    if steady is None:
        return "steady: n/a (all events appeared at once)"
    rate = steady["events"] / steady["seconds"] if steady["seconds"] > 0 else float("inf")
    return f"steady: {steady['events']} events in {steady['seconds']:.2f}s = {rate:.0f} events/s, {steady['cpu_us_per_event']:.1f} µs CPU/event"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=20000)
    ap.add_argument("--batch", type=int, default=500, help="rows per source transaction in the stream phase")
    ap.add_argument("--binary", action="append", default=[],
                    help="the sluice binary (default .build/release/sluice); repeat for an A/B on the same database")
    ap.add_argument("--timeout", type=float, default=900)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="an extra connector property, e.g. kafka.linger.ms=5 (repeatable)")
    args = ap.parse_args()

    variants = args.binary or [".build/release/sluice"]
    binaries = [v.split(",")[0] for v in variants]
    db = f"Bench_{uuid.uuid4().hex[:8]}"
    sql("master", [f"CREATE DATABASE [{db}]", f"ALTER DATABASE [{db}] SET ALLOW_SNAPSHOT_ISOLATION ON"])
    sql(db, ["CREATE TABLE dbo.events (id int NOT NULL PRIMARY KEY, customer nvarchar(100) NOT NULL, "
             "amount decimal(18,2) NOT NULL, created_at datetime2(3) NOT NULL)"])
    print(f"loading {args.rows} rows into {db}.dbo.events …", flush=True)
    values = [f"({i}, N'customer {i}', {i % 1000}.{i % 100:02d}, '2025-01-01T00:00:00.000')" for i in range(1, args.rows + 1)]
    sql(db, [f"INSERT INTO dbo.events VALUES {','.join(values[i:i + 1000])}" for i in range(0, len(values), 1000)])
    sql(db, ["EXEC sys.sp_cdc_enable_db",
             "EXEC sys.sp_cdc_enable_table @source_schema = N'dbo', @source_name = N'events', @role_name = NULL"])
    s = staging()
    configs = []
    for variant in variants:
        prefix = f"bench{uuid.uuid4().hex[:6]}"
        config = {"name": f"bench-{prefix}", "config": {
            "connector.class": "sqlserver-source", "database.hostname": s["server"], "database.port": str(s["port"]),
            "database.user": s["user"], "database.password": s["password"], "database.names": db,
            "topic.prefix": prefix, "kafka.bootstrap.servers": os.environ["SLUICE_KAFKA_BOOTSTRAP"],
            "poll.interval.ms": "100", "max.iteration.transactions": "50",
            "key.converter.schemas.enable": "false", "value.converter.schemas.enable": "true"}}
        for item in args.set + variant.split(",")[1:]:
            key, sep, value = item.partition("=")
            if not sep:
                raise SystemExit(f"--set {item}: expected KEY=VALUE, e.g. --set kafka.linger.ms=5")
            config["config"][key] = value
        configs.append(config)

    def phase(name, note=""):
        out = {}
        for variant, binary, config in zip(variants, binaries, configs):
            elapsed, cpu, n, steady = run_connector(binary, config, args.rows, args.timeout)
            out[variant] = {"events": int(n), "seconds": round(elapsed, 2), "events_per_s": round(n / elapsed),
                           "cpu_us_per_event": round(cpu / n * 1e6, 1), "steady": steady}
            label = f"{name} [{variant}]" if len(variants) > 1 else name
            print(f"{label}: {int(n)} events in {elapsed:.2f}s = {n / elapsed:.0f} events/s, {cpu / n * 1e6:.1f} µs CPU/event"
                  f"{note}; {steady_text(steady)}", flush=True)
        return out if len(variants) > 1 else out[variants[0]]

    results = {"snapshot": phase("snapshot")}

    print(f"inserting {args.rows} more rows in transactions of {args.batch} …", flush=True)
    more = [f"({i}, N'customer {i}', {i % 1000}.{i % 100:02d}, '2025-01-02T00:00:00.000')"
            for i in range(args.rows + 1, 2 * args.rows + 1)]
    sql(db, [f"INSERT INTO dbo.events VALUES {','.join(more[i:i + args.batch])}" for i in range(0, len(more), args.batch)])
    # Wait for the capture job to harvest everything.
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        with pytds.connect(database=db, autocommit=True, **staging()) as conn, conn.cursor() as cur:
            cur.execute("SELECT COUNT(*) FROM cdc.dbo_events_CT")
            if cur.fetchone()[0] >= args.rows:
                break
        time.sleep(0.5)
    results["stream"] = phase("stream:  ", " (includes start-up: offset load and group join)")
    os.makedirs("benchmarks/results", exist_ok=True)
    with open("benchmarks/results/source.json", "w") as f:
        json.dump(results, f, indent=2)
    sql("master", [f"DROP DATABASE [{db}]"])


if __name__ == "__main__":
    main()
