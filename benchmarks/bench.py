#!/usr/bin/env python3
"""`make bench`: every benchmark in one run on the local world, one table, one name=value line.

    make bench                                   # release build, local world, this script
    .venv/bin/python benchmarks/bench.py --binary .build/release/sluice [--customers 10000] [--no-warehouse]
    .venv/bin/python benchmarks/bench.py --only memory --memory-rows 1000000

The workload is the credit tables (customers, credit_applications, repayments: the columns and keys of
db-init/staging, without IDENTITY and foreign keys so keys can change) in a fresh database on the
"staging" SQL Server (the emulator, a test fixture), published by the real source with schemas enabled,
as the shipped connector does:
  snapshot  the initial rows, read by the source's snapshot (`r` events);
  backlog   with the source stopped: inserts, updates (every key of some tables touched two or three
            times), primary-key changes (a `d` and a `c` each) and deletes, in transactions of at most
            2,000 rows; then the source started and timed until it has published all of them.
Then, from the same topics, in the same run:
  Sluice's replica sink (`sluice run`, its own schema), the Python peer (benchmarks/peer, its own
  schema), COPY of the final rows into an empty table of the same shape, and the warehouse sink (SCD2,
  a fresh warehouse database). Before any figure is printed, the source tables, Sluice's replica and the
  peer's are compared by checksum; a difference stops the run with exit status 1.
Sluice's CPU is read from /proc/<pid>/stat (utime+stime) of its process, its peak RSS from VmHWM.
The Postgres sink's apply path alone (decode + SQL, batches already read) runs as `sluice-bench-pgsink`.

Beside this throughput stage, one module per stage, called from main() and adding rows to the same table:
  scale     benchmarks/scale/stage.py    the sink with the topics at 6 partitions, 1, 2 and 3 processes
  memory    benchmarks/memory/stage.py   peak RSS: the source streaming one big transaction, the sink its backlog
  latency   benchmarks/latency/stage.py  p50/p99 of replica visible − source commit at 500 changes/s
`--only` picks stages (`--help` lists every knob); benchmarks/README.md says how each figure is taken.

The machine is shared (2 cores, other builds may run): the ratios of one run are the figures to read.
"""
from __future__ import annotations

import argparse
import datetime
import decimal
import hashlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from urllib.parse import urlparse, unquote

import psycopg
import pytds
from confluent_kafka import Consumer, TopicPartition

ROOT = Path(__file__).resolve().parent.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")

TABLES = {
    "customers": ("customer_id", """
        customer_id int NOT NULL CONSTRAINT pk_customers PRIMARY KEY, full_name nvarchar(200) NOT NULL,
        national_id nvarchar(20) NOT NULL, date_of_birth date NOT NULL, email nvarchar(200) NULL,
        phone nvarchar(30) NULL, address nvarchar(400) NULL, monthly_income decimal(18,2) NULL,
        employment_status nvarchar(30) NULL, created_at datetime2(3) NOT NULL, updated_at datetime2(3) NOT NULL"""),
    "credit_applications": ("application_id", """
        application_id int NOT NULL CONSTRAINT pk_credit_applications PRIMARY KEY, customer_id int NOT NULL,
        product nvarchar(30) NOT NULL, requested_amount decimal(18,2) NOT NULL, term_months int NOT NULL,
        interest_rate decimal(5,2) NULL, status nvarchar(20) NOT NULL, submitted_by nvarchar(100) NOT NULL,
        submitted_at datetime2(3) NOT NULL, decided_by nvarchar(100) NULL, decided_at datetime2(3) NULL,
        decision_note nvarchar(400) NULL"""),
    "repayments": ("repayment_id", """
        repayment_id int NOT NULL CONSTRAINT pk_repayments PRIMARY KEY, application_id int NOT NULL,
        amount decimal(18,2) NOT NULL, paid_at datetime2(3) NOT NULL"""),
}


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------- servers

def mssql(url_variable: str) -> dict:
    u = urlparse(os.environ[url_variable])
    return dict(server=u.hostname, port=u.port, user=unquote(u.username), password=unquote(u.password))


def tsql(database: str, statements, url_variable="SLUICE_STAGING_URL") -> list[int]:
    """Runs each statement in its own transaction; returns the row counts."""
    counts = []
    with pytds.connect(database=database, autocommit=True, timeout=900, **mssql(url_variable)) as conn, conn.cursor() as cur:
        for s in statements:
            cur.execute(s)
            counts.append(cur.rowcount)
    return counts


def tsql_rows(database: str, query: str, url_variable="SLUICE_STAGING_URL") -> list[tuple]:
    with pytds.connect(database=database, autocommit=True, timeout=900, **mssql(url_variable)) as conn, conn.cursor() as cur:
        cur.execute(query)
        return [tuple(r) for r in cur.fetchall()]


def pg():
    u = urlparse(os.environ["SLUICE_PG_URL"])
    return psycopg.connect(host=u.hostname, port=u.port, user=unquote(u.username), password=unquote(u.password or ""),
                           dbname=u.path.lstrip("/"), autocommit=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------------------------------------- processes

def proc_cpu(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_hwm_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


class Sluice:
    """`sluice run <file>` with its own HTTP port, stopped with SIGTERM."""

    def __init__(self, binary: str, config: dict, name: str, workdir: Path):
        self.port = free_port()
        self.path = workdir / f"{name}.json"
        self.path.write_text(json.dumps(config))
        self.log = workdir / f"{name}.log"
        self.proc = subprocess.Popen([binary, "run", "--http-port", str(self.port), str(self.path)],
                                     stdout=open(self.log, "w"), stderr=subprocess.STDOUT)
        self.started = time.monotonic()

    def metric_lines(self, prefix: str, containing: str = "") -> float:
        """The sum of the metric lines that start with `prefix` and contain `containing`."""
        try:
            text = urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=2).read().decode()
        except OSError:
            return 0.0
        return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(prefix) and containing in line)

    def check_alive(self) -> None:
        if self.proc.poll() is not None:
            raise SystemExit(f"sluice exited with {self.proc.returncode}; see {self.log}")

    def cpu(self) -> float:
        return proc_cpu(self.proc.pid)

    def hwm(self) -> float:
        return proc_hwm_mib(self.proc.pid)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def wait(condition, timeout: float, what: str, interval: float = 0.02, alive=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if alive:
            alive()
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise SystemExit(f"timed out after {timeout:.0f}s waiting for {what}")


# ---------------------------------------------------------------------------------------------- workload

def customer_row(i: int, day: int) -> str:
    return (f"({i}, N'Customer {i} Ørsted', N'N{i:09d}', '19{60 + i % 40:02d}-{1 + i % 12:02d}-{1 + i % 28:02d}', "
            f"N'customer{i}@example.com', N'+49 151 {i:07d}', N'Main Street {i % 500}, Dublin {i % 24}', "
            f"{1000 + i % 9000}.{i % 100:02d}, N'{['employed', 'retired', 'student', 'part_time'][i % 4]}', "
            f"'2025-01-{day:02d}T09:{i % 60:02d}:00.{i % 1000:03d}', '2025-01-{day:02d}T09:{i % 60:02d}:00.{i % 1000:03d}')")


def application_row(i: int, customers: int, day: int) -> str:
    return (f"({i}, {1 + i % customers}, N'{['personal_loan', 'mortgage', 'credit_card'][i % 3]}', {1000 + i % 50000}.00, "
            f"{12 * (1 + i % 5)}, {'NULL' if i % 4 == 0 else f'{3 + i % 9}.{i % 100:02d}'}, N'submitted', N'officer{i % 17}', "
            f"'2025-01-{day:02d}T10:{i % 60:02d}:00.{i % 1000:03d}', NULL, NULL, NULL)")


def repayment_row(i: int, applications: int, day: int) -> str:
    return f"({i}, {1 + i % applications}, {10 + i % 990}.{i % 100:02d}, '2025-01-{day:02d}T11:{i % 60:02d}:00.{i % 1000:03d}')"


def chunks(first: int, last: int, size: int):
    start = first
    while start <= last:
        yield start, min(last, start + size - 1)
        start += size


def insert(db: str, table: str, make, first: int, last: int, size: int = 1000) -> int:
    statements = [f"INSERT INTO dbo.{table} VALUES " + ",".join(make(i) for i in range(a, b + 1)) for a, b in chunks(first, last, size)]
    return sum(tsql(db, statements))


def backlog(db: str, c0: int, a0: int, r0: int) -> int:
    """Writes the backlog; returns the number of events the source publishes for it."""
    events = 0
    c1, a1, r1 = 2 * c0, 2 * a0, 2 * r0
    events += insert(db, "customers", lambda i: customer_row(i, 2), c0 + 1, c1)
    events += insert(db, "credit_applications", lambda i: application_row(i, c1, 2), a0 + 1, a1)
    events += insert(db, "repayments", lambda i: repayment_row(i, a1, 2), r0 + 1, r1)
    updates = []
    for a, b in chunks(1, c1, 4000):  # every other customer, then every third: keys touched repeatedly
        updates.append(f"UPDATE dbo.customers SET monthly_income = monthly_income + 100, updated_at = '2025-02-01T00:00:00.000' "
                       f"WHERE customer_id % 2 = 0 AND customer_id BETWEEN {a} AND {b}")
    for a, b in chunks(1, c1, 6000):
        updates.append(f"UPDATE dbo.customers SET email = N'moved' + CAST(customer_id AS nvarchar(20)) + N'@example.org', "
                       f"address = NULL, updated_at = '2025-02-02T00:00:00.000' WHERE customer_id % 3 = 0 AND customer_id BETWEEN {a} AND {b}")
    for a, b in chunks(1, a1, 4000):
        updates.append(f"UPDATE dbo.credit_applications SET status = N'approved', decided_by = N'approver', "
                       f"decided_at = '2025-02-03T00:00:00.000', decision_note = N'ok \"fine\" \\ tab\there' "
                       f"WHERE application_id % 2 = 0 AND application_id BETWEEN {a} AND {b}")
    events += sum(tsql(db, updates))
    # Primary-key changes: each becomes a delete of the old key and a create of the new one.
    pk = [f"UPDATE dbo.repayments SET repayment_id = repayment_id + 10000000 WHERE repayment_id % 10 = 0 AND repayment_id BETWEEN {a} AND {b}"
          for a, b in chunks(1, r1, 10000)]
    events += 2 * sum(tsql(db, pk))
    deletes = [f"DELETE FROM dbo.repayments WHERE repayment_id % 7 = 0 AND repayment_id BETWEEN {a} AND {b}" for a, b in chunks(1, r1, 14000)]
    deletes += [f"DELETE FROM dbo.credit_applications WHERE application_id % 13 = 0 AND application_id BETWEEN {a} AND {b}"
                for a, b in chunks(1, a1, 26000)]
    deletes += [f"UPDATE dbo.customers SET phone = NULL WHERE customer_id % 5 = 0 AND customer_id BETWEEN {a} AND {b}" for a, b in chunks(1, c1, 10000)]
    events += sum(tsql(db, deletes))
    return events


# ---------------------------------------------------------------------------------------------- checks

def canonical(value) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, datetime.datetime):
        return value.replace(tzinfo=None).isoformat(timespec="microseconds")
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, decimal.Decimal):
        return format(value.normalize(), "f")  # equal numbers, whatever scale the server reports
    return str(value)


def checksum(rows) -> tuple[int, str]:
    digest = hashlib.sha256()
    count = 0
    for row in sorted(rows, key=lambda r: r[0]):
        digest.update(("\t".join(canonical(v) for v in row) + "\n").encode())
        count += 1
    return count, digest.hexdigest()[:16]


def source_checksums(db: str) -> dict:
    out = {}
    for table, (key, ddl) in TABLES.items():
        columns = [part.split()[0] for part in re.split(r",\s*(?![^()]*\))", ddl.strip())]
        out[table] = checksum(tsql_rows(db, f"SELECT {', '.join(columns)} FROM dbo.{table}"))
    return out


def pg_checksums(schema: str) -> dict:
    out = {}
    with pg() as conn:
        for table, (key, ddl) in TABLES.items():
            columns = [part.split()[0] for part in re.split(r",\s*(?![^()]*\))", ddl.strip())]
            rows = conn.execute(f'SELECT {", ".join(columns)} FROM "{schema}"."{table}"').fetchall()
            out[table] = checksum(rows)
    return out


# ---------------------------------------------------------------------------------------------- stages

def end_offsets(bootstrap: str, topics: list[str], quiet: float = 2.0) -> dict:
    """{(topic, partition): offset after the last message} of topics nobody writes to any more.

    The broker's high watermark is only where reading starts: Tansu under-reports it (the start of the
    partition's last batch, it seems: 1411 for 1488 messages), so each partition is read from there until
    it has stayed quiet for `quiet` seconds, and its end is the last offset read + 1."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-watermarks", "enable.auto.commit": False,
                         "max.partition.fetch.bytes": 8388608})
    try:
        metadata = consumer.list_topics(timeout=10)
        ends = {}
        for topic in topics:
            for partition in metadata.topics[topic].partitions:
                ends[(topic, partition)] = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)[1]
        consumer.assign([TopicPartition(t, p, max(0, end - 1)) for (t, p), end in ends.items()])
        while True:
            messages = consumer.consume(num_messages=10000, timeout=quiet)
            if not messages:
                break
            for m in messages:
                if m.error() is None:
                    key = (m.topic(), m.partition())
                    ends[key] = max(ends[key], m.offset() + 1)
        return ends
    finally:
        consumer.close()


def run_source(binary, config, expected, workdir, name, timeout, ops):
    """Runs the source until it has published `expected` events of the operations `ops` (this process's count)."""
    sluice = Sluice(binary, config, name, workdir)
    first = None  # (monotonic time, CPU seconds, events) when the first events were seen
    def published():
        nonlocal first
        total = sum(sluice.metric_lines("sluice_source_events_total{", f'op="{op}"') for op in ops)
        if total > 0 and first is None:
            first = (time.monotonic(), sluice.cpu(), total)
        return total if total >= expected else 0
    try:
        # Every scrape of /metrics costs the process CPU too (2–8 % of it at 20 a second): 10 a second.
        n = wait(published,
                 timeout, f"{expected} source events", interval=0.1, alive=sluice.check_alive)
        now, cpu = time.monotonic(), sluice.cpu()
        # "Steady": from the first events seen to the last, per event in between — what each further
        # event costs, without the start-up (group joins, stored offsets: ~0.2 s of CPU whatever the size).
        steady = None
        if first is not None and n > first[2]:
            steady = {"events": int(n - first[2]), "seconds": now - first[0], "cpu": cpu - first[1]}
        return {"events": int(n), "seconds": now - sluice.started, "cpu": cpu, "rss_mib": sluice.hwm(), "steady": steady}
    finally:
        sluice.stop()


def source_cpu_text(result) -> str:
    """'S µs CPU/event steady (R events/s), W whole run' for a source stage's row."""
    whole = result["cpu"] / result["events"] * 1e6
    steady = result.get("steady")
    if not steady:
        return f"{whole:.1f} µs CPU/event (whole run; no steady interval)"
    return (f"{steady['cpu'] / steady['events'] * 1e6:.1f} µs CPU/event steady "
            f"({steady['events'] / steady['seconds']:.0f} events/s), {whole:.1f} whole run")


def source_steady_us(result):
    steady = result.get("steady")
    return round(steady["cpu"] / steady["events"] * 1e6, 1) if steady else None


# `--source-set` / `--sink-set` of this run (every stage's source; Sluice's replica sink in the throughput,
# scale and memory stages), so one knob can be compared back to back with the shipped files unchanged.
SOURCE_SET: dict = {}
SINK_SET: dict = {}


def source_connector() -> dict:
    """The shipped `connectors/credit-source.json` with this run's `--source-set` properties."""
    source = json.loads((ROOT / "connectors/credit-source.json").read_text())
    source["config"].update(SOURCE_SET)
    return source


def replica_sink_config(topics, schema, group, extra=None) -> dict:
    """The replica sink's connector file in the benchmark: its own schema and consumer group, the shipped
    file's batch size and apply connections."""
    shipped = json.loads((ROOT / "connectors/replica-postgres.json").read_text())["config"]
    config = {"name": f"bench-replica-{schema}", "config": {
        **{k: str(shipped[k]) for k in ("batch.size", "apply.connections") if k in shipped},
        "connector.class": "postgres-sink", "topics": ",".join(topics), "group.id": group,
        "connection.url": os.environ["SLUICE_PG_URL"], "kafka.bootstrap.servers": os.environ["SLUICE_KAFKA_BOOTSTRAP"],
        "table.name.format": schema + ".${source.table}", "offsets.schema": "sluice",
        "kafka.session.timeout.ms": "6000", "kafka.heartbeat.interval.ms": "500"}}
    config["config"].update(SINK_SET)
    config["config"].update(extra or {})
    return config


def run_replica_sink(binary, topics, schema, group, workdir, ends, timeout, extra=None, on_poll=None):
    """`on_poll(sluice)`, if given, is called at every progress check (e.g. to sample its memory)."""
    sluice = Sluice(binary, replica_sink_config(topics, schema, group, extra), f"replica-{schema}", workdir)
    total_end = sum(ends.values())
    first = None
    try:
        with pg() as conn:
            def stored():
                # On a fresh world the sink creates its bookkeeping tables only after it started.
                if conn.execute("SELECT to_regclass('sluice.sluice_offsets')").fetchone()[0] is None:
                    return {}
                rows = conn.execute("SELECT topic, \"partition\", next_offset FROM sluice.sluice_offsets WHERE group_id = %s", (group,)).fetchall()
                return {(t, p): o for t, p, o in rows}
            while True:
                sluice.check_alive()
                if on_poll:
                    on_poll(sluice)
                offsets = stored()
                done = sum(offsets.values())
                if offsets and first is None:
                    first = (time.monotonic(), done, sluice.cpu())
                if all(offsets.get(tp, 0) >= end for tp, end in ends.items()):
                    break
                if time.monotonic() - sluice.started > timeout:
                    raise SystemExit(f"the replica sink did not finish in {timeout}s; see {sluice.log}")
                time.sleep(0.02)
        end_time, cpu = time.monotonic(), sluice.cpu()
        return {"messages": total_end, "steady_messages": total_end - first[1], "steady_seconds": end_time - first[0],
                "steady_start": first[0], "steady_end": end_time,
                "seconds": end_time - sluice.started, "cpu": cpu, "steady_cpu": cpu - first[2], "rss_mib": sluice.hwm()}
    finally:
        sluice.stop()


# The peer as an afternoon's script leaves librdkafka: 1 MiB per partition per fetch, a full pre-fetch queue
# postpones the next fetch by 1 s (the peer itself runs with the sinks' fetch settings; this is the second run).
PEER_LIBRDKAFKA_DEFAULTS = ["max.partition.fetch.bytes=1048576", "fetch.queue.backoff.ms=1000", "queued.max.messages.kbytes=65536",
                            "fetch.max.bytes=52428800"]


def run_peer(topics, schema, group, timeout, kafka_set=()):
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks/peer/peer.py"), "--bootstrap", os.environ["SLUICE_KAFKA_BOOTSTRAP"],
                           "--pg-url", os.environ["SLUICE_PG_URL"], "--schema", schema, "--group", group, "--until-end", *topics,
                           *[a for kv in kafka_set for a in ("--kafka-set", kv)]],
                          capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise SystemExit(f"the peer failed:\n{proc.stderr[-3000:]}")
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    return {"messages": r["messages"], "steady_messages": r["messages"] - r["first_commit_messages"],
            "steady_seconds": r["last_commit"] - r["first_commit"], "cpu": r["cpu_seconds"], "rss_mib": r["max_rss_kib"] / 1024,
            "steady_start": r["first_commit"], "steady_end": r["last_commit"],
            "steady_cpu": r["cpu_seconds"] - r["first_commit_cpu_seconds"]}


def copy_final_rows(schema: str) -> dict:
    """COPY of the replica's final rows (rendered as text beforehand) into empty tables of the same shape."""
    rows = seconds = 0.0
    with pg() as conn:
        for table in TABLES:
            data = bytearray()
            with conn.cursor().copy(f'COPY "{schema}"."{table}" TO STDOUT') as copy:
                for chunk in copy:
                    data += chunk
            conn.execute(f'CREATE TABLE "{schema}"."copy_{table}" (LIKE "{schema}"."{table}" INCLUDING ALL)')
            start = time.monotonic()
            with conn.transaction():
                with conn.cursor().copy(f'COPY "{schema}"."copy_{table}" FROM STDIN') as copy:
                    copy.write(bytes(data))
            seconds += time.monotonic() - start
            rows += conn.execute(f'SELECT count(*) FROM "{schema}"."copy_{table}"').fetchone()[0]
    return {"rows": int(rows), "seconds": seconds}


def run_warehouse(binary, topics, db, workdir, ends, timeout, limit, on_first=None):
    wh = mssql("SLUICE_WAREHOUSE_URL")
    tsql("master", [f"CREATE DATABASE [{db}]"], "SLUICE_WAREHOUSE_URL")
    tsql(db, ["CREATE SCHEMA dw"], "SLUICE_WAREHOUSE_URL")
    script = re.sub(r"^USE .*$", "", (ROOT / "db-init/warehouse/20-tables.sql").read_text(), flags=re.M)
    batches = [b for b in re.split(r"^\s*GO\s*$", script, flags=re.M) if re.sub(r"--.*", "", b).strip()]
    tsql(db, batches, "SLUICE_WAREHOUSE_URL")
    config = json.loads((ROOT / "connectors/warehouse-scd2.json").read_text())
    c = config["config"]
    config["name"] = f"bench-warehouse-{db.lower()}"
    c["connection.url"] = f"mssql://{wh['user']}:{wh['password']}@{wh['server']}:{wh['port']}/{db}"
    c["kafka.bootstrap.servers"] = os.environ["SLUICE_KAFKA_BOOTSTRAP"]
    c["topics"] = ",".join(topics)
    c["group.id"] = config["name"]
    c["kafka.session.timeout.ms"] = "6000"
    c["kafka.heartbeat.interval.ms"] = "500"
    sluice = Sluice(binary, config, "warehouse", workdir)
    # The emulated warehouse (a Python test fixture) runs the MERGEs at a few hundred messages a second:
    # the stage samples the first `limit` messages and counts Sluice's CPU from its first stored batch.
    first = None
    try:
        while True:
            sluice.check_alive()
            rows = tsql_rows(db, f"SELECT topic, partition_id, next_offset FROM dw.sluice_offsets WHERE consumer_group = N'{c['group.id']}'",
                             "SLUICE_WAREHOUSE_URL")
            done = sum(int(o) for _, _, o in rows)
            if rows and first is None:
                first = (time.monotonic(), done, sluice.cpu())
                on_first and on_first(sluice)  # benchmarks/warehouse/bench.py: perf record from here
            if first and (done >= limit or done >= sum(ends.values())):
                break
            if time.monotonic() - sluice.started > timeout:
                raise SystemExit(f"the warehouse sink stored {done} of {limit} messages in {timeout}s; see {sluice.log}")
            time.sleep(0.5)
        end, cpu = time.monotonic(), sluice.cpu()
        return {"messages": done - first[1], "seconds": end - first[0], "cpu": cpu - first[2], "rss_mib": sluice.hwm()}
    finally:
        sluice.stop()


def run_apply_benchmark(binary_dir: Path, events: int, batch: int):
    exe = binary_dir / "sluice-bench-pgsink"
    if not exe.exists():
        return None
    proc = subprocess.run([str(exe), str(events), str(batch)], capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        raise SystemExit(f"sluice-bench-pgsink failed:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    line = [l for l in proc.stdout.splitlines() if l.startswith("result ")][-1]
    return dict(kv.split("=", 1) for kv in line.split()[1:])


# ---------------------------------------------------------------------------------------------- main

# The stages beside the throughput stage, one module each; they use this file's helpers as `bench`.
sys.modules.setdefault("bench", sys.modules[__name__])
if str(ROOT / "benchmarks") not in sys.path:
    sys.path.insert(0, str(ROOT / "benchmarks"))
import machine  # noqa: E402
from latency import stage as latency_stage  # noqa: E402
from memory import stage as memory_stage  # noqa: E402
from scale import stage as scale_stage  # noqa: E402

STAGES = ("throughput", "scale", "memory", "latency")


def parse_arguments():
    ap = argparse.ArgumentParser(description="Every Sluice benchmark in one run: one table, one name=value line.")
    ap.add_argument("--binary", default=str(ROOT / ".build/release/sluice"))
    ap.add_argument("--only", default=",".join(STAGES),
                    help=f"comma-separated stages to run, of {', '.join(STAGES)} (scale needs throughput's topics) [all]")
    ap.add_argument("--customers", type=int, default=10000, help="initial customers (applications and repayments: 1.5x each)")
    ap.add_argument("--no-warehouse", action="store_true")
    ap.add_argument("--warehouse-messages", type=int, default=8000, help="messages the warehouse stage samples")
    ap.add_argument("--apply-events", type=int, default=100000, help="events for the apply-only benchmark (0: skip)")
    ap.add_argument("--scale-partitions", type=int, default=6, help="partitions of the scale stage's topics")
    ap.add_argument("--scale-processes", default="1,2,3", help="sink process counts the scale stage runs, comma-separated")
    ap.add_argument("--memory-rows", type=int, default=memory_stage.DEFAULT_ROWS,
                    help=f"rows of the memory stage's one source transaction (the target is stated for 1000000) [{memory_stage.DEFAULT_ROWS}]")
    ap.add_argument("--latency-rate", type=float, default=500, help="changes per second the latency stage writes [500]")
    ap.add_argument("--latency-seconds", type=float, default=30, help="how long the latency stage writes [30]")
    ap.add_argument("--latency-tx", type=int, default=20, help="changes per transaction in the latency stage (a fifth of them updates) [20]")
    ap.add_argument("--latency-poll-ms", type=int, default=None, help="the source's poll.interval.ms in the latency stage [as shipped]")
    ap.add_argument("--sink-set", action="append", default=[], metavar="KEY=VALUE",
                    help="a property for Sluice's replica sink in the throughput, scale and memory stages, e.g. kafka.fetch.wait.max.ms=500 (repeatable)")
    ap.add_argument("--source-set", action="append", default=[], metavar="KEY=VALUE",
                    help="a property for the source in every stage, e.g. kafka.compression.type=none (repeatable)")
    ap.add_argument("--timeout", type=float, default=1800)
    ap.add_argument("--results", default=str(ROOT / "benchmarks/results"))
    args = ap.parse_args()
    args.only = [x.strip() for x in args.only.split(",") if x.strip()]
    unknown = [x for x in args.only if x not in STAGES]
    if unknown:
        ap.error(f"--only: unknown stage(s) {', '.join(unknown)}; choose from {', '.join(STAGES)}")
    if "scale" in args.only and "throughput" not in args.only:
        ap.error("--only: the scale stage copies the throughput stage's topics; add throughput")
    try:
        args.scale_processes = [int(x) for x in args.scale_processes.split(",") if x.strip()]
    except ValueError:
        ap.error(f"--scale-processes: expected comma-separated counts such as 1,2,3, got {args.scale_processes!r}")
    for option in ("sink_set", "source_set"):
        pairs = {}
        for item in getattr(args, option):
            key, sep, value = item.partition("=")
            if not sep or not key:
                ap.error(f"--{option.replace('_', '-')} {item}: expected KEY=VALUE, e.g. kafka.fetch.wait.max.ms=500")
            pairs[key] = value
        setattr(args, option, pairs)
    SINK_SET.update(args.sink_set)
    SOURCE_SET.update(args.source_set)
    if not Path(args.binary).exists():
        ap.error(f"--binary: {args.binary} does not exist; build it with `swift build -c release --product sluice` (make bench does)")
    return args


def interrupted(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def main():
    args = parse_arguments()
    # SIGTERM (timeout, a closed terminal) unwinds like Ctrl-C, so each stage stops the sluice processes it started.
    signal.signal(signal.SIGTERM, interrupted)
    run = uuid.uuid4().hex[:6]
    workdir = Path(tempfile.mkdtemp(prefix=f"sluice-bench-{run}-"))
    log(f"run {run}: stages {', '.join(args.only)}, logs in {workdir}")
    rows, values, detail, header, cleanup = [], {}, {}, [], []
    try:
        if "throughput" in args.only:
            t = throughput(args, run, workdir)
            rows += t["rows"]
            values.update(t["values"])
            detail.update(t["detail"])
            header.append(t["header"])
            cleanup.append(t["cleanup"])
            if "scale" in args.only and args.scale_processes:
                log(f"scale: {args.scale_partitions} partitions, {args.scale_processes} sink processes")
                r = scale_stage.run(args.binary, run, workdir, t["topics"], args.scale_partitions, args.scale_processes,
                                    t["checksums"], args.timeout, reference_schema=t["replica_schema"])
                rows += r["rows"]
                values.update(r["values"])
                detail["scale"] = r["detail"]
        if "memory" in args.only and args.memory_rows > 0:
            log(f"memory: one source transaction of {args.memory_rows} rows")
            r = memory_stage.run(args.binary, run, workdir, args.memory_rows, args.timeout,
                                 source_connector())
            rows += r["rows"]
            values.update(r["values"])
            detail["memory"] = r["detail"]
        if "latency" in args.only and args.latency_seconds > 0:
            r = latency_stage.run(args.binary, run, workdir, args.latency_rate, args.latency_seconds, args.latency_tx,
                                  args.latency_poll_ms, args.timeout)
            rows += r["rows"]
            values.update(r["values"])
            detail["latency"] = r["detail"]
    finally:
        for step in cleanup:
            step()

    out = [f"Sluice benchmark {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, run {run}: "
           f"{'; '.join(header) or 'stages ' + ', '.join(args.only)}, {os.cpu_count()} cores "
           f"(shared; ratios are same-run), load average {os.getloadavg()[0]:.1f} at the end",
           f"{'stage':40} {'events/rows':>11} {'seconds':>8} {'rate/s':>9}  ratio",
           "-" * 100]
    for name, n, seconds, r, ratio in rows:
        out.append(f"{name:40} {n:>11} {seconds:>8.2f} {r:>9.0f}  {ratio}")
    out.append(" ".join(f"{k}={v}" for k, v in values.items()))
    text = "\n".join(out)
    print(text)
    results = Path(args.results)
    results.mkdir(parents=True, exist_ok=True)
    if args.only == list(STAGES):
        (results / "latest.txt").write_text(text + "\n")
    stamp = time.strftime('%Y%m%dT%H%M%S', time.gmtime())
    (results / f"bench-{stamp}.txt").write_text(text + "\n")
    (results / f"bench-{stamp}.json").write_text(json.dumps({**detail, "values": values, "stages": args.only}, indent=2, default=str))


def throughput(args, run: str, workdir: Path) -> dict:
    """The credit tables through the source, the replica sink, the peer, COPY, the warehouse, the apply path."""
    db, prefix = f"Bench_{run}", f"bench{run}"
    c0, a0, r0 = args.customers, args.customers * 3 // 2, args.customers * 3 // 2
    log(f"throughput: database {db}, topic prefix {prefix}")

    tsql("master", [f"CREATE DATABASE [{db}]", f"ALTER DATABASE [{db}] SET ALLOW_SNAPSHOT_ISOLATION ON"])
    tsql(db, [f"CREATE TABLE dbo.{t} ({ddl})" for t, (_, ddl) in TABLES.items()] + ["CREATE TABLE dbo.bench_marker (id int NOT NULL PRIMARY KEY)"])
    log(f"loading {c0 + a0 + r0} initial rows")
    snapshot_events = insert(db, "customers", lambda i: customer_row(i, 1), 1, c0)
    snapshot_events += insert(db, "credit_applications", lambda i: application_row(i, c0, 1), 1, a0)
    snapshot_events += insert(db, "repayments", lambda i: repayment_row(i, a0, 1), 1, r0)
    tsql(db, ["EXEC sys.sp_cdc_enable_db"] + [
        f"EXEC sys.sp_cdc_enable_table @source_schema = N'dbo', @source_name = N'{t}', @role_name = NULL, @supports_net_changes = 1"
        for t in [*TABLES, "bench_marker"]])

    source = source_connector()
    s = mssql("SLUICE_STAGING_URL")
    source["name"] = f"bench-source-{run}"
    source["config"].update({
        "database.url": f"mssql://{s['user']}:{s['password']}@{s['server']}:{s['port']}/{db}", "database.names": db,
        "topic.prefix": prefix, "kafka.bootstrap.servers": os.environ["SLUICE_KAFKA_BOOTSTRAP"],
        "table.include.list": ",".join(f"dbo.{t}" for t in TABLES), "poll.interval.ms": 100})
    log(f"snapshot: {snapshot_events} rows")
    snap = run_source(args.binary, source, snapshot_events, workdir, "source-snapshot", args.timeout, ops="r")

    log("writing the backlog with the source stopped")
    backlog_events = backlog(db, c0, a0, r0)
    tsql(db, ["INSERT INTO dbo.bench_marker VALUES (1)"])
    wait(lambda: tsql_rows(db, "SELECT COUNT(*) FROM cdc.dbo_bench_marker_CT")[0][0] > 0, args.timeout,
         "the capture job to harvest the backlog", interval=0.5)
    log(f"backlog: {backlog_events} events; streaming it")
    stream = run_source(args.binary, source, backlog_events, workdir, "source-stream", args.timeout, ops="cud")

    topics = [f"{prefix}.{db}.dbo.{t}" for t in TABLES]
    ends = end_offsets(os.environ["SLUICE_KAFKA_BOOTSTRAP"], topics)
    total_events = snapshot_events + backlog_events
    log(f"{total_events} events ({sum(ends.values())} messages with tombstones) in {len(topics)} topics; Sluice's replica sink")
    sluice_schema, peer_schema = f"sluice_{run}", f"peer_{run}"
    with machine.MachineSampler(ROOT) as sampler:
        sink = run_replica_sink(args.binary, topics, sluice_schema, f"bench-sluice-{run}", workdir, ends, args.timeout)
        log("the Python peer")
        peer = run_peer(topics, peer_schema, f"bench-peer-{run}", args.timeout)
        log("the Python peer with librdkafka's fetch defaults")
        peer_defaults = run_peer(topics, peer_schema + "_defaults", f"bench-peer-defaults-{run}", args.timeout, PEER_LIBRDKAFKA_DEFAULTS)
    sink_machine = machine.breakdown(sampler.window(sink["steady_start"], sink["steady_end"]), sink["steady_cpu"], sink["steady_messages"])
    peer_machine = machine.breakdown(sampler.window(peer["steady_start"], peer["steady_end"]), peer["steady_cpu"], peer["steady_messages"])

    log("checksums: source, Sluice's replica, the peer's")
    want, got, theirs = source_checksums(db), pg_checksums(sluice_schema), pg_checksums(peer_schema)
    theirs_defaults = pg_checksums(peer_schema + "_defaults")
    for table in TABLES:
        line = f"{table}: source {want[table]}, sluice {got[table]}, peer {theirs[table]}, peer (defaults) {theirs_defaults[table]}"
        if not (want[table] == got[table] == theirs[table] == theirs_defaults[table]):
            raise SystemExit(f"CHECKSUM MISMATCH, no figures printed: {line}")
        log("equal " + line)

    log("COPY of the final rows")
    copy = copy_final_rows(sluice_schema)
    warehouse = None
    if not args.no_warehouse:
        log("the warehouse sink")
        warehouse = run_warehouse(args.binary, topics, f"BenchWh_{run}", workdir, ends, args.timeout, args.warehouse_messages)
    apply = None
    if args.apply_events:
        log(f"the Postgres sink's apply path alone ({args.apply_events} events)")
        apply = run_apply_benchmark(Path(args.binary).parent, args.apply_events, 5000)

    # -------------------------------------------------------------------------------------- the table
    def rate(n, s):
        return n / s if s > 0 else 0.0
    sink_events = sink["steady_messages"]
    sink_rate = rate(sink_events, sink["steady_seconds"])
    peer_rate = rate(peer["steady_messages"], peer["steady_seconds"])
    peer_defaults_rate = rate(peer_defaults["steady_messages"], peer_defaults["steady_seconds"])
    copy_rate = rate(copy["rows"], copy["seconds"])
    # Sink vs COPY: the sink's messages/s against COPY's rows/s (the measure), and the time COPY
    # needs to load the final rows against the time the sink needs to reach them from every message.
    sink_all_seconds = sum(ends.values()) / sink_rate
    rows = [
        ("source snapshot", snap["events"], snap["seconds"], rate(snap["events"], snap["seconds"]),
         source_cpu_text(snap)),
        ("source stream (backlog)", stream["events"], stream["seconds"], rate(stream["events"], stream["seconds"]),
         source_cpu_text(stream)),
        ("replica sink: Sluice (steady)", sink_events, sink["steady_seconds"], sink_rate,
         f"{sink_rate / peer_rate:.2f}x peer ({sink_rate / peer_defaults_rate:.2f}x with its defaults), {sink_rate / copy_rate:.2f}x COPY rate "
         f"({copy['seconds'] / sink_all_seconds:.2f}x its time to the final rows), "
         f"{sink['steady_cpu'] / sink_events * 1e6:.1f} µs CPU/msg"),
        ("  the machine meanwhile (Sluice)", sink_events, sink["steady_seconds"], sink_rate, machine.describe(sink_machine)),
        ("replica sink: Python peer (steady)", peer["steady_messages"], peer["steady_seconds"], peer_rate,
         f"{peer['steady_cpu'] / peer['steady_messages'] * 1e6:.1f} µs CPU/msg"),
        ("  the machine meanwhile (peer)", peer["steady_messages"], peer["steady_seconds"], peer_rate, machine.describe(peer_machine)),
        ("  the peer, librdkafka's fetch defaults", peer_defaults["steady_messages"], peer_defaults["steady_seconds"], peer_defaults_rate,
         f"{peer_defaults['steady_cpu'] / peer_defaults['steady_messages'] * 1e6:.1f} µs CPU/msg"),
        ("COPY of the final rows", copy["rows"], copy["seconds"], copy_rate, "reference"),
    ]
    values = {
        "events": total_events, "messages": sum(ends.values()),
        "source_snapshot_cpu_us_per_event": round(snap["cpu"] / snap["events"] * 1e6, 1),
        "source_stream_cpu_us_per_event": round(stream["cpu"] / stream["events"] * 1e6, 1),
        "source_snapshot_steady_cpu_us_per_event": source_steady_us(snap),
        "source_stream_steady_cpu_us_per_event": source_steady_us(stream),
        "source_stream_peak_rss_mib": round(stream["rss_mib"], 1),
        "sink_events_per_s": round(sink_rate), "peer_events_per_s": round(peer_rate), "copy_rows_per_s": round(copy_rate),
        "sink_vs_peer": round(sink_rate / peer_rate, 2),
        "peer_defaults_events_per_s": round(peer_defaults_rate), "sink_vs_peer_defaults": round(sink_rate / peer_defaults_rate, 2),
        "sink_vs_copy": round(sink_rate / copy_rate, 2),
        "sink_time_vs_copy_time": round(copy["seconds"] / sink_all_seconds, 2),
        "sink_cpu_us_per_message": round(sink["steady_cpu"] / sink_events * 1e6, 1),
        "sink_peak_rss_mib": round(sink["rss_mib"], 1), "checksums": "equal",
        "peer_cpu_us_per_message": round(peer["steady_cpu"] / peer["steady_messages"] * 1e6, 1),
        **{f"sink_machine_{k}": v for k, v in sink_machine.items() if k != "cores"},
        **{f"peer_machine_{k}": v for k, v in peer_machine.items() if k != "cores"},
    }
    if warehouse:
        rows.append(("warehouse sink (SCD2, sample, steady)", warehouse["messages"], warehouse["seconds"],
                     rate(warehouse["messages"], warehouse["seconds"]),
                     f"{warehouse['cpu'] / warehouse['messages'] * 1e6:.1f} µs CPU/msg in Sluice"))
        values["warehouse_cpu_us_per_message"] = round(warehouse["cpu"] / warehouse["messages"] * 1e6, 1)
        values["warehouse_peak_rss_mib"] = round(warehouse["rss_mib"], 1)
    if apply:
        n, apply_rate, apply_copy = int(apply["events"]), float(apply["apply_per_s"]), float(apply["copy_per_s"])
        rows.append((f"apply path alone (inserts, batch {apply['batch']})", n, n / apply_rate, apply_rate, f"{apply_rate / apply_copy:.2f}x COPY"))
        rows.append(("  COPY of the same rows", n, n / apply_copy, apply_copy, "reference"))
        rows.append(("  decoding alone", n, n / float(apply["decode_per_s"]), float(apply["decode_per_s"]), ""))
        values["apply_vs_copy"] = round(apply_rate / apply_copy, 2)
        values["apply_events_per_s"] = round(apply_rate)

    def cleanup():
        with pg() as conn:
            for schema in (sluice_schema, peer_schema, peer_schema + "_defaults"):
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        tsql("master", [f"DROP DATABASE [{db}]"])
        if warehouse:
            tsql("master", [f"DROP DATABASE [BenchWh_{run}]"], "SLUICE_WAREHOUSE_URL")
    return {"rows": rows, "values": values, "topics": topics, "checksums": want, "cleanup": cleanup, "replica_schema": sluice_schema,
            "header": f"{total_events} events ({snapshot_events} snapshot + {backlog_events} backlog)",
            "detail": {"snapshot": snap, "stream": stream, "sink": sink, "peer": peer, "peer_defaults": peer_defaults, "copy": copy, "warehouse": warehouse,
                       "apply": apply}}


if __name__ == "__main__":
    main()
