"""`sluice offsets reset` for a source: refused while the source runs (it is a member of the consumer group
__sluice-source.<prefix>, which reset asks the group coordinator about), validated, a dry run without
--yes; after a reset to a position the source resumes exactly after it; after --to earliest it
snapshots again."""

from __future__ import annotations

import json
import time

from conftest import wait_until
from source_support import payload, sluice, source_file, staging_execute, wait_for_messages


def snapshot_done(topic: str):
    return wait_for_messages(topic, lambda ms: sum(1 for m in ms if (payload(m["value"]) or {}).get("op") == "r") >= 50,
                             120, "the snapshot of dbo.customers")


def shown(path) -> list[str]:
    result = sluice("offsets", "show", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    return [line for line in result.stdout.splitlines() if line.startswith("CreditStaging\t")][0].split("\t")


def updates(messages: list[dict], marker: str) -> list[dict]:
    return [m for m in messages if m["value"] and payload(m["value"])["op"] == "u"
            and (payload(m["value"])["after"]["phone"] or "").startswith(marker)]


def test_reset_is_refused_while_the_source_runs_and_validated(tmp_path, sluice_runs):
    path, name, prefix = source_file(tmp_path, "reset-run")
    group = f"__sluice-source.{prefix}"
    run = sluice_runs([path], tmp_path / "sluice.log")
    run.port()
    snapshot_done(f"{prefix}.CreditStaging.dbo.customers")

    refused = sluice("offsets", "reset", str(path), "--to", "latest", "--yes")
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert f"the source is running: consumer group {group} has 1 member(s) (" in refused.stderr
    # The member is named by its client id (Kafka: "client.id from host"; Tansu: the member id, which starts with it).
    assert f"(sluice-{name}" in refused.stderr, refused.stderr
    assert f"systemctl stop sluice@{name}" in refused.stderr
    assert run.stop() == 0

    # Stopped: the dry run prints the plan and changes nothing.
    before = shown(path)
    dry = sluice("offsets", "reset", str(path), "--to", "latest")
    assert dry.returncode == 3, dry.stdout + dry.stderr
    assert "streams from the first change committed after" in dry.stdout and "add --yes" in dry.stdout
    assert shown(path) == before

    bad = sluice("offsets", "reset", str(path), "--to", "yesterday")
    assert bad.returncode == 2 and "--to must be earliest, latest or an LSN" in bad.stderr
    past = sluice("offsets", "reset", str(path), "--to", "ffffffff:ffffffff:ffff", "--yes")
    assert past.returncode == 2 and "is past the newest change of CreditStaging" in past.stderr, past.stderr
    other = sluice("offsets", "reset", str(path), "--to", "latest", "--database", "Nope")
    assert other.returncode == 2 and "--database Nope is not one of database.names" in other.stderr

    # kill -9: the dead process stays a member (Kafka expires it after the 6 s session; Tansu 0.6.0 only
    # when another request for the group arrives), so the reset stays refused; a source that starts
    # and stops cleanly (SIGTERM leaves the group) clears it.
    run = sluice_runs([path], tmp_path / "sluice-2.log")
    wait_until(lambda: "Joined consumer group" in run.text(), 60, "the source to join its liveness group")
    run.kill()
    assert sluice("offsets", "reset", str(path), "--to", "latest").returncode == 2
    run = sluice_runs([path], tmp_path / "sluice-3.log")
    wait_until(lambda: "Joined consumer group" in run.text(), 60, "the source to join again")
    assert sluice("offsets", "reset", str(path), "--to", "latest").returncode == 2
    assert run.stop() == 0
    left = time.monotonic()
    wait_until(lambda: sluice("offsets", "reset", str(path), "--to", "latest").returncode == 3, 30,
               "the group to be empty after SIGTERM")
    print(f"source liveness: offsets reset allowed {time.monotonic() - left:.1f} s after the source exited on SIGTERM")


def test_reset_to_a_position_resumes_exactly_after_it(tmp_path, sluice_runs):
    path, _, prefix = source_file(tmp_path, "reset-pos")
    topic = f"{prefix}.CreditStaging.dbo.customers"
    run = sluice_runs([path], tmp_path / "sluice.log")
    run.port()
    snapshot = snapshot_done(topic)
    ids = sorted({payload(m["value"])["after"]["customer_id"] for m in snapshot if m["value"]})[:3]
    tag = prefix[-4:]
    for marker in ("A", "B", "C"):
        staging_execute([("UPDATE dbo.customers SET phone = %s WHERE customer_id = %s", (f"{marker}{tag}-{i}", i)) for i in ids])
    first = wait_for_messages(topic, lambda ms: len(updates(ms, f"C{tag}")) == 3, 120, "the three transactions")
    assert run.stop() == 0
    lsn = {marker: {payload(m["value"])["source"]["commit_lsn"] for m in updates(first, f"{marker}{tag}")} for marker in "ABC"}
    assert all(len(v) == 1 for v in lsn.values()), lsn
    a, b, c = (lsn[m].pop() for m in "ABC")
    assert shown(path)[1] >= c

    done = sluice("offsets", "reset", str(path), "--to", a, "--yes")
    assert done.returncode == 0, done.stdout + done.stderr
    assert shown(path)[1] == a

    end = max(m["offset"] for m in first)
    run = sluice_runs([path], tmp_path / "sluice-2.log")
    run.port()
    again = wait_for_messages(topic, lambda ms: len(updates(ms, f"C{tag}")) == 6, 120, "the re-published transactions")
    wait_until(lambda: shown(path)[1] >= c, 60, "the position to be stored again")
    assert run.stop() == 0
    messages = read_after(topic, end)
    republished = [(payload(m["value"])["source"]["commit_lsn"], payload(m["value"])["after"]["phone"]) for m in messages]
    assert republished == [(b, f"B{tag}-{i}") for i in ids] + [(c, f"C{tag}-{i}") for i in ids], republished
    assert len(again) == len(first) + 6


def read_after(topic: str, offset: int) -> list[dict]:
    from source_support import read_topic
    return sorted((m for m in read_topic(topic) if m["offset"] > offset), key=lambda m: m["offset"])


def test_reset_to_earliest_snapshots_again(tmp_path, sluice_runs):
    path, _, prefix = source_file(tmp_path, "reset-snap")
    topic = f"{prefix}.CreditStaging.dbo.customers"
    run = sluice_runs([path], tmp_path / "sluice.log")
    run.port()
    first = len([m for m in snapshot_done(topic) if payload(m["value"])["op"] == "r"])
    assert run.stop() == 0
    assert shown(path)[3] == "completed"

    done = sluice("offsets", "reset", str(path), "--to", "earliest", "--yes")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "removed" in done.stdout
    assert shown(path)[1:4] == ["-", "-", "-"]

    run = sluice_runs([path], tmp_path / "sluice-2.log")
    run.port()
    wait_for_messages(topic, lambda ms: sum(1 for m in ms if (payload(m["value"]) or {}).get("op") == "r") >= 2 * first,
                      120, "a second snapshot")
    wait_until(lambda: shown(path)[3] == "completed", 60, "the second snapshot to complete")
    assert run.stop() == 0

    # snapshot.mode=no_data never reads existing rows: earliest would not snapshot, so it is refused.
    data = json.loads(path.read_text())
    data["config"]["snapshot.mode"] = "no_data"
    no_data = tmp_path / "no-data.json"
    no_data.write_text(json.dumps(data))
    refused = sluice("offsets", "reset", str(no_data), "--to", "earliest")
    assert refused.returncode == 2 and "snapshot.mode=no_data never reads existing rows" in refused.stderr, refused.stderr
