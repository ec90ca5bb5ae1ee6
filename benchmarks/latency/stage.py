"""Latency stage of `make bench`: at a steady rate of changes written to staging (500 a second by default),
p50 and p99 of (replica row visible − source commit), against the bound poll interval + capture interval
+ 250 ms.

    .venv/bin/python benchmarks/bench.py --only latency [--latency-rate 500] [--latency-seconds 30] [--latency-tx 20]

A fresh database on the emulated staging SQL Server holds one table `dbo.lat (id, seq, note, changed_at)`.
The source (the shipped `connectors/credit-source.json` settings: `poll.interval.ms` as shipped unless
`--latency-poll-ms`) and Sluice's replica sink (the shipped `connectors/replica-postgres.json` settings)
run as two `sluice run` processes, as deployed. After a warm-up row has reached the replica:

- a writer commits transactions of `--latency-tx` changes (a fifth of them updates of keys written at
  least two seconds before, the rest inserts of new keys) on a fixed schedule that adds up to
  `--latency-rate` changes a second, each transaction one batch (`BEGIN TRANSACTION; INSERT …; UPDATE …
  CASE …; COMMIT`: the emulator's cost is per statement). Every change sets `seq` to the next number; the
  writer notes when the batch returned, i.e. just after the server committed (the source commit time as
  the client sees it). When the emulator cannot keep up, the writer falls behind its schedule and the
  achieved rate is what the table prints;
- a reader polls the replica every 10 ms (`SELECT seq … WHERE seq > <highest seen>`, an index on `seq`)
  and notes when each `seq` first became visible.

Latency of a change = first seen − its commit returned. A change overwritten before the replica showed
it (its key updated again within one sink batch) has no visible moment and is counted apart. The split
uses the Kafka messages' create timestamps (the source's producer): commit → published (the capture
job's interval, the source's poll interval, reading and encoding) and published → visible (the broker
and the sink). All times are this machine's wall clock. The capture interval is read from the running
emulator's command line (`--capture-interval`, from `SLUICE_CAPTURE_INTERVAL` when `scripts/services up`
started it).
"""
from __future__ import annotations

import bisect
import json
import os
import random
import threading
import time
import urllib.request
from pathlib import Path

import pytds
from confluent_kafka import Consumer, TopicPartition

import bench

TX_UPDATES_PER_10 = 2  # of every 10 changes, this many update an existing key


def capture_interval_seconds() -> tuple[float, str]:
    """The running staging emulator's `--capture-interval` (from its command line), else the variable."""
    pid_file = bench.ROOT / ".run/staging.pid"
    try:
        argv = Path(f"/proc/{int(pid_file.read_text().strip())}/cmdline").read_bytes().split(b"\0")
        i = argv.index(b"--capture-interval")
        return float(argv[i + 1]), "the staging emulator's --capture-interval"
    except (OSError, ValueError, IndexError):
        return float(os.environ.get("SLUICE_CAPTURE_INTERVAL", "1")), "SLUICE_CAPTURE_INTERVAL (emulator's command line not readable)"


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), int(-(-p * len(sorted_values) // 100))))
    return sorted_values[rank - 1]


class Writer(threading.Thread):
    """Commits `tx` changes every tx/rate seconds for `seconds`; notes each seq's COMMIT-returned time."""

    def __init__(self, db: str, rate: float, tx: int, seconds: float, first_id: int):
        super().__init__(name="latency-writer", daemon=True)
        self.db, self.rate, self.tx, self.seconds = db, rate, tx, seconds
        self.next_id, self.seq = first_id, 0
        self.committed: dict[int, float] = {}
        self.written_ids: list[int] = []  # inserted keys and their commit times (ascending), for updates
        self.written_at: list[float] = []
        self.behind_max = 0.0
        self.error: BaseException | None = None
        self.started_at = self.finished_at = 0.0

    def run(self) -> None:
        try:
            self._run()
        except BaseException as error:  # reported by the stage after join()
            self.error = error

    def _run(self) -> None:
        updates = max(0, self.tx * TX_UPDATES_PER_10 // 10)
        inserts = self.tx - updates
        period = self.tx / self.rate
        rng = random.Random(12)
        # One round trip per transaction: BEGIN … COMMIT in one batch (the emulator is slow per request).
        with pytds.connect(database=self.db, autocommit=True, timeout=60, **bench.mssql("SLUICE_STAGING_URL")) as conn:
            cur = conn.cursor()
            self.started_at = time.time()
            k = 0
            while True:
                due = self.started_at + k * period
                if due - self.started_at >= self.seconds:
                    break
                now = time.time()
                if due > now:
                    time.sleep(due - now)
                else:
                    self.behind_max = max(self.behind_max, now - due)
                seqs, values = [], []
                for _ in range(inserts):
                    self.seq += 1
                    seqs.append(self.seq)
                    values.append(f"({self.next_id}, {self.seq}, N'insert {self.seq}', SYSDATETIME())")
                    self.next_id += 1
                statements = ["INSERT INTO dbo.lat (id, seq, note, changed_at) VALUES " + ", ".join(values)]
                old = bisect.bisect_left(self.written_at, time.time() - 2.0)
                if old >= updates > 0:
                    chosen = {}
                    while len(chosen) < updates:
                        chosen.setdefault(self.written_ids[rng.randrange(old)], None)
                    for key in chosen:
                        self.seq += 1
                        seqs.append(self.seq)
                        chosen[key] = self.seq
                    # One statement for the transaction's updates (the emulator's cost is per statement).
                    statements.append("UPDATE dbo.lat SET seq = CASE id " + " ".join(f"WHEN {i} THEN {q}" for i, q in chosen.items()) +
                                      f" END, note = N'update', changed_at = SYSDATETIME() WHERE id IN ({', '.join(map(str, chosen))})")
                cur.execute("BEGIN TRANSACTION; " + "; ".join(statements) + "; COMMIT TRANSACTION")
                at = time.time()
                for s in seqs:
                    self.committed[s] = at
                self.written_ids.extend(range(self.next_id - inserts, self.next_id))
                self.written_at.extend([at] * inserts)
                k += 1
            self.finished_at = time.time()


class Reader(threading.Thread):
    """Polls the replica every `interval` s; notes when each seq was first visible."""

    def __init__(self, schema: str, interval: float = 0.01):
        super().__init__(name="latency-reader", daemon=True)
        self.schema, self.interval = schema, interval
        self.seen: dict[int, float] = {}
        self.highest = 0
        self.stop_event = threading.Event()
        self.polls = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with bench.pg() as conn:
                query = f'SELECT seq FROM "{self.schema}".lat WHERE seq > %s'
                while not self.stop_event.is_set():
                    rows = conn.execute(query, (self.highest,)).fetchall()
                    at = time.time()
                    self.polls += 1
                    for (seq,) in rows:
                        self.seen.setdefault(seq, at)
                        self.highest = max(self.highest, seq)
                    self.stop_event.wait(self.interval)
        except BaseException as error:
            self.error = error


def published_times(topic: str) -> dict[int, float]:
    """{seq: when the source produced its event} (the messages' create timestamps, wall clock)."""
    ends = bench.end_offsets(os.environ["SLUICE_KAFKA_BOOTSTRAP"], [topic])
    consumer = Consumer({"bootstrap.servers": os.environ["SLUICE_KAFKA_BOOTSTRAP"], "group.id": f"bench-latency-read-{topic}",
                         "enable.auto.commit": False})
    out: dict[int, float] = {}
    try:
        consumer.assign([TopicPartition(t, p, 0) for (t, p) in ends])
        remaining = dict(ends)
        while any(offset > 0 for offset in remaining.values()):
            for m in consumer.consume(num_messages=5000, timeout=2):
                if m.error() is not None:
                    continue
                remaining[(m.topic(), m.partition())] = ends[(m.topic(), m.partition())] - m.offset() - 1
                value = m.value()
                if value:
                    after = json.loads(value).get("payload", {}).get("after")
                    if after:
                        out[int(after["seq"])] = m.timestamp()[1] / 1000
    finally:
        consumer.close()
    return out


def run(binary: str, run_id: str, workdir, rate: float, seconds: float, tx: int, poll_ms: int | None, timeout: float) -> dict:
    db, prefix, schema = f"BenchLat_{run_id}", f"benchlat{run_id}", f"lat_{run_id}"
    bench.tsql("master", [f"CREATE DATABASE [{db}]", f"ALTER DATABASE [{db}] SET ALLOW_SNAPSHOT_ISOLATION ON"])
    bench.tsql(db, ["CREATE TABLE dbo.lat (id int NOT NULL CONSTRAINT pk_lat PRIMARY KEY, seq bigint NOT NULL, "
                    "note nvarchar(100) NULL, changed_at datetime2(3) NOT NULL)", "EXEC sys.sp_cdc_enable_db",
                    "EXEC sys.sp_cdc_enable_table @source_schema = N'dbo', @source_name = N'lat', @role_name = NULL, @supports_net_changes = 1"])
    s = bench.mssql("SLUICE_STAGING_URL")
    source = bench.source_connector()
    source["name"] = f"bench-latency-source-{run_id}"
    source["config"].update({
        "database.url": f"mssql://{s['user']}:{s['password']}@{s['server']}:{s['port']}/{db}", "database.names": db,
        "topic.prefix": prefix, "kafka.bootstrap.servers": os.environ["SLUICE_KAFKA_BOOTSTRAP"], "table.include.list": "dbo.lat"})
    if poll_ms is not None:
        source["config"]["poll.interval.ms"] = poll_ms
    poll = int(source["config"].get("poll.interval.ms", 500))
    replica = json.loads((bench.ROOT / "connectors/replica-postgres.json").read_text())
    replica["name"] = f"bench-latency-replica-{run_id}"
    c = replica["config"]
    c.pop("topics.regex", None)
    c.update({"topics": f"{prefix}.{db}.dbo.lat", "group.id": f"bench-latency-{run_id}", "connection.url": os.environ["SLUICE_PG_URL"],
              "kafka.bootstrap.servers": os.environ["SLUICE_KAFKA_BOOTSTRAP"], "table.name.format": schema + ".${source.table}",
              "errors.deadletterqueue.topic.name": f"bench-latency-{run_id}.dlq",
              "kafka.session.timeout.ms": "6000", "kafka.heartbeat.interval.ms": "500"})
    capture, capture_from = capture_interval_seconds()
    bound_ms = poll + capture * 1000 + 250

    src = sink = None
    try:
        src = bench.Sluice(binary, source, "latency-source", workdir)
        bench.wait(lambda: _ready(src.port), 120, "the latency stage's source to be ready", interval=0.2, alive=src.check_alive)
        sink = bench.Sluice(binary, replica, "latency-replica", workdir)
        # Warm-up: one row through the whole pipeline (topic created, group joined, table created).
        bench.tsql(db, ["INSERT INTO dbo.lat VALUES (0, 0, N'warm-up', SYSDATETIME())"])
        with bench.pg() as conn:
            def visible():
                src.check_alive()
                sink.check_alive()
                return conn.execute("SELECT 1 FROM pg_tables WHERE schemaname = %s AND tablename = 'lat'", (schema,)).fetchone() and \
                    conn.execute(f'SELECT count(*) FROM "{schema}".lat').fetchone()[0] > 0
            bench.wait(visible, 180, "the warm-up row in the replica", interval=0.1)
            conn.execute(f'CREATE INDEX ON "{schema}".lat (seq)')
        bench.log(f"latency: pipeline warm; writing {rate:.0f} changes/s in transactions of {tx} for {seconds:.0f}s "
                  f"(poll.interval.ms {poll}, capture interval {capture:g}s)")
        reader = Reader(schema)
        writer = Writer(db, rate, tx, seconds, first_id=1)
        cpu0 = (src.cpu(), sink.cpu())
        reader.start()
        writer.start()
        writer.join()
        if writer.error:
            raise SystemExit(f"the latency stage's writer failed: {writer.error!r}")
        cpu1 = (src.cpu(), sink.cpu())
        last = writer.seq
        bench.wait(lambda: reader.highest >= last or (reader.error is not None), 120, f"seq {last} in the replica", interval=0.05,
                   alive=lambda: (src.check_alive(), sink.check_alive()))
        reader.stop_event.set()
        reader.join()
        rss = {"source": src.hwm(), "sink": sink.hwm()}
        if reader.error:
            raise SystemExit(f"the latency stage's reader failed: {reader.error!r}")
        published = published_times(f"{prefix}.{db}.dbo.lat")
    finally:
        for process in (sink, src):
            if process:
                process.stop()
        with bench.pg() as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        bench.tsql("master", [f"DROP DATABASE [{db}]"])

    latencies = sorted((reader.seen[s] - t) * 1000 for s, t in writer.committed.items() if s in reader.seen)
    # Where the time goes: commit → the source produced the event (capture job + source poll), and
    # produced → visible in the replica (broker + sink).
    to_published = sorted((published[s] - t) * 1000 for s, t in writer.committed.items() if s in reader.seen and s in published)
    to_visible = sorted((reader.seen[s] - published[s]) * 1000 for s in writer.committed if s in reader.seen and s in published)
    unseen = len(writer.committed) - len(latencies)
    changes = len(writer.committed)
    wrote = writer.finished_at - writer.started_at
    achieved = changes / wrote if wrote > 0 else 0.0
    p50, p99, worst = percentile(latencies, 50), percentile(latencies, 99), (latencies[-1] if latencies else float("nan"))
    met = p99 <= bound_ms
    table = [(f"latency at {achieved:.0f} changes/s (p50)", changes, wrote, achieved,
              f"p50 {p50:.0f} ms, p99 {p99:.0f} ms (bound {bound_ms:.0f} ms = poll {poll} + capture {capture * 1000:.0f} + 250: "
              f"{'met' if met else 'NOT met'}), max {worst:.0f} ms; p50/p99 commit→published "
              f"{percentile(to_published, 50):.0f}/{percentile(to_published, 99):.0f} ms, published→visible "
              f"{percentile(to_visible, 50):.0f}/{percentile(to_visible, 99):.0f} ms")]
    values = {"latency_changes": changes, "latency_changes_per_s": round(achieved), "latency_target_changes_per_s": round(rate),
              "latency_p50_ms": round(p50),
              "latency_p99_ms": round(p99), "latency_max_ms": round(worst), "latency_bound_ms": round(bound_ms),
              "latency_p99_within_bound": str(met).lower()}
    detail = {"changes": changes, "seen": len(latencies), "overwritten_before_visible": unseen, "write_seconds": wrote,
              "writer_behind_max_s": writer.behind_max, "reader_polls": reader.polls, "poll_interval_ms": poll,
              "capture_interval_s": capture, "capture_interval_from": capture_from, "bound_ms": bound_ms,
              "p50_ms": p50, "p90_ms": percentile(latencies, 90), "p99_ms": p99, "max_ms": worst,
              "commit_to_published_ms": {p: percentile(to_published, p) for p in (50, 90, 99, 100)},
              "published_to_visible_ms": {p: percentile(to_visible, p) for p in (50, 90, 99, 100)},
              "source_cpu_us_per_change": (cpu1[0] - cpu0[0]) / changes * 1e6 if changes else None,
              "sink_cpu_us_per_change": (cpu1[1] - cpu0[1]) / changes * 1e6 if changes else None,
              "peak_rss_mib": rss}
    return {"rows": table, "values": values, "detail": detail}


def _ready(port: int) -> bool:
    try:
        return urllib.request.urlopen(f"http://127.0.0.1:{port}/health/ready", timeout=2).status == 200
    except OSError:
        return False
