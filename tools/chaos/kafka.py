"""The broker through kcat (installed by scripts/bootstrap): read a topic from the beginning, its end
offsets, and produce one message."""
from __future__ import annotations

import shutil
import subprocess

from world import env

SEP = "\x1f"  # unit separator: never in a JSON key or value


def kcat() -> str:
    path = shutil.which("kcat") or shutil.which("kafkacat")
    if not path:
        raise SystemExit("chaos: kcat is not installed: run scripts/bootstrap (apt-get install kcat)")
    return path


def read_topic(topic: str, timeout: float = 120) -> list[tuple[int, int, str, str | None]]:
    """Every message of `topic`: (partition, offset, key, value or None for a tombstone)."""
    fmt = SEP.join(["%p", "%o", "%K", "%k", "%S", "%s"]) + "\n"
    r = subprocess.run([kcat(), "-b", env("SLUICE_KAFKA_BOOTSTRAP"), "-C", "-t", topic, "-o", "beginning", "-e", "-q",
                        "-f", fmt], capture_output=True, text=True, timeout=timeout, errors="replace")
    if r.returncode != 0 and "Unknown topic" in r.stderr:
        return []
    if r.returncode != 0:
        raise RuntimeError(f"kcat -C -t {topic}: exit {r.returncode}: {r.stderr[-500:]}")
    out = []
    for line in r.stdout.splitlines():
        parts = line.split(SEP)
        if len(parts) != 6:
            continue
        p, o, _klen, k, vlen, v = parts
        out.append((int(p), int(o), k, None if vlen == "-1" else v))
    return out


def end_offsets(topic: str) -> dict[int, int]:
    """partition → next offset (the offset of its last message + 1); {} for an empty/unknown topic."""
    # (Tansu answers ListOffsets for "latest" unreliably, so this reads the topic's offsets through.)
    r = subprocess.run([kcat(), "-b", env("SLUICE_KAFKA_BOOTSTRAP"), "-C", "-t", topic, "-o", "beginning", "-e", "-q",
                        "-f", "%p %o\n"], capture_output=True, text=True, timeout=120)
    ends: dict[int, int] = {}
    for line in r.stdout.split("\n"):
        if line.strip():
            p, o = line.split()
            ends[int(p)] = max(ends.get(int(p), 0), int(o) + 1)
    return ends


def produce(topic: str, key: str, value: str) -> None:
    r = subprocess.run([kcat(), "-b", env("SLUICE_KAFKA_BOOTSTRAP"), "-P", "-t", topic, "-p", "0", "-K", SEP],
                       input=f"{key}{SEP}{value}\n", capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError(f"kcat -P -t {topic}: exit {r.returncode}: {r.stderr[-500:]}")


def describe_groups(groups: list[str]) -> list[str]:
    """One line per consumer group: its state and each member's client id and assigned partitions, as the
    coordinator reports them (for the log when a run does not drain). Needs confluent-kafka; says so if
    it is missing."""
    try:
        from confluent_kafka.admin import AdminClient
    except ImportError:
        return ["(confluent-kafka not installed: group states not shown)"]
    admin = AdminClient({"bootstrap.servers": env("SLUICE_KAFKA_BOOTSTRAP")})
    lines = []
    for group, future in admin.describe_consumer_groups(groups, request_timeout=15).items():
        try:
            d = future.result(timeout=20)
        except Exception as error:  # noqa: BLE001 - a diagnostic: say what the broker answered
            lines.append(f"{group}: not described ({error})")
            continue
        members = "; ".join(f"{m.client_id or m.member_id} [{', '.join(f'{tp.topic}:{tp.partition}' for tp in (m.assignment.topic_partitions if m.assignment else []))}]"
                            for m in d.members) or "no members"
        lines.append(f"{group}: state {d.state}, members: {members}")
    return lines
