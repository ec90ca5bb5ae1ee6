#!/usr/bin/env python3
"""The Python peer: what a competent engineer would write in an afternoon instead of Sluice's replica sink.

    .venv/bin/python benchmarks/peer/peer.py --bootstrap 127.0.0.1:19092 --pg-url postgres://… \
        --schema peer --group peer-1 TOPIC… [--until-end]

- confluent-kafka consumer (manual commits), batches of up to --batch (5000) messages;
- the Debezium envelope (schemas enabled) parsed with orjson; tables created from the first message's
  schema block (SQL Server types from `__debezium.source.column.type`, key from the key schema);
- per batch and table the net effect per key (the last event wins; a primary-key change is a delete of
  the old key and a create of the new one), COPY into a temp table of raw values (Debezium's day and
  epoch numbers converted by Postgres, not in Python), one `INSERT … ON CONFLICT DO UPDATE` and one
  `DELETE … USING`, commit; then the Kafka offsets are committed (asynchronously, the last one waits).

It has no position guard and no dead-letter topic: at-least-once with last-writer-wins per batch, as
such scripts usually are. With --until-end it stops when it has read up to the high watermarks it saw
at start, and prints one JSON line: messages, events, first/last commit times, its CPU seconds.
"""
from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from urllib.parse import urlparse, unquote

import orjson
import psycopg
from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

# SQL Server type (as the source propagates it) → Postgres column type.
def pg_type(field: dict) -> str:
    p = field.get("parameters") or {}
    t = (p.get("__debezium.source.column.type") or "").upper()
    length = p.get("__debezium.source.column.length")
    scale = p.get("__debezium.source.column.scale")
    if t in ("INT",):
        return "integer"
    if t in ("BIGINT",):
        return "bigint"
    if t in ("SMALLINT", "TINYINT"):
        return "smallint"
    if t == "BIT":
        return "boolean"
    if t in ("DECIMAL", "NUMERIC"):
        return f"numeric({length or 18},{scale or 0})"
    if t == "MONEY":
        return "numeric(19,4)"
    if t in ("NVARCHAR", "VARCHAR"):
        return "text" if length in (None, "-1") else f"varchar({length})"
    if t in ("NCHAR", "CHAR"):
        return f"char({length or 1})"
    if t == "DATE":
        return "date"
    if t == "DATETIME2":
        return f"timestamp({min(6, int(scale if scale is not None else 7))})"
    if t in ("DATETIME", "SMALLDATETIME"):
        return "timestamp(3)"
    if t == "DATETIMEOFFSET":
        return "timestamptz"
    if t == "UNIQUEIDENTIFIER":
        return "uuid"
    if t == "FLOAT":
        return "double precision"
    if t == "REAL":
        return "real"
    return {"int16": "smallint", "int32": "integer", "int64": "bigint", "boolean": "boolean",
            "float32": "real", "float64": "double precision"}.get(field["type"], "text")


def staged_expr(field: dict, column: str, target: str) -> str:
    """How a raw staged value (text) becomes the column's value, in SQL."""
    name = field.get("name")
    if name == "io.debezium.time.Date":
        return f"date '1970-01-01' + {column}::int"
    if name == "io.debezium.time.Timestamp":
        return f"timestamp '1970-01-01' + {column}::bigint * interval '1 millisecond'"
    if name == "io.debezium.time.MicroTimestamp":
        return f"timestamp '1970-01-01' + {column}::bigint * interval '1 microsecond'"
    if name == "io.debezium.time.NanoTimestamp":
        return f"timestamp '1970-01-01' + ({column}::bigint / 1000) * interval '1 microsecond'"
    return f"{column}::{target}"


def q(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


class Table:
    def __init__(self, conn, schema: str, topic: str, value_schema: dict, key_schema: dict):
        fields = next(f for f in value_schema["fields"] if f["field"] in ("after", "before"))["fields"]
        self.columns = [f["field"] for f in fields]
        self.keys = [f["field"] for f in key_schema["fields"]]
        self.key_index = [self.columns.index(k) for k in self.keys]
        name = topic.rsplit(".", 1)[-1]
        self.target = f"{q(schema)}.{q(name)}"
        self.stage = q(f"stage_{name}")
        types = [pg_type(f) for f in fields]
        # Value kinds for rendering COPY text: 0 text, 1 bool, 2 number.
        self.kinds = [1 if f["type"] == "boolean" else (2 if f["type"].startswith(("int", "float")) else 0) for f in fields]
        cols = ", ".join(f"{q(c)} {t}" + (" NOT NULL" if c in self.keys else "") for c, t in zip(self.columns, types))
        with conn.cursor() as cur:
            cur.execute(f"CREATE SCHEMA IF NOT EXISTS {q(schema)}")
            cur.execute(f"CREATE TABLE IF NOT EXISTS {self.target} ({cols}, PRIMARY KEY ({', '.join(map(q, self.keys))}))")
            cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS {self.stage} (op char(1), "
                        + ", ".join(f"{q(c)} text" for c in self.columns) + ") ON COMMIT DELETE ROWS")
        conn.commit()
        exprs = [staged_expr(f, f"s.{q(c)}", t) for f, c, t in zip(fields, self.columns, types)]
        non_keys = [c for c in self.columns if c not in self.keys]
        self.upsert = (f"INSERT INTO {self.target} ({', '.join(map(q, self.columns))}) "
                       f"SELECT {', '.join(exprs)} FROM {self.stage} s WHERE s.op <> 'd' "
                       f"ON CONFLICT ({', '.join(map(q, self.keys))}) DO UPDATE SET "
                       + ", ".join(f"{q(c)} = EXCLUDED.{q(c)}" for c in non_keys))
        key_match = " AND ".join(f"t.{q(k)} = {exprs[self.columns.index(k)]}" for k in self.keys)
        self.delete = f"DELETE FROM {self.target} t USING {self.stage} s WHERE s.op = 'd' AND {key_match}"
        self.copy = f"COPY {self.stage} (op, {', '.join(map(q, self.columns))}) FROM STDIN"

    def render(self, changes: dict) -> bytes:
        lines = []
        columns, kinds = self.columns, self.kinds
        for op, row in changes.values():
            parts = [op]
            for column, kind in zip(columns, kinds):
                v = row.get(column)
                if v is None:
                    parts.append("\\N")
                elif kind == 0:
                    s = v if isinstance(v, str) else str(v)
                    if "\\" in s or "\t" in s or "\n" in s or "\r" in s:
                        s = s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
                    parts.append(s)
                elif kind == 1:
                    parts.append("t" if v else "f")
                else:
                    parts.append(str(v))
            lines.append("\t".join(parts))
        lines.append("")
        return "\n".join(lines).encode()


def connect_pg(url: str):
    u = urlparse(url)
    return psycopg.connect(host=u.hostname, port=u.port or 5432, user=unquote(u.username or ""),
                           password=unquote(u.password or ""), dbname=u.path.lstrip("/"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("topics", nargs="+")
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--pg-url", required=True)
    ap.add_argument("--schema", required=True)
    ap.add_argument("--group", required=True)
    ap.add_argument("--batch", type=int, default=5000)
    ap.add_argument("--until-end", action="store_true")
    ap.add_argument("--kafka-set", action="append", default=[], metavar="KEY=VALUE",
                    help="a librdkafka consumer property, over the peer's own (repeatable)")
    args = ap.parse_args()

    conn = connect_pg(args.pg_url)
    # The same fetch settings as Sluice's sinks (SinkRuntimeConfiguration), so the two are compared on
    # their processing, not on librdkafka's defaults (1 MiB per partition per fetch; a full pre-fetch queue
    # postpones the next fetch by 1 s; a 64 MiB queue).
    settings = {"bootstrap.servers": args.bootstrap, "group.id": args.group, "enable.auto.commit": False,
                "auto.offset.reset": "earliest", "session.timeout.ms": 6000, "heartbeat.interval.ms": 500,
                "fetch.wait.max.ms": 50, "max.partition.fetch.bytes": 8388608, "fetch.queue.backoff.ms": 10,
                "queued.max.messages.kbytes": 32768, "fetch.max.bytes": 1048576}
    for item in args.kafka_set:
        key, _, value = item.partition("=")
        settings[key] = value
    consumer = Consumer(settings)
    end: dict[tuple[str, int], int] = {}
    if args.until_end:
        metadata = consumer.list_topics(timeout=10)
        for topic in args.topics:
            for partition in metadata.topics[topic].partitions:
                low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
                if high > low:
                    end[(topic, partition)] = high
    consumer.subscribe(args.topics)
    tables: dict[str, Table] = {}
    position: dict[tuple[str, int], int] = {}
    messages = events = 0
    first_commit = last_commit = None
    first_commit_messages = 0
    first_commit_cpu = 0.0
    while True:
        batch = consumer.consume(num_messages=args.batch, timeout=0.5)
        if not batch:
            if args.until_end and all(position.get(tp, 0) >= high for tp, high in end.items()):
                break
            continue
        per_table: dict[str, dict] = {}
        for m in batch:
            if m.error():
                raise SystemExit(f"consume failed: {m.error()}")
            topic = m.topic()
            position[(topic, m.partition())] = m.offset() + 1
            messages += 1
            value = m.value()
            if value is None:
                continue  # tombstone
            envelope = orjson.loads(value)
            payload = envelope["payload"]
            table = tables.get(topic)
            if table is None:
                table = tables[topic] = Table(conn, args.schema, topic, envelope["schema"], orjson.loads(m.key())["schema"])
            events += 1
            op = payload["op"]
            row = payload["before"] if op == "d" else payload["after"]
            key = tuple(row[k] for k in table.keys)
            per_table.setdefault(topic, {})[key] = ("d" if op == "d" else "u", row)
        with conn.cursor() as cur:
            for topic, changes in per_table.items():
                table = tables[topic]
                with cur.copy(table.copy) as copy:
                    copy.write(table.render(changes))
                cur.execute(table.delete)
                cur.execute(table.upsert)
        conn.commit()
        consumer.commit(asynchronous=True)
        last_commit = time.monotonic()
        if first_commit is None:
            first_commit, first_commit_messages = last_commit, messages
            usage = resource.getrusage(resource.RUSAGE_SELF)
            first_commit_cpu = usage.ru_utime + usage.ru_stime
    try:
        consumer.commit(asynchronous=False)
    except KafkaException as error:
        if error.args[0].code() != KafkaError._NO_OFFSET:  # nothing new since the last asynchronous commit
            raise
    consumer.close()
    conn.close()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(orjson.dumps({"messages": messages, "events": events, "first_commit": first_commit,
                        "first_commit_messages": first_commit_messages, "last_commit": last_commit,
                        "first_commit_cpu_seconds": first_commit_cpu,
                        "cpu_seconds": usage.ru_utime + usage.ru_stime, "max_rss_kib": usage.ru_maxrss}).decode(), flush=True)


if __name__ == "__main__":
    sys.exit(main())
