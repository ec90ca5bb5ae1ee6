"""dbt's snapshot of customers against Sluice's streaming SCD2 (dw.dim_customer), for the same changes.

Both keep one row per version of a customer, but they see different things by design:
- Sluice's warehouse sink sees every committed change (it reads CDC through Kafka), and makes a
  version only when a *tracked* column changes (full_name, national_id, date_of_birth, address,
  monthly_income, employment_status; connectors/warehouse-scd2.json);
- dbt's snapshot (strategy timestamp on updated_at) sees only the rows present in the replica when
  it runs, and makes a version whenever updated_at moved, tracked column or not.

So the comparison: collapse dbt's versions to changes of the tracked columns (and of deletedness);
then, per customer, dbt's states must be exactly Sluice's versions that were current at one of the
snapshot runs, in the same order and with the same values. The Sluice versions no run could see —
opened and closed again between two runs — are the whole difference, and this test drives exactly one
such burst (customer B) and checks that it is the only one.

Changes driven (each group followed by "wait until the replica and the warehouse caught up" and a
`dbt snapshot`): A: an address change before run 1 and another before run 2 (both agree, 3 versions);
B: two address changes before run 1 (Sluice 3 versions, dbt 2: the first change is never seen);
C: an email-only change (type 1: dbt makes a raw version, which collapses; Sluice makes none);
E: a new customer before run 1, deleted before run 2 (both: a version and a deleted version).
"""
from __future__ import annotations

import subprocess
from decimal import Decimal

import pytest

from world import (ROOT, Pipeline, pg_execute, pg_fetch, staging_execute, staging_fetch,
                   wait_warehouse_customers_caught_up, warehouse_fetch)

TRACKED = ["full_name", "national_id", "date_of_birth", "address", "monthly_income", "employment_status"]


def norm(values) -> tuple:
    return tuple(None if v is None else (str(v.normalize()) if isinstance(v, Decimal) else str(v)) for v in values)


def dbt(*args: str) -> None:
    r = subprocess.run([str(ROOT / "scripts/dbt"), *args], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, f"dbt {' '.join(args)} failed:\n{r.stdout[-4000:]}\n{r.stderr[-2000:]}"


def source_now():
    return staging_fetch("SELECT SYSUTCDATETIME()")[0][0]


def caught_up(pipeline: Pipeline) -> None:
    pipeline.wait_replica_matches(120)
    wait_warehouse_customers_caught_up(120)


def snapshot_run(pipeline: Pipeline, marks: list) -> None:
    caught_up(pipeline)
    marks.append(source_now())
    dbt("snapshot", "--select", "customers_snapshot")


def update_customer(customer_id: int, **values) -> tuple[str, tuple]:
    sets = ", ".join(f"{k} = %s" for k in values)
    return (f"UPDATE dbo.customers SET {sets}, updated_at = SYSUTCDATETIME() WHERE customer_id = %s",
            (*values.values(), customer_id))


def dbt_states() -> dict[int, list[tuple]]:
    """dbt's versions per customer, collapsed to changes of the tracked columns or of deletedness."""
    rows = pg_fetch(f"SELECT customer_id, {', '.join(TRACKED)}, coalesce(dbt_is_deleted, 'False') = 'True' AS deleted, "
                    "dbt_valid_from FROM analytics_snapshots.customers_snapshot ORDER BY customer_id, dbt_valid_from, dbt_updated_at")
    raw: dict[int, list[tuple]] = {}
    for r in rows:
        raw.setdefault(r["customer_id"], []).append(norm([r[c] for c in TRACKED]) + (r["deleted"],))
    return raw


def collapse(states: list[tuple]) -> list[tuple]:
    out: list[tuple] = []
    for s in states:
        if not out or out[-1] != s:
            out.append(s)
    return out


def sluice_versions(since) -> dict[int, list[tuple]]:
    """Sluice's versions per customer that were still current at `since` or opened after it:
    (tracked values…, deleted, valid_from, valid_to)."""
    rows = warehouse_fetch(f"SELECT customer_id, {', '.join(TRACKED)}, is_deleted, valid_from, valid_to FROM dw.dim_customer "
                           "WHERE valid_to IS NULL OR valid_to > %s ORDER BY customer_id, valid_from, customer_version_key",
                           (since,))
    out: dict[int, list[tuple]] = {}
    for r in rows:
        deleted, valid_from = bool(r[7]), r[8]
        if deleted and valid_from <= since and r[0] not in out:
            continue  # deleted before `since`: the customer did not exist then
        out.setdefault(r[0], []).append((norm(r[1:7]) + (deleted,), valid_from, r[9]))
    return out


@pytest.fixture(scope="module")
def pipeline() -> Pipeline:
    p = Pipeline.ensure()
    p.wait_ready(120)
    return p


def test_snapshot_matches_streaming_scd2(pipeline: Pipeline) -> None:
    caught_up(pipeline)
    # A fresh dbt history: the snapshot starts at run 0; Sluice's history is read from run 0 on.
    pg_execute("DROP TABLE IF EXISTS analytics_snapshots.customers_snapshot")
    ids = [r[0] for r in staging_fetch("SELECT TOP 3 customer_id FROM dbo.customers ORDER BY customer_id")]
    a, b, c = ids
    marks: list = []
    snapshot_run(pipeline, marks)  # run 0

    staging_execute([update_customer(a, address="Dataflow Street 1")])
    staging_execute([update_customer(b, address="Burst Lane 1")])
    staging_execute([update_customer(b, address="Burst Lane 2")])  # B's first change: never seen by dbt
    staging_execute([update_customer(c, email="c.changed@example.com")])  # type 1 only
    staging_execute([("INSERT INTO dbo.customers (full_name, national_id, date_of_birth, address, monthly_income, "
                      "employment_status) VALUES (%s, %s, %s, %s, %s, %s)",
                      ("Erin Dataflow", "T000000001", "1990-01-01", "Snapshot Road 5", Decimal("3100.00"), "employed"))])
    e = staging_fetch("SELECT customer_id FROM dbo.customers WHERE national_id = N'T000000001'")[0][0]
    snapshot_run(pipeline, marks)  # run 1

    staging_execute([update_customer(a, address="Dataflow Street 2")])
    staging_execute([("DELETE FROM dbo.customers WHERE customer_id = %s", (e,))])
    snapshot_run(pipeline, marks)  # run 2

    raw = dbt_states()
    dbt = {k: collapse(v) for k, v in raw.items()}
    sluice = sluice_versions(marks[0])

    # Which Sluice versions a run saw: current (valid_from <= mark < valid_to) at one of the marks.
    def seen(version) -> bool:
        _, valid_from, valid_to = version
        return any(valid_from <= m and (valid_to is None or m < valid_to) for m in marks)

    assert set(dbt) == set(sluice), f"customers only in dbt: {set(dbt) - set(sluice)}, only in Sluice: {set(sluice) - set(dbt)}"
    unseen: dict[int, list[tuple]] = {}
    for customer, versions in sluice.items():
        expected = [v[0] for v in versions if seen(v)]
        assert dbt[customer] == expected, (
            f"customer {customer}: dbt's tracked states {dbt[customer]} are not Sluice's versions seen at the runs {expected}")
        missed = [v[0] for v in versions if not seen(v)]
        if missed:
            unseen[customer] = missed

    # The difference by design is exactly B's first change: a state committed and replaced between two runs.
    assert set(unseen) == {b} and len(unseen[b]) == 1, f"Sluice versions no snapshot run saw: {unseen}"
    assert unseen[b][0][TRACKED.index("address")] == "Burst Lane 1"
    assert len(sluice[b]) == 3 and len(dbt[b]) == 2, "burst: Sluice has one version more than dbt"
    # A: a snapshot between each change, so both have the same three versions.
    assert len(sluice[a]) == len(dbt[a]) == 3
    assert [s[TRACKED.index("address")] for s in dbt[a][1:]] == ["Dataflow Street 1", "Dataflow Street 2"]
    # C: dbt versions on updated_at (2 raw rows), Sluice not on a type-1 column (1 version); equal once collapsed.
    assert len(raw[c]) == 2 and len(dbt[c]) == 1 and len(sluice[c]) == 1
    # E: created, then deleted: a version and a deleted version in both.
    assert [s[-1] for s in dbt[e]] == [False, True] and len(sluice[e]) == 2
    # Everyone else: one version in both.
    others = set(sluice) - {a, b, c, e}
    assert others and all(len(sluice[k]) == 1 and len(dbt[k]) == 1 for k in others)
