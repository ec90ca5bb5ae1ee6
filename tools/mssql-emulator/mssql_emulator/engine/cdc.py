"""SQL Server change data capture on Postgres (TEST FIXTURE).

How it works:
- sys.sp_cdc_enable_table puts a row trigger on the source table. The trigger writes the row images
  (jsonb) with the Postgres top-level transaction id into ``_mssql.cdc_pending`` and marks the
  transaction as "has captured changes" (a transaction-local setting).
- When a session commits a transaction that has captured changes, the engine inserts a commit record
  with a commit sequence number into ``_mssql.cdc_commits`` and COMMITs, holding the database's commit
  lock across both, so commit sequence order is commit order. Rolled back work (and its pending rows
  and commit record) vanishes with its transaction.
- The capture job (EmulatorServer._capture_job, one per database as SQL Server has; it waits
  capture_interval seconds after each scan cycle, unless stopped with sys.sp_cdc_stop_job) calls
  ``_mssql.cdc_harvest`` (set-based: one INSERT per capture instance): for each committed transaction in commit order
  it assigns LSNs (one commit LSN per transaction, greater than every LSN assigned before; a
  __$seqval per row change, below the commit LSN), writes the change-table rows (an update as
  operation 3 then 4), and a cdc.lsn_time_mapping row in the server's time zone.
"""

from __future__ import annotations

import json

import asyncpg

from ..api import SqlError, SqlType
from .catalog import ColumnInfo, Database, TableInfo
from .pgsql import literal, qi
from .types import BIT, DATETIME, INT, LSN, unsupported

LSN_ZERO = b"\x00" * 10

CDC_PG_SQL = r"""
SET LOCAL check_function_bodies = off;
CREATE SCHEMA IF NOT EXISTS sys;
CREATE TABLE IF NOT EXISTS _mssql.cdc_pending(id bigserial PRIMARY KEY, xid bigint NOT NULL,
    instances text[] NOT NULL, op smallint NOT NULL, old_row jsonb, new_row jsonb,
    begin_time timestamptz NOT NULL);
CREATE INDEX IF NOT EXISTS cdc_pending_xid ON _mssql.cdc_pending(xid, id);
CREATE TABLE IF NOT EXISTS _mssql.cdc_commits(seq bigint PRIMARY KEY, xid bigint NOT NULL,
    end_time timestamptz NOT NULL);
ALTER TABLE _mssql.cdc_commits ADD COLUMN IF NOT EXISTS base numeric;
CREATE SEQUENCE IF NOT EXISTS _mssql.cdc_commit_seq;
CREATE TABLE IF NOT EXISTS _mssql.cdc_lsn(id int PRIMARY KEY, last numeric NOT NULL);
INSERT INTO _mssql.cdc_lsn VALUES (1, 37 * 281474976710656::numeric + 416 * 65536 + 1) ON CONFLICT DO NOTHING;
-- The LSN counter is a sequence (read and set under an advisory lock held until COMMIT), not a row:
-- a row would make a snapshot (REPEATABLE READ) transaction's commit fail on a concurrent update.
DO $$ BEGIN
  IF to_regclass('_mssql.cdc_lsn_seq') IS NULL THEN
    CREATE SEQUENCE _mssql.cdc_lsn_seq AS bigint MINVALUE 0;
    PERFORM setval('_mssql.cdc_lsn_seq', (SELECT last FROM _mssql.cdc_lsn WHERE id = 1)::bigint, true);
  END IF;
END $$;
CREATE OR REPLACE FUNCTION _mssql.cdc_lsn_lock() RETURNS void LANGUAGE sql AS
  'SELECT pg_advisory_xact_lock(7238001)';
CREATE OR REPLACE FUNCTION _mssql.cdc_last() RETURNS numeric LANGUAGE sql VOLATILE AS
  'SELECT last_value::numeric FROM _mssql.cdc_lsn_seq';
CREATE TABLE IF NOT EXISTS _mssql.cdc_instances(name_ci text PRIMARY KEY, info jsonb NOT NULL,
    insert_sql text NOT NULL);
CREATE TABLE IF NOT EXISTS _mssql.cdc_settings(job_type text PRIMARY KEY, retention int, threshold int,
    pollinginterval int, maxtrans int, maxscans int, continuous int);
INSERT INTO _mssql.cdc_settings VALUES ('capture', NULL, NULL, 5, 500, 10, 1),
    ('cleanup', 4320, 5000, NULL, NULL, NULL, NULL) ON CONFLICT DO NOTHING;

CREATE OR REPLACE FUNCTION _mssql.lsn_bytes(x numeric) RETURNS bytea LANGUAGE sql IMMUTABLE AS $f$
  SELECT decode(lpad(to_hex(trunc(x / 281474976710656)::bigint), 8, '0')
                || lpad(to_hex(mod(x, 281474976710656)::bigint), 12, '0'), 'hex')
$f$;
CREATE OR REPLACE FUNCTION _mssql.lsn_num(b bytea) RETURNS numeric LANGUAGE sql IMMUTABLE AS $f$
  SELECT ('x' || lpad(substr(encode(b, 'hex'), 1, 8), 16, '0'))::bit(64)::bigint::numeric * 281474976710656
       + ('x' || lpad(substr(encode(b, 'hex'), 9, 12), 16, '0'))::bit(64)::bigint
$f$;
CREATE OR REPLACE FUNCTION _mssql.cdc_reserve(n int) RETURNS numeric LANGUAGE plpgsql AS $f$
DECLARE base numeric;
BEGIN
  PERFORM _mssql.cdc_lsn_lock();  -- held until the transaction ends, as a row lock would be
  base := (trunc(_mssql.cdc_last() / 65536) + 1) * 65536 + 1;
  PERFORM setval('_mssql.cdc_lsn_seq', (base + (n - 1))::bigint, true);
  RETURN base;
END $f$;
CREATE OR REPLACE FUNCTION _mssql.tran_id(x bigint) RETURNS bytea LANGUAGE sql IMMUTABLE AS $f$
  SELECT decode(lpad(to_hex(x), 20, '0'), 'hex')
$f$;

CREATE OR REPLACE FUNCTION _mssql.cdc_capture() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
  INSERT INTO _mssql.cdc_pending(xid, instances, op, old_row, new_row, begin_time)
  VALUES (txid_current(), TG_ARGV::text[],
          CASE TG_OP WHEN 'INSERT' THEN 2 WHEN 'DELETE' THEN 1 ELSE 4 END,
          CASE WHEN TG_OP <> 'INSERT' THEN to_jsonb(OLD) END,
          CASE WHEN TG_OP <> 'DELETE' THEN to_jsonb(NEW) END, now());
  PERFORM set_config('mssql.cdc_dirty', 'on', true);
  RETURN NULL;
END $f$;

CREATE OR REPLACE FUNCTION _mssql.cdc_mask(cols jsonb, o jsonb, nw jsonb) RETURNS bytea
LANGUAGE plpgsql IMMUTABLE AS $f$
DECLARE ncol int := jsonb_array_length(cols); nbytes int; m bytea; c jsonb; ord int;
BEGIN
  nbytes := greatest(1, (ncol + 7) / 8);
  m := decode(repeat('00', nbytes), 'hex');
  FOR c IN SELECT * FROM jsonb_array_elements(cols) LOOP
    ord := (c->>'ordinal')::int;
    IF o IS NULL OR (o -> (c->>'pg')) IS DISTINCT FROM (nw -> (c->>'pg')) THEN
      m := set_bit(m, (nbytes - 1 - (ord - 1) / 8) * 8 + (ord - 1) % 8, 1);
    END IF;
  END LOOP;
  RETURN m;
END $f$;

CREATE OR REPLACE FUNCTION _mssql.cdc_harvest(tz text) RETURNS integer LANGUAGE plpgsql AS $f$
DECLARE c record; inst record; seqs bigint[]; total int := 0; base numeric; cols text; vals text;
BEGIN
  -- One scan cycle, set-based: the commit records seen now (commit order), every pending row of their
  -- transactions numbered k = 0, 1, … in change order; the k-th row gets __$seqval base + k and
  -- __$command_id k + 1, the transaction's n rows the commit LSN base + n.
  SELECT coalesce(array_agg(seq ORDER BY seq), '{}') INTO seqs FROM _mssql.cdc_commits;
  IF cardinality(seqs) > 0 THEN
    -- commit records from before LSNs were reserved at commit: reserved now, in commit order
    FOR c IN SELECT cm.seq, n.c FROM _mssql.cdc_commits cm
             CROSS JOIN LATERAL (SELECT count(*) AS c FROM _mssql.cdc_pending p WHERE p.xid = cm.xid) AS n
             WHERE cm.seq = ANY(seqs) AND cm.base IS NULL AND n.c > 0 ORDER BY cm.seq LOOP
      UPDATE _mssql.cdc_commits SET base = _mssql.cdc_reserve(c.c::int + 1) WHERE seq = c.seq;
    END LOOP;
    FOR inst IN SELECT i.* FROM _mssql.cdc_instances i
                WHERE EXISTS (SELECT 1 FROM _mssql.cdc_pending p JOIN _mssql.cdc_commits cm ON cm.xid = p.xid
                              WHERE cm.seq = ANY(seqs) AND i.name_ci = ANY(p.instances)) LOOP
      SELECT string_agg(', ' || quote_ident(lower(col->>'name')), '' ORDER BY (col->>'ordinal')::int),
             string_agg(', r.' || quote_ident(lower(col->>'name')), '' ORDER BY (col->>'ordinal')::int)
        INTO cols, vals FROM jsonb_array_elements(inst.info->'columns') AS col;
      -- an update is operation 3 (before) then 4 (after), both with the changed columns' mask
      EXECUTE format($q$
        INSERT INTO cdc.%I ("__$start_lsn", "__$end_lsn", "__$seqval", "__$operation", "__$update_mask"%s, "__$command_id")
        SELECT _mssql.lsn_bytes(h.base + h.n), NULL, _mssql.lsn_bytes(h.base + h.k), v.op,
               CASE WHEN h.op = 4 THEN _mssql.cdc_mask($2, h.old_row, h.new_row) ELSE _mssql.cdc_mask($2, NULL, NULL) END%s,
               (h.k + 1)::int
        FROM (SELECT p.*, cm.seq, cm.base, row_number() OVER (PARTITION BY p.xid ORDER BY p.id) - 1 AS k,
                     count(*) OVER (PARTITION BY p.xid) AS n
                FROM _mssql.cdc_pending p JOIN _mssql.cdc_commits cm ON cm.xid = p.xid WHERE cm.seq = ANY($1)) AS h
        CROSS JOIN LATERAL (SELECT 3 AS op, h.old_row AS img WHERE h.op = 4
                            UNION ALL SELECT 4, h.new_row WHERE h.op = 4
                            UNION ALL SELECT h.op::int, coalesce(h.new_row, h.old_row) WHERE h.op <> 4) AS v
        CROSS JOIN LATERAL jsonb_populate_record(NULL::_mssql.%I, v.img) AS r
        WHERE $3 = ANY(h.instances)
        ORDER BY h.seq, h.k, v.op$q$, inst.info->>'ct', coalesce(cols, ''), coalesce(vals, ''), inst.name_ci || '_row')
        USING seqs, inst.info->'columns', inst.name_ci;
    END LOOP;
    INSERT INTO cdc.lsn_time_mapping(start_lsn, tran_begin_time, tran_end_time, tran_id)
    SELECT _mssql.lsn_bytes(cm.base + p.n), _mssql.dt(p.begin_t AT TIME ZONE tz), _mssql.dt(cm.end_time AT TIME ZONE tz),
           _mssql.tran_id(cm.xid)
      FROM _mssql.cdc_commits cm
      JOIN (SELECT xid, count(*) AS n, min(begin_time) AS begin_t FROM _mssql.cdc_pending
             WHERE xid IN (SELECT xid FROM _mssql.cdc_commits WHERE seq = ANY(seqs)) GROUP BY xid) AS p ON p.xid = cm.xid
     WHERE cm.seq = ANY(seqs) ORDER BY cm.seq;
    GET DIAGNOSTICS total = ROW_COUNT;
    DELETE FROM _mssql.cdc_pending p USING _mssql.cdc_commits cm WHERE p.xid = cm.xid AND cm.seq = ANY(seqs);
    DELETE FROM _mssql.cdc_commits WHERE seq = ANY(seqs);
  END IF;
  -- As SQL Server's capture job does in periods without captured changes, record how far the log has
  -- been processed (tran_id 0x00) when it moved on (capture instance created, DDL), so that
  -- sys.fn_cdc_get_max_lsn() reaches a new instance's start_lsn.
  -- Committers reserve their LSNs holding the counter's lock until COMMIT: once we hold it, every
  -- transaction with a reserved LSN is committed and visible, and if one is still to be harvested the
  -- progress mark must wait (it would pass that transaction's LSN).
  PERFORM _mssql.cdc_lsn_lock();
  IF total = 0 AND NOT EXISTS (SELECT 1 FROM _mssql.cdc_commits)
     AND _mssql.cdc_last() >
       coalesce((SELECT _mssql.lsn_num(start_lsn) FROM cdc.lsn_time_mapping ORDER BY start_lsn DESC LIMIT 1), 0) THEN
    base := _mssql.cdc_reserve(1);
    INSERT INTO cdc.lsn_time_mapping(start_lsn, tran_begin_time, tran_end_time, tran_id)
    VALUES (_mssql.lsn_bytes(base), _mssql.dt(clock_timestamp() AT TIME ZONE tz),
            _mssql.dt(clock_timestamp() AT TIME ZONE tz), '\x00'::bytea);
  END IF;
  RETURN total;
END $f$;

CREATE OR REPLACE FUNCTION sys.fn_cdc_get_max_lsn() RETURNS bytea LANGUAGE sql STABLE AS $f$
  SELECT start_lsn FROM cdc.lsn_time_mapping ORDER BY start_lsn DESC LIMIT 1
$f$;
CREATE OR REPLACE FUNCTION sys.fn_cdc_get_min_lsn(ci text) RETURNS bytea LANGUAGE sql STABLE AS $f$
  SELECT coalesce((SELECT start_lsn FROM cdc.change_tables WHERE lower(capture_instance) = lower(ci)),
                  '\x00000000000000000000'::bytea)
$f$;
CREATE OR REPLACE FUNCTION sys.fn_cdc_increment_lsn(l bytea) RETURNS bytea LANGUAGE sql IMMUTABLE AS $f$
  SELECT _mssql.lsn_bytes(_mssql.lsn_num(l) + 1)
$f$;
CREATE OR REPLACE FUNCTION sys.fn_cdc_decrement_lsn(l bytea) RETURNS bytea LANGUAGE sql IMMUTABLE AS $f$
  SELECT CASE WHEN _mssql.lsn_num(l) = 0 THEN l ELSE _mssql.lsn_bytes(_mssql.lsn_num(l) - 1) END
$f$;
CREATE OR REPLACE FUNCTION sys.fn_cdc_map_lsn_to_time(l bytea) RETURNS timestamp(3) LANGUAGE sql STABLE AS $f$
  SELECT tran_end_time FROM cdc.lsn_time_mapping WHERE start_lsn <= l ORDER BY start_lsn DESC LIMIT 1
$f$;
CREATE OR REPLACE FUNCTION sys.fn_cdc_map_time_to_lsn(op text, t timestamp) RETURNS bytea
LANGUAGE plpgsql STABLE AS $f$
BEGIN
  CASE lower(trim(op))
    WHEN 'largest less than' THEN
      RETURN (SELECT start_lsn FROM cdc.lsn_time_mapping WHERE tran_end_time < t ORDER BY start_lsn DESC LIMIT 1);
    WHEN 'largest less than or equal' THEN
      RETURN (SELECT start_lsn FROM cdc.lsn_time_mapping WHERE tran_end_time <= t ORDER BY start_lsn DESC LIMIT 1);
    WHEN 'smallest greater than' THEN
      RETURN (SELECT start_lsn FROM cdc.lsn_time_mapping WHERE tran_end_time > t ORDER BY start_lsn LIMIT 1);
    WHEN 'smallest greater than or equal' THEN
      RETURN (SELECT start_lsn FROM cdc.lsn_time_mapping WHERE tran_end_time >= t ORDER BY start_lsn LIMIT 1);
    ELSE
      RAISE EXCEPTION 'An insufficient number of arguments were supplied for the procedure or function sys.fn_cdc_map_time_to_lsn.'
        USING ERRCODE = 'MS313';
  END CASE;
END $f$;
CREATE OR REPLACE FUNCTION sys.fn_cdc_get_column_ordinal(ci text, col text) RETURNS integer
LANGUAGE sql STABLE AS $f$
  SELECT cc.column_ordinal FROM cdc.captured_columns cc JOIN cdc.change_tables ct ON ct.object_id = cc.object_id
   WHERE lower(ct.capture_instance) = lower(ci) AND lower(cc.column_name) = lower(col)
$f$;
CREATE OR REPLACE FUNCTION sys.fn_cdc_is_bit_set(pos integer, mask bytea) RETURNS smallint
LANGUAGE sql IMMUTABLE AS $f$
  SELECT CASE WHEN mask IS NULL OR pos IS NULL OR pos < 1 OR (pos - 1) / 8 >= length(mask) THEN 0
              ELSE get_bit(mask, (length(mask) - 1 - (pos - 1) / 8) * 8 + (pos - 1) % 8)::smallint END
$f$;
CREATE OR REPLACE FUNCTION sys.fn_cdc_has_column_changed(ci text, col text, mask bytea) RETURNS smallint
LANGUAGE sql STABLE AS $f$
  SELECT sys.fn_cdc_is_bit_set(sys.fn_cdc_get_column_ordinal(ci, col), mask)
$f$;

CREATE OR REPLACE FUNCTION _mssql.cdc_range(ci text, p_lo bytea, p_hi bytea, filter text)
RETURNS TABLE(lo bytea, hi bytea, all_old boolean) LANGUAGE plpgsql VOLATILE AS $f$
DECLARE mn bytea; mx bytea; f text := lower(trim(filter));
BEGIN
  SELECT c.start_lsn INTO mn FROM cdc.change_tables c WHERE lower(c.capture_instance) = ci;
  mx := sys.fn_cdc_get_max_lsn();
  IF p_lo IS NULL OR p_hi IS NULL OR mn IS NULL OR mx IS NULL OR p_lo > p_hi
     OR p_lo < mn OR p_hi > mx OR f IS NULL OR f NOT IN ('all', 'all update old') THEN
    RAISE EXCEPTION 'An insufficient number of arguments were supplied for the procedure or function cdc.fn_cdc_get_all_changes_ ... .'
      USING ERRCODE = 'MS313';
  END IF;
  RETURN QUERY SELECT p_lo, p_hi, f = 'all update old';
END $f$;
CREATE OR REPLACE FUNCTION _mssql.cdc_net_range(ci text, p_lo bytea, p_hi bytea, filter text)
RETURNS TABLE(lo bytea, hi bytea, with_mask boolean, merge boolean) LANGUAGE plpgsql VOLATILE AS $f$
DECLARE mn bytea; mx bytea; f text := lower(trim(filter));
BEGIN
  SELECT c.start_lsn INTO mn FROM cdc.change_tables c WHERE lower(c.capture_instance) = ci;
  mx := sys.fn_cdc_get_max_lsn();
  IF p_lo IS NULL OR p_hi IS NULL OR mn IS NULL OR mx IS NULL
     OR p_lo > p_hi OR p_lo < mn OR p_hi > mx
     OR f IS NULL OR f NOT IN ('all', 'all with mask', 'all with merge') THEN
    RAISE EXCEPTION 'An insufficient number of arguments were supplied for the procedure or function cdc.fn_cdc_get_net_changes_ ... .'
      USING ERRCODE = 'MS313';
  END IF;
  RETURN QUERY SELECT p_lo, p_hi, f = 'all with mask', f = 'all with merge';
END $f$;
"""

# The CDC system tables, created through the engine's own T-SQL DDL path so they carry SQL Server
# types in the catalog. Column lists follow Microsoft's documentation of each table.
CDC_SYSTEM_TABLES = [
    """CREATE TABLE cdc.change_tables (object_id int NOT NULL, version int NULL, source_object_id int NULL,
        capture_instance sysname NOT NULL, start_lsn binary(10) NULL, end_lsn binary(10) NULL,
        supports_net_changes bit NULL, has_drop_pending bit NULL, role_name sysname NULL,
        index_name sysname NULL, filegroup_name sysname NULL, create_date datetime NULL,
        partition_switch bit NOT NULL)""",
    """CREATE TABLE cdc.captured_columns (object_id int NOT NULL, column_name sysname NOT NULL,
        column_id int NULL, column_type sysname NOT NULL, column_ordinal int NOT NULL,
        is_computed bit NULL, masking_function nvarchar(4000) NULL)""",
    """CREATE TABLE cdc.index_columns (object_id int NOT NULL, column_name sysname NOT NULL,
        index_ordinal tinyint NOT NULL, column_id int NOT NULL)""",
    """CREATE TABLE cdc.lsn_time_mapping (start_lsn binary(10) NOT NULL, tran_begin_time datetime NULL,
        tran_end_time datetime NULL, tran_id varbinary(10) NULL)""",
    """CREATE TABLE cdc.ddl_history (source_object_id int NULL, object_id int NOT NULL,
        required_column_update bit NULL, ddl_command nvarchar(max) NULL, ddl_lsn binary(10) NOT NULL,
        ddl_time datetime NULL)""",
]

# Written by the committing transaction itself, under the database's commit lock, just before COMMIT:
# its commit sequence number and the block of LSNs its changes and its commit get (reserved now, so
# LSN order is commit order, also relative to capture instances created and DDL logged meanwhile).
COMMIT_RECORD_SQL = (
    "INSERT INTO _mssql.cdc_commits(seq, xid, end_time, base) "
    "SELECT nextval('_mssql.cdc_commit_seq'), txid_current(), clock_timestamp(), _mssql.cdc_reserve(n.c::int + 1) "
    "FROM (SELECT count(*) AS c FROM _mssql.cdc_pending WHERE xid = txid_current()) AS n "
    "WHERE current_setting('mssql.cdc_dirty', true) = 'on' AND n.c > 0"
)


async def load_instances(db: Database, conn: asyncpg.Connection) -> None:
    db.cdc_instances = {}
    db.tracked_tables = set()
    has = await conn.fetchval("SELECT to_regclass('_mssql.cdc_instances') IS NOT NULL")
    if not has:
        return
    for r in await conn.fetch("SELECT name_ci, info FROM _mssql.cdc_instances"):
        info = json.loads(r["info"]) if isinstance(r["info"], str) else r["info"]
        db.cdc_instances[r["name_ci"]] = info
        db.tracked_tables.add((info["source_schema"].lower(), info["source_table"].lower()))


async def harvest(db: Database, conn: asyncpg.Connection, tz: str) -> int:
    async with conn.transaction():
        return await conn.fetchval("SELECT _mssql.cdc_harvest($1)", tz)


# ---------------------------------------------------------------------- the T-SQL functions
CDC_FUNCS = {
    "fn_cdc_get_max_lsn": LSN, "fn_cdc_get_min_lsn": LSN, "fn_cdc_increment_lsn": LSN,
    "fn_cdc_decrement_lsn": LSN, "fn_cdc_map_lsn_to_time": DATETIME,
    "fn_cdc_map_time_to_lsn": LSN, "fn_cdc_get_column_ordinal": INT,
    "fn_cdc_is_bit_set": BIT, "fn_cdc_has_column_changed": BIT,
}


def change_function_table(db: Database, schema: str, fn: str) -> TableInfo | None:
    """The columns of cdc.fn_cdc_get_all_changes_<ci> / fn_cdc_get_net_changes_<ci> (None: not one)."""
    if schema != "cdc":
        return None
    for prefix in ("fn_cdc_get_all_changes_", "fn_cdc_get_net_changes_"):
        if fn.startswith(prefix):
            ci = fn[len(prefix):]
            inst = getattr(db, "cdc_instances", {}).get(ci)
            if inst is None:
                return None
            cols = [ColumnInfo("__$start_lsn", LSN, False, False, 1),
                    ColumnInfo("__$seqval", LSN, True, False, 2) if prefix.endswith("all_changes_") else None,
                    ColumnInfo("__$operation", INT, False, False, 3),
                    ColumnInfo("__$update_mask", SqlType("varbinary", length=128), True, False, 4)]
            cols = [c for c in cols if c is not None]
            for c in inst["columns"]:
                cols.append(ColumnInfo.from_json(c["info"]))
            return TableInfo("cdc", fn, cols)
    return None


def change_function_sql(db: Database, schema: str, fn: str, written: str, args: list[str]) -> str:
    """The Postgres subquery of a CDC table-valued function call (written: its name as written,
    args: its arguments as Postgres SQL)."""
    if schema == "cdc" and fn.startswith("fn_cdc_get_all_changes_"):
        ci = fn[len("fn_cdc_get_all_changes_"):]
        inst = getattr(db, "cdc_instances", {}).get(ci)
        if inst is None:
            raise SqlError(208, f"Invalid object name 'cdc.{written}'.")
        if len(args) != 3:
            raise SqlError(313 if len(args) < 3 else 8144,
                           "An insufficient number of arguments were supplied for the procedure or "
                           f"function cdc.fn_cdc_get_all_changes_ ... ." if len(args) < 3 else
                           f"Procedure or function cdc.fn_cdc_get_all_changes_{ci} has too many arguments specified.")
        cols = ", ".join(f"ct.{qi(c['name'])}" for c in inst["columns"])
        return (f"(SELECT ct.\"__$start_lsn\", ct.\"__$seqval\", ct.\"__$operation\", ct.\"__$update_mask\""
                f"{', ' + cols if cols else ''} FROM _mssql.cdc_range({literal(ci)}, {args[0]}, {args[1]}, {args[2]}) AS r "
                f"CROSS JOIN LATERAL (SELECT * FROM cdc.{qi(inst['ct'])} AS c WHERE c.\"__$start_lsn\" >= r.lo "
                f"AND c.\"__$start_lsn\" <= r.hi AND (r.all_old OR c.\"__$operation\" <> 3)) AS ct "
                f"ORDER BY ct.\"__$start_lsn\", ct.\"__$seqval\", ct.\"__$command_id\", ct.\"__$operation\")")
    if schema == "cdc" and fn.startswith("fn_cdc_get_net_changes_"):
        ci = fn[len("fn_cdc_get_net_changes_"):]
        inst = getattr(db, "cdc_instances", {}).get(ci)
        if inst is None or not inst.get("net"):
            raise SqlError(208, f"Invalid object name 'cdc.{written}'.")
        if len(args) != 3:
            raise SqlError(313, "An insufficient number of arguments were supplied for the procedure or "
                           "function cdc.fn_cdc_get_net_changes_ ... .")
        keys = inst["key"]
        cols = ", ".join(f"ct.{qi(c['name'])}" for c in inst["columns"])
        part = ", ".join(f"c.{qi(k)}" for k in keys)
        return (f"(SELECT ct.\"__$start_lsn\", ct.\"__$operation\", ct.\"__$update_mask\", {cols} FROM "
                f"_mssql.cdc_net_range({literal(ci)}, {args[0]}, {args[1]}, {args[2]}) AS r CROSS JOIN LATERAL ("
                f"SELECT z.*, CASE WHEN z.\"__$operation\" = 1 THEN 1 WHEN r.merge THEN 5 "
                f"WHEN z.first_op = 2 THEN 2 WHEN z.first_op = 1 THEN 4 ELSE z.\"__$operation\" END AS net_op FROM ("
                f"SELECT c.*, first_value(c.\"__$operation\") OVER w AS first_op, "
                f"row_number() OVER (PARTITION BY {part} ORDER BY c.\"__$start_lsn\" DESC, c.\"__$seqval\" DESC, c.\"__$operation\" DESC) AS rn "
                f"FROM cdc.{qi(inst['ct'])} AS c WHERE c.\"__$start_lsn\" >= r.lo AND c.\"__$start_lsn\" <= r.hi "
                f"AND c.\"__$operation\" <> 3 WINDOW w AS (PARTITION BY {part} ORDER BY c.\"__$start_lsn\", c.\"__$seqval\", c.\"__$operation\" "
                f"ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)) AS z WHERE z.rn = 1 "
                f"AND NOT (z.first_op = 2 AND z.\"__$operation\" = 1)) AS ct0 "
                f"CROSS JOIN LATERAL (SELECT ct0.\"__$start_lsn\", ct0.net_op AS \"__$operation\", "
                f"CASE WHEN r.with_mask AND ct0.net_op = 4 THEN ct0.\"__$update_mask\" END AS \"__$update_mask\", "
                f"{', '.join('ct0.' + qi(c['name']) for c in inst['columns'])}) AS ct "
                f"ORDER BY ct.\"__$start_lsn\")")
    raise unsupported(f"The table-valued function {written}")
