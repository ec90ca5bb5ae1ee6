"""Scale stage of `make bench`: the replica sink benchmark with the topics at 6 partitions and 1, 2 and 3
`sluice run` sink processes in one consumer group: messages/s for each (how many processes a user adds to
keep up).

    .venv/bin/python benchmarks/bench.py --scale-processes 1,2,3 --scale-partitions 6

The stage needs the credit topics the main run's source published (one partition each). It creates one
topic of `--scale-partitions` partitions per credit topic itself (the admin API; the source's own partition
option is separate work) and copies every message into it with its key, value (tombstones included),
headers and timestamp, through librdkafka's default key partitioner, so each key's events stay in order in
one partition, as a source producing into such a topic would write them. Then, for each process count, a
fresh schema and consumer group: that many `sluice run` replica sinks (the same connector file as the main
sink stage) are started together, and the stage times from the first offsets the group stored to the moment
every partition's stored offset reached its end (the group's join and first rebalance fall before the first
stored batch; a rebalance while members join later counts). Each replica is compared by checksum with the
source tables before a figure counts. CPU is the sum of the processes' utime + stime.

On this machine (2 cores shared by the sinks, Postgres, the broker and other engineers' builds) more
processes cannot add CPU that is not there: the figures show the group working and what it costs, and on
a bigger machine the same stage shows the scale-out.
"""
from __future__ import annotations

import os
import time

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

import bench


def create_topics(bootstrap: str, topics: list[str], partitions: int) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for topic, future in admin.create_topics([NewTopic(t, partitions, 1) for t in topics], operation_timeout=30).items():
        future.result(timeout=60)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        metadata = admin.list_topics(timeout=10)
        if all(t in metadata.topics and len(metadata.topics[t].partitions) == partitions for t in topics):
            return
        time.sleep(0.2)
    raise SystemExit(f"the broker did not show {topics} with {partitions} partitions within 60s")


def copy_topic(bootstrap: str, source: str, target: str, end: int) -> dict:
    """Copies offsets 0…end-1 of partition 0 of `source` into `target`, keyed; returns {(target, p): next offset}."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"bench-scale-copy-{target}", "enable.auto.commit": False,
                         "max.partition.fetch.bytes": 8388608})
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all", "linger.ms": 20,
                         "queue.buffering.max.messages": 200000})
    ends: dict = {}
    failures: list = []

    def delivered(error, message):
        if error is not None:
            failures.append(error)
        else:
            key = (message.topic(), message.partition())
            ends[key] = max(ends.get(key, 0), message.offset() + 1)
    consumer.assign([TopicPartition(source, 0, 0)])
    copied = 0
    try:
        while copied < end:
            for message in consumer.consume(num_messages=5000, timeout=0.5):
                if message.error():
                    raise SystemExit(f"copying {source}: {message.error()}")
                if message.offset() >= end:
                    continue
                kind, timestamp = message.timestamp()
                while True:
                    try:
                        producer.produce(target, key=message.key(), value=message.value(), headers=message.headers(),
                                         timestamp=timestamp if timestamp > 0 else 0, on_delivery=delivered)
                        break
                    except BufferError:
                        producer.poll(0.1)
                copied += 1
            producer.poll(0)
        if producer.flush(120) != 0 or failures:
            raise SystemExit(f"copying {source} into {target}: {failures[:3] or 'flush timed out'}")
    finally:
        consumer.close()
    return ends


def run_group(binary: str, topics: list[str], schema: str, group: str, processes: int, workdir, ends: dict, timeout: float) -> dict:
    config = bench.replica_sink_config(topics, schema, group)
    config["name"] = f"bench-scale-{group}"
    sinks = [bench.Sluice(binary, config, f"scale-{schema}-{i + 1}", workdir) for i in range(processes)]
    started = min(s.started for s in sinks)
    first = None
    try:
        with bench.pg() as conn:
            while True:
                for s in sinks:
                    s.check_alive()
                rows = conn.execute('SELECT topic, "partition", next_offset FROM sluice.sluice_offsets WHERE group_id = %s', (group,)).fetchall()
                offsets = {(t, p): o for t, p, o in rows}
                if offsets and first is None:
                    first = (time.monotonic(), sum(offsets.values()), sum(s.cpu() for s in sinks))
                if all(offsets.get(tp, 0) >= end for tp, end in ends.items()):
                    break
                if time.monotonic() - started > timeout:
                    raise SystemExit(f"{processes} sink process(es) did not finish in {timeout}s; see {sinks[0].log}")
                time.sleep(0.02)
        end_time = time.monotonic()
        cpu = sum(s.cpu() for s in sinks)
        applied = [int(s.metric_lines("sluice_sink_events_applied_total{")) for s in sinks]
        total = sum(ends.values())
        return {"processes": processes, "messages": total, "steady_messages": total - first[1],
                "steady_seconds": end_time - first[0], "seconds": end_time - started, "cpu": cpu, "steady_cpu": cpu - first[2],
                "applied_per_process": applied, "rss_mib": [round(s.hwm(), 1) for s in sinks]}
    finally:
        for s in sinks:
            s.stop()


def differences(reference: str, schema: str, table: str, limit: int = 5) -> None:
    """Logs up to `limit` rows of `table` that differ between two replica schemas (for a mismatch report)."""
    key = bench.TABLES[table][0]
    with bench.pg() as conn:
        rows = conn.execute(f'SELECT a.*, b.* FROM "{reference}"."{table}" a FULL JOIN "{schema}"."{table}" b USING ({key}) '
                            f'WHERE a IS DISTINCT FROM b LIMIT {limit}').fetchall()
    for row in rows:
        bench.log(f"scale: {table} differs: {row}")


def run(binary: str, run_id: str, workdir, topics: list[str], partitions: int, process_counts: list[int],
        want: dict, timeout: float, reference_schema: str | None = None) -> dict:
    bootstrap = os.environ["SLUICE_KAFKA_BOOTSTRAP"]
    targets = [f"{t}.p{partitions}" for t in topics]
    create_topics(bootstrap, targets, partitions)
    source_ends = bench.end_offsets(bootstrap, topics)
    ends: dict = {}
    start = time.monotonic()
    for source, target in zip(topics, targets):
        ends.update(copy_topic(bootstrap, source, target, source_ends[(source, 0)]))
    bench.log(f"scale: copied {sum(ends.values())} messages into {len(targets)} topics of {partitions} partitions "
              f"in {time.monotonic() - start:.1f}s ({len(ends)} partitions hold messages)")
    results = []
    for n in process_counts:
        schema, group = f"scale{n}_{run_id}", f"bench-scale{n}-{run_id}"
        bench.log(f"scale: {n} sink process(es) in group {group}")
        try:
            r = run_group(binary, targets, schema, group, n, workdir, ends, timeout)
            got = bench.pg_checksums(schema)
            for table in bench.TABLES:
                if got[table] != want[table]:
                    if reference_schema:
                        differences(reference_schema, schema, table)
                    raise SystemExit(f"CHECKSUM MISMATCH, no figures printed: scale, {n} process(es), {table}: "
                                     f"source {want[table]}, replica {got[table]}")
        finally:
            with bench.pg() as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        r["rate"] = r["steady_messages"] / r["steady_seconds"] if r["steady_seconds"] > 0 else 0.0
        bench.log(f"scale: {n} process(es): {r['rate']:.0f} msg/s steady, applied per process {r['applied_per_process']}")
        results.append(r)
    base = results[0]["rate"] if results else 0.0
    table, values = [], {"scale_partitions": partitions}
    for r in results:
        n = r["processes"]
        table.append((f"scale: {n} sink process{'es' if n > 1 else ''}, {partitions} partitions", r["steady_messages"], r["steady_seconds"],
                      r["rate"], f"{r['rate'] / base:.2f}x 1 process, {r['steady_cpu'] / r['steady_messages'] * 1e6:.1f} µs CPU/msg (all), "
                      f"applied per process {'/'.join(str(a) for a in r['applied_per_process'])}, {r['seconds']:.1f}s from start"))
        values[f"scale_{n}_events_per_s"] = round(r["rate"])
    return {"rows": table, "values": values, "detail": results}
