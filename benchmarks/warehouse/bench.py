#!/usr/bin/env python3
"""`make bench-warehouse`: the warehouse sink's CPU per message, alone, on the local world.

    make bench-warehouse                         # release build, local world, this script
    .venv/bin/python benchmarks/warehouse/bench.py --binary .build/release/sluice [--customers 2000] [--perf perf.data]

The credit workload of `make bench` (benchmarks/bench.py: snapshot, then a backlog of inserts, updates,
primary-key changes and deletes, published by the real source with schemas on), smaller, then the
warehouse sink (`sluice run` of connectors/warehouse-scd2.json) over every message into a fresh
warehouse database on the emulated "warehouse" SQL Server (a test fixture, far slower than Sluice).
Sluice's CPU (utime+stime of its process, /proc) is counted from its first stored batch to the last
(the emulator's time does not count). `--perf FILE` records the same interval with `perf record -g`
(and FILE.idle the idle measurement).
`--reuse` keeps the topics of the last run of the same size (.run/bench-warehouse-<customers>.json) while the broker has them,
so a second measurement skips the source. Then the same sink runs again with nothing to consume for
`--idle-seconds`: its CPU per second, times the steady interval, is the part of the figure that comes from the
emulator's slowness rather than from the messages. The run checks the warehouse against the source (current
versions = source rows, facts = rows ever seen) before it prints the figure.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import bench as b  # noqa: E402  (the workload, servers and stages of `make bench`)



def produce(binary: str, customers: int, workdir: Path, timeout: float) -> dict:
    run = uuid.uuid4().hex[:6]
    db, prefix = f"BenchWhSrc_{run}", f"benchwh{run}"
    c0, a0, r0 = customers, customers * 3 // 2, customers * 3 // 2
    b.tsql("master", [f"CREATE DATABASE [{db}]", f"ALTER DATABASE [{db}] SET ALLOW_SNAPSHOT_ISOLATION ON"])
    b.tsql(db, [f"CREATE TABLE dbo.{t} ({ddl})" for t, (_, ddl) in b.TABLES.items()] + ["CREATE TABLE dbo.bench_marker (id int NOT NULL PRIMARY KEY)"])
    events = b.insert(db, "customers", lambda i: b.customer_row(i, 1), 1, c0)
    events += b.insert(db, "credit_applications", lambda i: b.application_row(i, c0, 1), 1, a0)
    events += b.insert(db, "repayments", lambda i: b.repayment_row(i, a0, 1), 1, r0)
    b.tsql(db, ["EXEC sys.sp_cdc_enable_db"] + [
        f"EXEC sys.sp_cdc_enable_table @source_schema = N'dbo', @source_name = N'{t}', @role_name = NULL, @supports_net_changes = 1"
        for t in [*b.TABLES, "bench_marker"]])
    source = json.loads((b.ROOT / "connectors/credit-source.json").read_text())
    s = b.mssql("SLUICE_STAGING_URL")
    source["name"] = f"bench-wh-source-{run}"
    source["config"].update({
        "database.url": f"mssql://{s['user']}:{s['password']}@{s['server']}:{s['port']}/{db}", "database.names": db,
        "topic.prefix": prefix, "kafka.bootstrap.servers": os.environ["SLUICE_KAFKA_BOOTSTRAP"],
        "table.include.list": ",".join(f"dbo.{t}" for t in b.TABLES), "poll.interval.ms": 100})
    b.log(f"source snapshot: {events} rows")
    b.run_source(binary, source, events, workdir, "source-snapshot", timeout, ops="r")
    backlog = b.backlog(db, c0, a0, r0)
    b.tsql(db, ["INSERT INTO dbo.bench_marker VALUES (1)"])
    b.wait(lambda: b.tsql_rows(db, "SELECT COUNT(*) FROM cdc.dbo_bench_marker_CT")[0][0] > 0, timeout,
           "the capture job to harvest the backlog", interval=0.5)
    b.log(f"source backlog: {backlog} events")
    b.run_source(binary, source, backlog, workdir, "source-stream", timeout, ops="cud")
    return {"database": db, "topics": [f"{prefix}.{db}.dbo.{t}" for t in b.TABLES], "events": events + backlog}


def check(source_db: str, warehouse_db: str) -> None:
    """Current, not deleted versions = the source's rows; one fact row per key ever seen."""
    def count(db, query, url="SLUICE_WAREHOUSE_URL"):
        return b.tsql_rows(db, query, url)[0][0]
    pairs = [
        ("customers", count(source_db, "SELECT COUNT(*) FROM dbo.customers", "SLUICE_STAGING_URL"),
         count(warehouse_db, "SELECT COUNT(*) FROM dw.dim_customer WHERE is_current = 1 AND is_deleted = 0")),
        ("applications", count(source_db, "SELECT COUNT(*) FROM dbo.credit_applications", "SLUICE_STAGING_URL"),
         count(warehouse_db, "SELECT COUNT(*) FROM dw.dim_application WHERE is_current = 1 AND is_deleted = 0")),
        ("application facts (not deleted)", count(source_db, "SELECT COUNT(*) FROM dbo.credit_applications", "SLUICE_STAGING_URL"),
         count(warehouse_db, "SELECT COUNT(*) FROM dw.fact_credit_application WHERE is_deleted = 0")),
        ("repayment facts (not deleted)", count(source_db, "SELECT COUNT(*) FROM dbo.repayments", "SLUICE_STAGING_URL"),
         count(warehouse_db, "SELECT COUNT(*) FROM dw.fact_repayment WHERE is_deleted = 0")),
    ]
    for name, want, got in pairs:
        if want != got:
            raise SystemExit(f"WAREHOUSE MISMATCH, no figure printed: {name}: source {want}, warehouse {got}")
    b.log("warehouse = source: " + ", ".join(f"{name} {got}" for name, _, got in pairs))


def perf_record(pid: int, path: str) -> subprocess.Popen:
    """`perf record -g` of `pid` until it exits."""
    return subprocess.Popen(["perf", "record", "-g", "-q", "-o", path, "-p", str(pid)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def idle_cpu(binary: str, workdir: Path, seconds: float, perf: str | None) -> float:
    """CPU seconds per second of the same sink (same group, everything consumed) with nothing to do."""
    config = json.loads((workdir / "warehouse.json").read_text())
    sluice = b.Sluice(binary, config, "warehouse-idle", workdir)
    recorder = None
    try:
        time.sleep(10)  # connected, assigned, caught up
        sluice.check_alive()
        recorder = perf_record(sluice.proc.pid, perf) if perf else None
        start, cpu = time.monotonic(), sluice.cpu()
        time.sleep(seconds)
        sluice.check_alive()
        return (sluice.cpu() - cpu) / (time.monotonic() - start)
    finally:
        sluice.stop()
        if recorder:
            recorder.wait(timeout=120)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default=str(b.ROOT / ".build/release/sluice"))
    ap.add_argument("--customers", type=int, default=2000, help="initial customers (applications and repayments: 1.5x each)")
    ap.add_argument("--reuse", action="store_true", help="reuse the last run's topics if the broker still has them")
    ap.add_argument("--perf", help="record the steady interval with perf record -g into this file")
    ap.add_argument("--idle-seconds", type=float, default=20, help="then measure the idle sink's CPU for this long (0: skip)")
    ap.add_argument("--timeout", type=float, default=1800)
    args = ap.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="sluice-bench-warehouse-"))
    b.log(f"logs in {workdir}")

    state = b.ROOT / f".run/bench-warehouse-{args.customers}.json"
    produced = json.loads(state.read_text()) if args.reuse and state.exists() else None
    ends = None
    if produced:
        try:
            ends = b.end_offsets(os.environ["SLUICE_KAFKA_BOOTSTRAP"], produced["topics"])
        except Exception as error:  # noqa: BLE001  (a restarted broker forgot them: produce again)
            b.log(f"the last run's topics are gone ({error}); producing again")
            produced = None
    if not produced:
        produced = produce(args.binary, args.customers, workdir, args.timeout)
        state.parent.mkdir(parents=True, exist_ok=True)
        state.write_text(json.dumps(produced))
        ends = b.end_offsets(os.environ["SLUICE_KAFKA_BOOTSTRAP"], produced["topics"])
    messages = sum(ends.values())

    perf = []
    def on_first(sluice):
        if args.perf:
            perf.append(perf_record(sluice.proc.pid, args.perf))
    warehouse_db = f"BenchWh_{uuid.uuid4().hex[:6]}"
    b.log(f"the warehouse sink: {messages} messages of {produced['events']} events into {warehouse_db}")
    w = b.run_warehouse(args.binary, produced["topics"], warehouse_db, workdir, ends, args.timeout, messages, on_first)
    for p in perf:
        p.wait(timeout=120)
    check(produced["database"], warehouse_db)
    idle = idle_cpu(args.binary, workdir, args.idle_seconds, args.perf and args.perf + ".idle") if args.idle_seconds > 0 else None
    b.tsql("master", [f"DROP DATABASE [{warehouse_db}]"], "SLUICE_WAREHOUSE_URL")
    us = w["cpu"] / w["messages"] * 1e6
    print(f"warehouse sink: {w['messages']} messages (steady) in {w['seconds']:.1f} s, {w['cpu']:.2f} s CPU in Sluice, "
          f"{us:.1f} µs CPU/msg, peak RSS {w['rss_mib']:.0f} MiB")
    if idle is not None:
        # What the process spends per second while nothing arrives (librdkafka's threads, the poll loop),
        # spread over the messages of the steady interval: at most this much of the figure comes from
        # the emulator's slowness rather than from the messages (while a batch is applied the sink
        # does not poll, so the steady share is smaller).
        share = idle * w["seconds"] / w["messages"] * 1e6
        print(f"idle: {idle * 1000:.1f} ms CPU per second with nothing to do = at most {share:.1f} µs of each message's "
              f"figure at this run's {w['messages'] / w['seconds']:.0f} msg/s")
    print(f"warehouse_messages={w['messages']} warehouse_cpu_us_per_message={us:.1f} warehouse_seconds={w['seconds']:.1f} "
          f"warehouse_peak_rss_mib={w['rss_mib']:.1f}" + (f" warehouse_idle_cpu_ms_per_s={idle * 1000:.1f}" if idle is not None else ""))


if __name__ == "__main__":
    main()
