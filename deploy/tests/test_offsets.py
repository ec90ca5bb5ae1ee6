"""`sluice offsets show|reset`: a source's stored position next to the current max LSN; a sink's
stored offsets per partition next to the end offsets (lag); a reset refused while the sink's consumer
group has members, a dry run without --yes, and the new offsets stored in the target with it."""

from __future__ import annotations

import json
import subprocess
import uuid

from conftest import REPO, sluice_binary, wait_until, world_env

TOPIC = "credit.CreditStaging.dbo.customers"


def offsets(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(sluice_binary()), "offsets", *args], capture_output=True, text=True, timeout=120)


def sink_rows(file) -> dict[tuple[str, int], tuple[str, int, int]]:
    result = offsets("show", str(file))
    assert result.returncode == 0, result.stdout + result.stderr
    rows = {}
    for line in result.stdout.splitlines()[2:]:
        topic, partition, stored, end, lag = line.split("\t")
        rows[(topic, int(partition))] = (stored, int(end), int(lag))
    return rows


def test_show_and_reset(tmp_path, sluice_runs):
    world_env("SLUICE_PG_URL")
    group = f"offsets-test-{uuid.uuid4().hex[:8]}"
    config = json.loads((REPO / "connectors" / "replica-postgres.json").read_text())
    config["name"] = group
    config["config"].update({"group.id": group, "topics.regex": TOPIC.replace(".", "\\."),
                             "table.name.format": f"ops_{group.replace('-', '_')}.${{source.table}}"})
    sink = tmp_path / "sink.json"
    sink.write_text(json.dumps(config))
    source = REPO / "connectors" / "credit-source.json"

    run = sluice_runs([source, sink], tmp_path / "sluice.log")
    run.port()

    # The sink catches up: stored == end, lag 0 (db-init's 50 customers at least).
    def caught_up():
        rows = sink_rows(sink)
        row = rows.get((TOPIC, 0))
        return row if row and row[0] != "-" and int(row[0]) >= 50 and row[2] == 0 else None
    stored, end, _ = wait_until(caught_up, 120, "the sink's stored offset to reach the end")

    # The source: a completed snapshot and a max LSN.
    shown = offsets("show", str(source))
    assert shown.returncode == 0, shown.stderr
    line = [l for l in shown.stdout.splitlines() if l.startswith("CreditStaging\t")][0].split("\t")
    assert line[3] == "completed" and line[4] != "-", shown.stdout

    # While the sink runs, its group has a member: refused, nothing changed.
    refused = offsets("reset", str(sink), "--to", "earliest", "--yes")
    assert refused.returncode == 2
    assert f"consumer group {group} has 1 active member(s)" in refused.stderr
    assert run.stop() == 0
    # What the sink stored when it stopped (it may have applied more since it first caught up, e.g. when
    # an earlier test changed the staging tables after the source's last run).
    stored = sink_rows(sink)[(TOPIC, 0)][0]

    # Without --yes: the plan, exit 3, nothing stored.
    dry = offsets("reset", str(sink), "--to", "earliest")
    assert dry.returncode == 3 and f"{TOPIC}\t0\t{stored}\t0" in dry.stdout, dry.stdout + dry.stderr
    assert sink_rows(sink)[(TOPIC, 0)][0] == stored

    # With --yes: stored in the target; lag is the whole partition again.
    done = offsets("reset", str(sink), "--to", "earliest", "--yes")
    assert done.returncode == 0, done.stdout + done.stderr
    after = sink_rows(sink)[(TOPIC, 0)]
    # (The local broker under-reports the end offset when nothing stored bounds it, so only the
    # stored offset and a consistent lag are checked.)
    assert after[0] == "0" and after[2] == after[1], after
    done = offsets("reset", str(sink), "--to", "7", "--yes")
    assert done.returncode == 0 and sink_rows(sink)[(TOPIC, 0)][0] == "7"

    bad = offsets("reset", str(sink), "--to", "yesterday")
    assert bad.returncode == 2 and "--to must be earliest, latest or an offset" in bad.stderr
