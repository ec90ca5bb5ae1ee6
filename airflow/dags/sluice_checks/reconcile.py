"""Reconciliation of one replicated table across the pipeline: the SQL Server source ("staging",
CreditStaging), the Postgres replica and the warehouse's current versions (CreditWarehouse.dw).

Row counts and checksums are compared up to the position both sinks have applied, so changes still in
flight are not differences:
1. the replica's applied position P is the newest source position it holds for the table (rows'
   `__sluice_position` and deleted keys in `sluice.sluice_deleted`), read in one snapshot with its rows;
   the warehouse's W is the newest `last_position` of its rows, read in the same statement as them;
2. every key the source changed at a position after min(P, W) is left out on all three sides (the
   keys come from the change tables of the table's CDC capture instances, `cdc.<ci>_CT`);
3. the remaining keys must be the same rows with the same values everywhere. A change the capture job
   has not harvested yet can look like a difference, so a difference must persist over several attempts
   (and for the same keys) before it counts; then `ReconciliationError` names the keys.

Positions are Sluice's `SourcePosition.sortKey` text: `<commit LSN, 20 hex>.<command>.<change LSN>.<serial>`.
Functions take DB-API connections (pytds for SQL Server, psycopg2/psycopg for Postgres), so they run
inside Airflow tasks and in plain Python alike.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Callable

import pytds


@dataclass(frozen=True)
class TableSpec:
    table: str                 # dbo.<table> in the source and the replica
    key: str
    columns: tuple[str, ...]   # compared columns (besides the key), same names in all three
    warehouse_table: str       # dw.<table>
    warehouse_current: str     # predicate selecting the current version of each key

    @property
    def replica_name(self) -> str:
        return f"dbo.{self.table}"


TABLES: dict[str, TableSpec] = {
    "customers": TableSpec(
        "customers", "customer_id",
        ("full_name", "national_id", "date_of_birth", "email", "phone", "address", "monthly_income",
         "employment_status", "created_at", "updated_at"),
        "dw.dim_customer", "is_current = 1"),
    "credit_applications": TableSpec(
        "credit_applications", "application_id",
        ("customer_id", "product", "requested_amount", "term_months", "interest_rate", "status", "submitted_by",
         "submitted_at", "decided_by", "decided_at", "decision_note"),
        "dw.dim_application", "is_current = 1"),
    "repayments": TableSpec(
        "repayments", "repayment_id", ("application_id", "amount", "paid_at"),
        "dw.fact_repayment", "1 = 1"),
}


class ReconciliationError(Exception):
    """A real difference: it persisted over every attempt, for keys no later change explains."""


def canonical(value: Any) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None).isoformat(timespec="microseconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def row_text(values) -> str:
    return "\x1f".join(canonical(v) for v in values)


@dataclass
class Side:
    """One side's rows: key → canonical row text; and the position it has applied up to."""
    name: str
    rows: dict[Any, str]
    applied: str | None = None

    def restricted(self, excluded: set) -> dict[Any, str]:
        return {k: v for k, v in self.rows.items() if k not in excluded}


def checksum(rows: dict[Any, str]) -> str:
    h = hashlib.sha256()
    for k in sorted(rows, key=lambda x: (str(type(x)), x)):
        h.update(canonical(k).encode())
        h.update(b"\x1e")
        h.update(rows[k].encode())
        h.update(b"\x1d")
    return h.hexdigest()[:16]


def read_replica(pg, spec: TableSpec) -> Side:
    cols = ", ".join(f'"{c}"' for c in (spec.key, *spec.columns))
    with pg.cursor() as cur:
        # One snapshot for the rows and the applied position.
        cur.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        try:
            cur.execute(f'SELECT {cols}, "__sluice_position" FROM dbo."{spec.table}"')
            fetched = cur.fetchall()
            cur.execute("SELECT max(position COLLATE \"C\") FROM sluice.sluice_deleted WHERE table_name = %s",
                        (spec.replica_name,))
            deleted_max = cur.fetchone()[0]
        finally:
            cur.execute("COMMIT")
    rows = {r[0]: row_text(r[1:-1]) for r in fetched}
    positions = [r[-1] for r in fetched] + ([deleted_max] if deleted_max else [])
    return Side("replica", rows, max(positions) if positions else None)


def read_warehouse(wh, spec: TableSpec) -> Side:
    cols = ", ".join((spec.key, *spec.columns))
    with wh.cursor() as cur:
        # last_position: binary(58) holding the sortKey's ASCII bytes, decoded here (CAST to varchar is
        # not portable: the SQL Server emulator returns hex text).
        cur.execute(f"SELECT {cols}, is_deleted, last_position FROM {spec.warehouse_table} "
                    f"WHERE {spec.warehouse_current}")
        fetched = cur.fetchall()
    rows = {r[0]: row_text(r[1:-2]) for r in fetched if not r[-2]}
    positions = [bytes(r[-1]).decode("ascii") for r in fetched]
    return Side("warehouse", rows, max(positions) if positions else None)


def read_source(src, spec: TableSpec) -> Side:
    cols = ", ".join((spec.key, *spec.columns))
    with src.cursor() as cur:
        cur.execute(f"SELECT {cols} FROM dbo.{spec.table}")
        fetched = cur.fetchall()
    return Side("staging", {r[0]: row_text(r[1:]) for r in fetched})


def commit_lsn(position: str) -> bytes:
    return bytes.fromhex(position.split(".", 1)[0])


def change_prefix(start_lsn: bytes, command_id: int, seqval: bytes) -> str:
    """A change's position without the event serial, in SourcePosition.sortKey form."""
    return f"{bytes(start_lsn).hex()}.{command_id:010d}.{bytes(seqval).hex()}"


def keys_changed_since(src, spec: TableSpec, cutoff: str) -> set:
    """Keys of every change in the source's CDC change tables for the table that may sort after
    `cutoff` (a SourcePosition.sortKey): what a sink at that position may not have applied yet."""
    lsn = commit_lsn(cutoff)
    with src.cursor() as cur:
        cur.execute("SELECT ct.capture_instance FROM cdc.change_tables AS ct "
                    "WHERE ct.source_object_id = OBJECT_ID(%s)", (f"dbo.{spec.table}",))
        instances = [r[0] for r in cur.fetchall()]
        if not instances:
            raise ReconciliationError(f"dbo.{spec.table} has no CDC capture instance: the source cannot stream it")
        keys: set = set()
        for ci in instances:
            # binary(10) LSNs travel as pytds.Binary: plain bytes would be sent as text.
            cur.execute(f"SELECT __$start_lsn, __$command_id, __$seqval, __$operation, {spec.key} FROM cdc.{ci}_CT "
                        "WHERE __$start_lsn >= %s", (pytds.Binary(lsn),))
            cut_prefix, cut_serial = cutoff.rsplit(".", 1)
            for start_lsn, command_id, seqval, operation, key in cur.fetchall():
                prefix = change_prefix(start_lsn, command_id or 0, seqval)
                # The change at the cutoff itself is applied, except the second event (serial 2, the
                # create) of a primary-key update whose delete (serial 1) is the cutoff.
                if prefix > cut_prefix or (prefix == cut_prefix and operation == 2 and int(cut_serial) < 2):
                    keys.add(key)
    return keys


@dataclass
class Report:
    table: str
    cutoff: str | None
    excluded: int
    counts: dict[str, int]
    checksums: dict[str, str]
    differences: dict[str, list] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.differences

    def summary(self) -> str:
        parts = [f"{n} {self.counts[n]} rows #{self.checksums[n]}" for n in self.counts]
        text = (f"dbo.{self.table}: " + ", ".join(parts)
                + f" (up to position {self.cutoff}; {self.excluded} keys changed since, left out)")
        for what, keys in self.differences.items():
            text += f"\n  {what}: keys {keys[:20]}{' …' if len(keys) > 20 else ''}"
        return text


def compare_once(src, pg, wh, spec: TableSpec) -> Report:
    # Sinks first, then the source: the source is never older than what the sinks applied.
    replica = read_replica(pg, spec)
    warehouse = read_warehouse(wh, spec)
    source = read_source(src, spec)
    applied = [p for p in (replica.applied, warehouse.applied) if p]
    cutoff = min(applied) if applied else None
    excluded = keys_changed_since(src, spec, cutoff) if cutoff else set()
    sides = {s.name: s.restricted(excluded) for s in (source, replica, warehouse)}
    report = Report(spec.table, cutoff, len(excluded), {n: len(r) for n, r in sides.items()},
                    {n: checksum(r) for n, r in sides.items()})
    base = sides["staging"]
    for name in ("replica", "warehouse"):
        other = sides[name]
        missing = sorted(set(base) - set(other))
        extra = sorted(set(other) - set(base))
        changed = sorted(k for k in set(base) & set(other) if base[k] != other[k])
        if missing:
            report.differences[f"in staging, missing from the {name}"] = missing
        if extra:
            report.differences[f"in the {name}, not in staging"] = extra
        if changed:
            report.differences[f"different values in the {name}"] = changed
    return report


def reconcile(connect: Callable[[], tuple], spec: TableSpec, attempts: int = 4, wait_seconds: float = 5.0,
              log: Callable[[str], None] = print) -> Report:
    """Compares up to `attempts` times. Returns the report as soon as the sides agree; raises
    ReconciliationError when some keys differed in every attempt; returns the last report (with a log
    line) when differences kept moving between attempts (changes in flight, never the same keys)."""
    persistent: dict[str, set] | None = None
    report: Report | None = None
    for attempt in range(1, attempts + 1):
        src, pg, wh = connect()
        try:
            report = compare_once(src, pg, wh, spec)
        finally:
            for c in (src, pg, wh):
                c.close()
        log(f"attempt {attempt}/{attempts}: {report.summary()}")
        if report.ok:
            return report
        now = {what: set(keys) for what, keys in report.differences.items()}
        if persistent is None:
            persistent = now
        else:
            persistent = {w: persistent[w] & now[w] for w in persistent.keys() & now.keys() if persistent[w] & now[w]}
        if attempt < attempts:
            time.sleep(wait_seconds)
    assert report is not None
    if persistent:
        lines = "; ".join(f"{w}: {sorted(k)[:20]}" for w, k in persistent.items())
        raise ReconciliationError(f"dbo.{spec.table} differs across the pipeline in all {attempts} attempts: {lines}\n"
                                  f"{report.summary()}")
    log(f"dbo.{spec.table}: differences moved between attempts (changes in flight), none persisted")
    return report


def connect_from_environment() -> tuple:
    """(staging, replica, warehouse) connections from SLUICE_STAGING_URL, SLUICE_PG_URL and
    SLUICE_WAREHOUSE_URL (the local world's `scripts/services env`)."""
    import os
    from urllib.parse import unquote, urlparse

    import psycopg2

    def mssql(env: str):
        u = urlparse(os.environ[env])
        return pytds.connect(server=u.hostname, port=u.port or 1433, user=unquote(u.username),
                             password=unquote(u.password), database=u.path.lstrip("/"), autocommit=True,
                             login_timeout=15)

    pg = psycopg2.connect(os.environ["SLUICE_PG_URL"].replace("postgres://", "postgresql://", 1))
    pg.autocommit = True
    return mssql("SLUICE_STAGING_URL"), pg, mssql("SLUICE_WAREHOUSE_URL")


def main(argv: list[str] | None = None) -> int:
    """By hand, without Airflow: `.venv-airflow/bin/python airflow/dags/sluice_checks/reconcile.py [table…]`
    after eval "$(scripts/services env)". Exit 1 on a real difference."""
    import argparse

    ap = argparse.ArgumentParser(description="Reconcile staging, the replica and the warehouse.")
    ap.add_argument("tables", nargs="*", help=f"of {', '.join(TABLES)} (default: all)")
    ap.add_argument("--attempts", type=int, default=4)
    ap.add_argument("--wait", type=float, default=5.0)
    args = ap.parse_args(argv)
    unknown = [t for t in args.tables if t not in TABLES]
    if unknown:
        ap.error(f"unknown table {', '.join(unknown)}: choose from {', '.join(TABLES)}")
    failed = False
    for table in args.tables or list(TABLES):
        try:
            reconcile(connect_from_environment, TABLES[table], attempts=args.attempts, wait_seconds=args.wait)
        except ReconciliationError as e:
            print(f"RECONCILIATION FAILED: {e}", flush=True)
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
