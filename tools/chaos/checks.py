"""What the run checks at the end. Each check prints its figures and returns a list of violations
(each naming the first violating key)."""
from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from decimal import Decimal

import kafka
from world import http_status, mssql_fetch, pg, replica_url

TABLES = {  # table → (key column, compared columns)
    "customers": ("customer_id", ["customer_id", "full_name", "national_id", "date_of_birth", "email", "phone", "address",
                                  "monthly_income", "employment_status", "created_at", "updated_at"]),
    "credit_applications": ("application_id", ["application_id", "customer_id", "product", "requested_amount", "term_months",
                                               "interest_rate", "status", "submitted_by", "submitted_at", "decided_by",
                                               "decided_at", "decision_note"]),
    "repayments": ("repayment_id", ["repayment_id", "application_id", "amount", "paid_at"]),
}


def _value(v) -> str | None:
    if v is None:
        return None
    if isinstance(v, Decimal):  # the emulator drops trailing zeros of decimal(p,s); compare the number
        s = format(v, "f")
        return s.rstrip("0").rstrip(".") if "." in s else s
    return str(v)


def _norm(row) -> tuple:
    return tuple(_value(v) for v in row)


def _checksum(rows: dict) -> str:
    h = hashlib.sha256()
    for key in sorted(rows):
        h.update(repr((key, rows[key])).encode())
    return h.hexdigest()[:16]


def table_rows(table: str) -> tuple[dict, dict]:
    key, cols = TABLES[table]
    staging = {r[0]: _norm(r) for r in mssql_fetch("SLUICE_STAGING_URL", f"SELECT {', '.join(cols)} FROM dbo.{table}")}
    replica = {r[0]: _norm(tuple(r)) for r in pg(replica_url(), f"SELECT {', '.join(cols)} FROM dbo.{table}")}
    return staging, replica


def replica_matches() -> bool:
    try:
        return all(a == b for a, b in (table_rows(t) for t in TABLES))
    except Exception:  # noqa: BLE001 - the replica's tables may not exist yet
        return False


def check_replica(log) -> list[str]:
    violations = []
    for table in TABLES:
        staging, replica = table_rows(table)
        log(f"check replica = staging: dbo.{table}: staging {len(staging)} rows checksum {_checksum(staging)}, "
            f"replica {len(replica)} rows checksum {_checksum(replica)}")
        diff = sorted(k for k in set(staging) | set(replica) if staging.get(k) != replica.get(k))
        if diff:
            k = diff[0]
            violations.append(f"replica differs from staging in dbo.{table} for {len(diff)} key(s); first {TABLES[table][0]}={k}: "
                              f"staging {staging.get(k)} replica {replica.get(k)}")
    return violations


AUDIT_SQL = [
    "CREATE SCHEMA IF NOT EXISTS chaos_audit",
    "CREATE TABLE IF NOT EXISTS chaos_audit.writes (seq bigserial PRIMARY KEY, tbl text NOT NULL, op text NOT NULL, "
    "key text NOT NULL, position text COLLATE \"C\", at timestamptz NOT NULL DEFAULT clock_timestamp())",
    """CREATE OR REPLACE FUNCTION chaos_audit.audit_row() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP = 'DELETE' THEN
        INSERT INTO chaos_audit.writes (tbl, op, key, position) VALUES (TG_TABLE_NAME, 'D', to_jsonb(OLD)->>TG_ARGV[0], OLD.__sluice_position);
      ELSE
        INSERT INTO chaos_audit.writes (tbl, op, key, position) VALUES (TG_TABLE_NAME, left(TG_OP, 1), to_jsonb(NEW)->>TG_ARGV[0], NEW.__sluice_position);
      END IF;
      RETURN NULL;
    END $$""",
]


def install_audit() -> None:
    """An audit trigger on each replica table: one row per row the sink really wrote (it commits or rolls
    back with the sink's transaction), as in Tests/IntegrationTests/PostgresSink/PostgresSinkKillTests."""
    for sql in AUDIT_SQL:
        pg(replica_url(), sql)
    for table, (key, _) in TABLES.items():
        pg(replica_url(), f"DROP TRIGGER IF EXISTS chaos_audit ON dbo.{table}")
        pg(replica_url(), f"CREATE TRIGGER chaos_audit AFTER INSERT OR UPDATE OR DELETE ON dbo.{table} "
                          f"FOR EACH ROW EXECUTE FUNCTION chaos_audit.audit_row('{key}')")


def check_audit(log) -> list[str]:
    rows = pg(replica_url(), "SELECT tbl, op, key, position FROM chaos_audit.writes ORDER BY seq")
    written: set = set()
    last: dict = {}
    doubled, backwards = [], []
    for r in rows:
        if r["op"] == "D":
            continue
        k = (r["tbl"], r["key"])
        if (k, r["position"]) in written:
            doubled.append(f"{r['tbl']} key {r['key']} position {r['position']}")
        written.add((k, r["position"]))
        if k in last and last[k] >= r["position"]:
            backwards.append(f"{r['tbl']} key {r['key']}: {last[k]} then {r['position']}")
        last[k] = r["position"]
    ops = Counter(r["op"] for r in rows)
    log(f"check audit: {len(rows)} audited writes ({dict(ops)}), {len(last)} keys; applied twice: {len(doubled)}; "
        f"position went backwards: {len(backwards)}")
    out = []
    if doubled:
        out.append(f"{len(doubled)} (key, position) applied twice in the replica; first: {doubled[0]}")
    if backwards:
        out.append(f"{len(backwards)} writes moved a key's position backwards; first: {backwards[0]}")
    if len(rows) == 0:
        out.append("the audit recorded no writes: the check could not see anything")
    return out


def data_topics(prefix: str) -> list[str]:
    return [f"{prefix}.CreditStaging.dbo.{t}" for t in TABLES]


def check_source_duplicates(prefix: str, poison_keys: set, source_kills: int, log) -> list[str]:
    """(key, position) published more than once; allowed only as the re-read unacknowledged tail of a
    killed source (identical events, at most one window of 5,000 events per kill -9)."""
    out = []
    total_dups = 0
    for topic in data_topics(prefix):
        seen: dict = {}
        dups = 0
        messages = kafka.read_topic(topic)
        first = None
        for _p, _o, key, value in messages:
            if value is None or key in poison_keys:
                continue
            payload = json.loads(value)["payload"]
            s = payload["source"]
            ident = (key, s["commit_lsn"], s["change_lsn"], s["command_id"], s["event_serial_no"], payload["op"])
            body = (payload.get("before"), payload.get("after"))
            if ident in seen:
                dups += 1
                if seen[ident] != body and first is None:
                    first = f"{topic} key {key} at {ident[1:]} published twice with different content"
            else:
                seen[ident] = body
        total_dups += dups
        log(f"check source duplicates: {topic}: {len(messages)} messages, {dups} duplicate (key, position)")
        if first:
            out.append(first)
    bound = 5000 * source_kills
    log(f"check source duplicates: {total_dups} in all; allowed: the unacknowledged tail of {source_kills} kill -9(s) "
        f"of the source (at most {bound})")
    if total_dups > bound:
        out.append(f"the source published {total_dups} duplicate events, more than the unacknowledged tail allows ({bound})")
    return out


def check_poison(prefix: str, poison: list[tuple[str, str]], dlqs: list[str], log) -> list[str]:
    out = []
    dlq_keys = {d: Counter(k for _p, _o, k, _v in kafka.read_topic(d)) for d in dlqs}
    others = {t: {k for _p, _o, k, _v in kafka.read_topic(t)} for t in data_topics(prefix)}
    for topic, key in poison:
        for d in dlqs:
            if dlq_keys[d][key] == 0:
                out.append(f"poison message {key} (into {topic}) is not in dead-letter topic {d}")
        for t, keys in others.items():
            if t != topic and key in keys:
                out.append(f"poison message {key} (into {topic}) also appeared in {t}")
    log(f"check poison: {len(poison)} injected; in the dead-letter topics: "
        + ", ".join(f"{d}: {sum(dlq_keys[d][k] for _t, k in poison)} copies of {sum(1 for _t, k in poison if dlq_keys[d][k])}"
                    for d in dlqs)
        + f"; other dead letters: {sum(sum(c.values()) for c in dlq_keys.values()) - sum(dlq_keys[d][k] for d in dlqs for _t, k in poison)}")
    poison_keys = {k for _t, k in poison}
    for d in dlqs:
        strays = [k for k in dlq_keys[d] if k not in poison_keys]
        if strays:
            out.append(f"dead-letter topic {d} holds {len(strays)} message(s) that were not injected poison; first key {strays[0]}")
    return out


WAREHOUSE_TABLES = {
    "dim_customer": ("customer_id", "customer_version_key"),
    "dim_application": ("application_id", "application_version_key"),
    "fact_credit_application": ("application_id", None),
    "fact_repayment": ("repayment_id", None),
}


def warehouse_history(schema: str) -> dict[str, dict]:
    """Each warehouse table's rows as {(key, position or ''): row}, surrogate keys replaced by the
    (key, source_position) of the version they point to."""
    versions: dict = {}
    result = {}
    for table, (key, surrogate) in WAREHOUSE_TABLES.items():
        rows = mssql_fetch("SLUICE_WAREHOUSE_URL", f"SELECT * FROM {schema}.{table}")
        cols = [c for c in _columns(schema, table)]
        result[table] = {"cols": cols, "rows": rows}
        if surrogate:
            ki, si, pi = cols.index(key), cols.index(surrogate), cols.index("source_position")
            versions[surrogate] = {r[si]: (r[ki], bytes(r[pi])) for r in rows}
    out = {}
    for table, data in result.items():
        key, surrogate = WAREHOUSE_TABLES[table]
        cols = data["cols"]
        rows = {}
        for r in data["rows"]:
            d = dict(zip(cols, r))
            d.pop(surrogate, None) if surrogate else None
            for ref in ("customer_version_key", "application_version_key"):
                if ref in d and ref != surrogate:
                    d[ref] = versions[ref].get(d[ref]) if d[ref] is not None else None
            ident = (d[key], bytes(d.get("source_position") or b""))
            rows[ident] = tuple(sorted((c, bytes(v).hex() if isinstance(v, (bytes, bytearray)) else _value(v))
                                       for c, v in d.items()))
        out[table] = rows
    return out


_COLS: dict = {}


def _columns(schema: str, table: str) -> list[str]:
    if (schema, table) not in _COLS:
        from world import mssql
        conn = mssql("SLUICE_WAREHOUSE_URL")
        try:
            with conn.cursor() as cur:
                cur.execute(f"SELECT TOP 1 * FROM {schema}.{table}")
                _COLS[(schema, table)] = [d[0] for d in cur.description]
                cur.fetchall()
        finally:
            conn.close()
    return _COLS[(schema, table)]


def check_warehouse_replay(live_schema: str, replay_schema: str, log) -> list[str]:
    out = []
    live, replay = warehouse_history(live_schema), warehouse_history(replay_schema)
    for table in WAREHOUSE_TABLES:
        a, b = live[table], replay[table]
        diff = sorted((k for k in set(a) | set(b) if a.get(k) != b.get(k)), key=repr)
        log(f"check warehouse history = clean replay: {table}: live {len(a)} rows checksum {_checksum(a)}, "
            f"replay {len(b)} rows checksum {_checksum(b)}, differing {len(diff)}")
        if diff:
            k = diff[0]
            out.append(f"warehouse {live_schema}.{table} differs from the clean replay for {len(diff)} version(s); first "
                       f"{WAREHOUSE_TABLES[table][0]}={k[0]} position {k[1].decode(errors='replace')}: live {a.get(k)} replay {b.get(k)}")
    return out


def check_health(processes, log, timeout: float = 90) -> list[str]:
    out = []
    deadline = time.monotonic() + timeout
    for p in processes:
        while http_status(p.url + "/health/ready") != 200 and time.monotonic() < deadline:
            time.sleep(0.5)
        status = http_status(p.url + "/health/ready")
        log(f"check health: {p.name} /health/ready {status}")
        if status != 200:
            out.append(f"{p.name}: /health/ready answered {status}, not 200")
    return out


def check_rss(processes, log, limit_mib: int = 256) -> list[str]:
    out = []
    for p in processes:
        mib = p.peak_rss_kib / 1024
        log(f"check memory: {p.name} peak VmRSS {mib:.1f} MiB over {p.starts} start(s); exits on its own: {len(p.unexpected_exits)}")
        if mib > limit_mib:
            out.append(f"{p.name} grew to {mib:.1f} MiB RSS, past {limit_mib} MiB")
        if p.unexpected_exits:
            out.append(f"{p.name} exited on its own {len(p.unexpected_exits)} time(s); first status {p.unexpected_exits[0][1]}")
    return out
