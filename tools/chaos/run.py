#!/usr/bin/env python3
"""`make chaos`: the whole pipeline under load and repeated faults, then checks that nothing was lost,
doubled or reordered (see README "Reliability").

    CHAOS_MINUTES=10 CHAOS_SEED=1234 tools/chaos/run.py     (scripts/chaos sets up the world first)

Three `sluice run` processes (source, replica sink, warehouse sink) on per-run topics and groups; the
replica in its own Postgres cluster (scripts/services pg-scratch) so it can be crashed; a writer on
CreditStaging; the seed's fault schedule; at the end a drain and the checks. Exit 0 when every check
passes, 1 with the first violation otherwise. The log: .run/chaos/<run>/chaos.log."""
from __future__ import annotations

import json
import os
import random
import signal
import sys
import time
from pathlib import Path

import app as credit_app
import checks
import kafka
from faults import FaultRunner, schedule
from supervisor import SluiceProcess, Supervisor, reap_leftovers
from workload import Writer
from world import ROOT, dataflow_world, env, mssql_execute, pg, replica_pg_port, replica_url, services

HTTP_LOW, HTTP_HIGH = int(os.environ.get("CHAOS_HTTP_LOW", "18500")), int(os.environ.get("CHAOS_HTTP_HIGH", "18599"))


class Log:
    def __init__(self, path: Path):
        self.file = open(path, "a", buffering=1)

    def __call__(self, line: str) -> None:
        stamped = f"{time.strftime('%H:%M:%S', time.gmtime())} {line}"
        print(stamped, flush=True)
        self.file.write(stamped + "\n")


def free_ports(n: int) -> list[int]:
    import socket
    ports = []
    for port in range(HTTP_LOW, HTTP_HIGH + 1):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        ports.append(port)
        if len(ports) == n:
            return ports
    raise SystemExit(f"chaos: no {n} free ports in {HTTP_LOW}-{HTTP_HIGH}")


def connector_files(directory: Path, prefix: str, replay_schema: str) -> dict[str, Path]:
    def load(name):
        return json.loads((ROOT / "connectors" / name).read_text())
    topics = checks.data_topics(prefix)
    src = load("credit-source.json")
    src["name"] = f"{prefix}-source"
    src["config"]["topic.prefix"] = prefix
    rep = load("replica-postgres.json")
    rep["name"] = f"{prefix}-replica"
    rep["config"].update({"topics.regex": prefix.replace(".", "\\.") + "\\.CreditStaging\\.dbo\\..*",
                          "group.id": f"{prefix}-replica", "connection.url": replica_url(),
                          "errors.deadletterqueue.topic.name": f"{prefix}-replica.dlq",
                          "kafka.session.timeout.ms": "10000"})
    wh = load("warehouse-scd2.json")
    wh["name"] = f"{prefix}-warehouse"
    wh["config"].update({"topics": ",".join(topics), "group.id": f"{prefix}-warehouse",
                         "errors.deadletterqueue.topic.name": f"{prefix}-warehouse.dlq",
                         "kafka.session.timeout.ms": "10000"})
    replay = json.loads(json.dumps(wh))
    replay["name"] = f"{prefix}-replay"
    replay["config"].update({"group.id": f"{prefix}-replay", "warehouse.schema": replay_schema,
                             "errors.deadletterqueue.topic.name": f"{prefix}-replay.dlq"})
    files = {}
    for name, body in (("source", src), ("replica-sink", rep), ("warehouse-sink", wh), ("replay-sink", replay)):
        path = directory / f"{name}.json"
        path.write_text(json.dumps(body, indent=2))
        path.chmod(0o600)
        files[name] = path
    return files


def create_replay_schema(schema: str) -> None:
    """A second, empty copy of the dw tables (db-init/warehouse/20-tables.sql in schema `schema`)."""
    script = ROOT / "db-init/warehouse/20-tables.sql"
    text = script.read_text().replace("dw.", f"{schema}.")
    tmp = ROOT / ".run" / f"chaos-{schema}.sql"
    tmp.write_text(f"USE CreditWarehouse;\nGO\nCREATE SCHEMA {schema};\nGO\n" + text)
    import subprocess
    subprocess.run([sys.executable, str(ROOT / "tools/tsql-runner/run_tsql.py"), "--url", env("SLUICE_WAREHOUSE_URL"), str(tmp)],
                   check=True, capture_output=True, text=True)
    tmp.unlink()


def sink_offsets_at_end(prefix: str, replica_group: str | None, warehouse: list[tuple[str, str]]) -> tuple[bool, str]:
    ends = {t: kafka.end_offsets(t) for t in checks.data_topics(prefix)}
    lag = []
    if replica_group:
        stored = {(r["topic"], r["partition"]): r["next_offset"] for r in
                  pg(replica_url(), 'SELECT topic, "partition", next_offset FROM sluice.sluice_offsets WHERE group_id = $1', replica_group)}
        lag += [f"replica {t}:{p} {stored.get((t, p), 0)}/{e}" for t, parts in ends.items() for p, e in parts.items()
                if stored.get((t, p), 0) < e]
    for schema, group in warehouse:
        from world import mssql_fetch
        stored = {(r[0], r[1]): r[2] for r in mssql_fetch("SLUICE_WAREHOUSE_URL",
                  f"SELECT topic, partition_id, next_offset FROM {schema}.sluice_offsets WHERE consumer_group = %s", (group,))}
        lag += [f"{schema} {t}:{p} {stored.get((t, p), 0)}/{e}" for t, parts in ends.items() for p, e in parts.items()
                if stored.get((t, p), 0) < e]
    return (not lag, ", ".join(lag))


def wait(what: str, condition, timeout: float, log, interval: float = 2.0):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = condition()
            if last is True or (isinstance(last, tuple) and last[0]):
                return True
        except Exception as error:  # noqa: BLE001 - a database may still be coming back
            last = error
        time.sleep(interval)
    log(f"{what}: not reached within {timeout:.0f} s (last: {last})")
    return False


def main() -> int:
    minutes = float(os.environ.get("CHAOS_MINUTES") or 10)
    seed = int(os.environ.get("CHAOS_SEED") or random.SystemRandom().randrange(1, 10**6))
    binary = Path(os.environ.get("CHAOS_SLUICE") or ROOT / ".build/debug/sluice")
    if not binary.exists():
        raise SystemExit(f"chaos: {binary} is missing: swift build --product sluice")
    prefix = f"chaos{seed}-{int(time.time())}"
    directory = ROOT / ".run/chaos" / prefix
    directory.mkdir(parents=True, exist_ok=True)
    log = Log(directory / "chaos.log")
    log(f"chaos run {prefix}: CHAOS_SEED={seed} CHAOS_MINUTES={minutes:g}; log {directory / 'chaos.log'}")
    # SIGTERM/SIGHUP (a timeout, a closed terminal) end the run through `finally`, which stops the processes.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda number, _frame: sys.exit(128 + number))
    reap_leftovers(log)

    # The replica's own cluster, fresh.
    services("pg-scratch", "remove", str(replica_pg_port()))
    services("pg-scratch", "up", str(replica_pg_port()))
    pg(replica_url(), "CREATE SCHEMA IF NOT EXISTS dbo")
    credit_app.load_app_schema()
    replay_schema = "dw_replay"
    create_replay_schema(replay_schema)
    files = connector_files(directory, prefix, replay_schema)
    ports = free_ports(5)
    environ = dict(os.environ)
    procs = {name: SluiceProcess(name, binary, files[name], port, directory / f"{name}.log", environ)
             for name, port in zip(["source", "replica-sink", "warehouse-sink", "replay-sink"], ports)}
    # The credit app on the run's replica (users and sessions there too, so it meets the replica's crashes).
    app_config = credit_app.write_config(directory, procs["source"].url)
    procs["app"] = SluiceProcess("app", binary, app_config, ports[4], directory / "app.log", environ, app=True)
    live = [procs["source"], procs["replica-sink"], procs["warehouse-sink"], procs["app"]]
    supervisor = Supervisor(live)
    violations: list[str] = []
    runner = None
    try:
        for p in live:
            p.start()
        for p in live:
            p.wait_live()
        log("snapshot: waiting for the replica to equal staging")
        if not wait("initial snapshot", checks.replica_matches, 180, log):
            raise SystemExit("chaos: the initial snapshot did not reach the replica; see " + str(directory))
        checks.install_audit()
        log("audit triggers installed on the replica")
        # The clean replay: a fresh warehouse sink of its own group into dw_replay. It runs alongside (no
        # fault is aimed at it; only the broker's pauses reach it), so the end waits only for its tail;
        # CHAOS_REPLAY_ALONGSIDE=0 starts it after the drain instead.
        replay = procs["replay-sink"]
        alongside = os.environ.get("CHAOS_REPLAY_ALONGSIDE", "1") != "0"
        if alongside:
            replay.start()
            replay.wait_live()
            log(f"replay: a fresh warehouse sink (group {prefix}-replay) into CreditWarehouse.{replay_schema}, alongside")

        faults = schedule(seed, minutes)
        log(f"fault schedule ({len(faults)} faults): " + "; ".join(f"+{f.at:.0f}s {f.kind}" for f in faults))
        broker_pid = int((ROOT / ".run/broker.pid").read_text())
        runner = FaultRunner(faults, procs, prefix, broker_pid, log)
        writer = Writer(seed, log=log)
        app_writer = credit_app.AppWriter(seed, procs["app"].url, log=log)
        supervisor.start()
        writer.start()
        app_writer.start()
        runner.start()
        t0 = time.monotonic()
        runner.join()
        remaining = minutes * 60 - (time.monotonic() - t0)
        if remaining > 0:
            time.sleep(remaining)
        writer.stop()
        app_writer.stop()
        log(f"writer stopped after {time.monotonic() - t0:.0f} s: {writer.committed} transactions committed "
            f"({dict(writer.kinds)}), {writer.failed} failed (last error: {writer.error})")
        log(f"app writer (through sluice app's API): {dict(sorted(app_writer.counts.items()))}; "
            f"{len(app_writer.submitted)} applications submitted (last error: {app_writer.error})")
        if not any(k.endswith(" ok") for k in app_writer.counts):
            violations.append(f"no request through sluice app succeeded: {dict(app_writer.counts)}; last error: {app_writer.error}")
        log("faults by kind: " + ", ".join(f"{k} {n}" for k, n in sorted(runner.counts.items())) + f"; total {sum(runner.counts.values())}; events redelivered by stale-redelivery faults: {runner.redelivered}")
        if runner.error:
            violations.append(f"a fault could not be applied: {runner.error}")

        drain_started = time.monotonic()
        drained = wait("drain: replica equals staging and both sinks at the topics' end",
                       lambda: checks.replica_matches() and sink_offsets_at_end(prefix, f"{prefix}-replica", [("dw", f"{prefix}-warehouse")]),
                       float(os.environ.get("CHAOS_DRAIN_SECONDS", "300")), log)
        log(f"drain: {'done' if drained else 'NOT done'} in {time.monotonic() - drain_started:.0f} s")
        if not drained:
            violations.append("the pipeline did not drain: " + sink_offsets_at_end(prefix, f"{prefix}-replica", [("dw", f"{prefix}-warehouse")])[1])
            for line in kafka.describe_groups([f"{prefix}-replica", f"{prefix}-warehouse"]):
                log(f"drain: group {line}")

        violations += checks.check_health(live, log)
        supervisor.stop()
        violations += checks.check_replica(log)
        violations += checks.check_audit(log)
        source_kills = sum(1 for f, _t, _o in runner.done if f.kind == "kill9-source")
        poison_keys = {k for _t, k in runner.poison}
        violations += checks.check_source_duplicates(prefix, poison_keys, source_kills, log)

        if not alongside:
            log(f"replay: a fresh warehouse sink (group {prefix}-replay) into CreditWarehouse.{replay_schema}")
            replay.start()
            replay.wait_live()
        replayed = wait("replay", lambda: sink_offsets_at_end(prefix, None, [(replay_schema, f"{prefix}-replay")]),
                        float(os.environ.get("CHAOS_REPLAY_SECONDS", "900")), log)
        replay.stop()
        if not replayed:
            violations.append("the replay warehouse sink did not reach the topics' end")
        violations += checks.check_warehouse_replay("dw", replay_schema, log)
        violations += checks.check_poison(prefix, runner.poison,
                                          [f"{prefix}-replica.dlq", f"{prefix}-warehouse.dlq", f"{prefix}-replay.dlq"], log)
        violations += checks.check_rss(live, log)
    finally:
        if runner is not None:
            runner.stopping.set()
        supervisor.stop()
        for p in procs.values():
            p.stop(final=True)
        reap_leftovers(log)  # anything of this run still running, untracked
    if violations:
        log(f"chaos run {prefix} (CHAOS_SEED={seed}): FAILED, {len(violations)} violation(s):")
        for v in violations:
            log(f"  VIOLATION: {v}")
        return 1
    log(f"chaos run {prefix} (CHAOS_SEED={seed}, {minutes:g} min): every check passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
