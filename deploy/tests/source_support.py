"""Helpers of the source tests in deploy/tests: a source connector file with its own topic prefix,
reading topics with kcat (partition, offset, key, value), topic metadata, writes to the staging SQL
Server, and Kafka's murmur2 (the Java client's partitioner), written here from its definition so the
tests check Sluice's partitioning independently of librdkafka."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytds

from conftest import REPO, wait_until, world_env


def source_file(tmp_path: Path, tag: str, **config) -> tuple[Path, str, str]:
    """A copy of connectors/credit-source.json with a unique name and topic.prefix (so its topics and
    stored positions are its own), capturing dbo.customers; returns (path, name, prefix)."""
    world_env("SLUICE_STAGING_URL")
    suffix = uuid.uuid4().hex[:8]
    name, prefix = f"{tag}-source-{suffix}", f"{tag}-{suffix}"
    data = json.loads((REPO / "connectors" / "credit-source.json").read_text())
    data["name"] = name
    data["config"].update({"topic.prefix": prefix, "table.include.list": "dbo.customers", "poll.interval.ms": 100,
                           "heartbeat.interval.ms": 0, "retry.backoff.initial.ms": 200, "retry.backoff.max.ms": 2000})
    data["config"].update(config)
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(data))
    return path, name, prefix


def bootstrap() -> str:
    return world_env("SLUICE_KAFKA_BOOTSTRAP")


def read_topic(topic: str) -> list[dict]:
    """Every message of `topic` now: partition, offset, key (bytes), value (parsed JSON or None)."""
    # '\x1e' / '\x1f' separate records and fields (keys and values are JSON without those bytes).
    result = subprocess.run(
        ["kcat", "-b", bootstrap(), "-C", "-t", topic, "-o", "beginning", "-e", "-q",
         "-f", "%p\x1f%o\x1f%k\x1f%s\x1e"],
        capture_output=True, timeout=60)
    if result.returncode != 0 and b"Unknown topic or partition" in result.stderr:
        return []  # not created yet
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    messages = []
    for record in result.stdout.split(b"\x1e"):
        if not record.strip(b"\n"):
            continue
        partition, offset, key, value = record.lstrip(b"\n").split(b"\x1f", 3)
        messages.append({"partition": int(partition), "offset": int(offset), "key": key,
                         "value": json.loads(value) if value else None})
    return messages


def wait_for_messages(topic: str, predicate, timeout: float, what: str) -> list[dict]:
    """Reads `topic` until `predicate(messages)` holds."""
    def ready():
        messages = read_topic(topic)
        return messages if predicate(messages) else None
    return wait_until(ready, timeout, what, interval=0.5)


def topic_metadata(topic: str) -> dict:
    """kcat's metadata of `topic` (`partitions`: [{"partition", "replicas": […]}, …])."""
    result = subprocess.run(["kcat", "-b", bootstrap(), "-L", "-J", "-t", topic], capture_output=True, timeout=30, text=True)
    assert result.returncode == 0, result.stderr
    topics = [t for t in json.loads(result.stdout)["topics"] if t["topic"] == topic]
    assert topics and not topics[0].get("error"), f"no metadata for {topic}: {result.stdout}"
    return topics[0]


def payload(value: dict | None) -> dict | None:
    """The envelope of a change event, with or without the Connect schema block."""
    if value is None:
        return None
    return value["payload"] if "payload" in value and "schema" in value else value


def staging_execute(statements: list[tuple[str, tuple]]) -> None:
    """Runs the statements in one transaction on the staging SQL Server."""
    u = urlparse(world_env("SLUICE_STAGING_URL"))
    conn = pytds.connect(server=u.hostname, port=u.port or 1433, user=unquote(u.username), password=unquote(u.password),
                         database=u.path.lstrip("/"), autocommit=False, login_timeout=10)
    try:
        with conn.cursor() as cur:
            for sql, params in statements:
                cur.execute(sql, params)
        conn.commit()
    finally:
        conn.close()


def sluice(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    from conftest import sluice_binary
    return subprocess.run([str(sluice_binary()), *args], capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ))


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2): seed 0x9747b28c, a signed 32-bit result."""
    m, r = 0x5BD1E995, 24
    h = (0x9747B28C ^ len(data)) & 0xFFFFFFFF
    whole = len(data) & ~3
    for i in range(0, whole, 4):
        k = data[i] | data[i + 1] << 8 | data[i + 2] << 16 | data[i + 3] << 24
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> r
        k = (k * m) & 0xFFFFFFFF
        h = ((h * m) & 0xFFFFFFFF) ^ k
    rest = len(data) - whole
    if rest == 3:
        h ^= data[whole + 2] << 16
    if rest >= 2:
        h ^= data[whole + 1] << 8
    if rest >= 1:
        h ^= data[whole]
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return h - (1 << 32) if h & 0x80000000 else h


def java_partition(key: bytes, partitions: int) -> int:
    """The Java client's DefaultPartitioner for a keyed record: toPositive(murmur2(key)) % partitions."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions
