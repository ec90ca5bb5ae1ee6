"""The CDC system procedures (TEST FIXTURE): sys.sp_cdc_enable_db/disable_db, enable_table/disable_table,
the capture and cleanup jobs, and the help procedures, with SQL Server's documented errors. Catalog
changes run through the session's execute_ddl (one statement of the session) or system_transaction."""

from __future__ import annotations

import json
import re
from typing import AsyncIterator

from ..api import Done, Message, ResultItem, ReturnStatus, SqlError, SqlType
from . import cdc
from .catalog import ColumnInfo, TableInfo
from .ddl import Cursor
from .pgsql import literal, qi
from .types import pg_type, sql_text


# ---------------------------------------------------------------------- helpers
def _require_cdc_db(session) -> None:
    if not session.db.cdc_enabled:
        raise SqlError(22901, f"The database '{session.db.name}' is not enabled for Change Data Capture. "
                       "Ensure that the correct database context is set and retry the operation. To report on "
                       "the databases enabled for Change Data Capture, query the is_cdc_enabled column in the "
                       "sys.databases catalog view.")


async def _set_meta(session, key: str, value: str) -> None:
    await session.execute_ddl(f"INSERT INTO _mssql.meta VALUES ({literal(key)}, {literal(value)}) "
                              f"ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value")


def _str(v) -> str | None:
    if v is None:
        return None
    return str(v)


# ---------------------------------------------------------------------- enable / disable
async def _sp_cdc_enable_db(session, a) -> AsyncIterator[ResultItem]:
    db = session.db
    if db.database_id <= 4:
        raise SqlError(22988, "This instance of SQL Server does not support change data capture on system "
                       f"databases ('{db.name}').")
    if not db.cdc_enabled:
        if session.trancount > 0:
            raise SqlError(22906, "The stored procedure 'sys.sp_cdc_enable_db' cannot be executed within a "
                           "user transaction.")
        async with db.ddl_lock:
            await session.execute_ddl(cdc.CDC_PG_SQL + "; CREATE SCHEMA IF NOT EXISTS cdc; "
                          "INSERT INTO _mssql.schemas VALUES ('cdc', 'cdc') ON CONFLICT DO NOTHING")
            db.schemas["cdc"] = "cdc"
            for ddl in cdc.CDC_SYSTEM_TABLES:
                c = Cursor(ddl)
                c.i = 2
                await session.create_table(c, system=True)
            await _set_meta(session, "cdc_enabled", "1")
            await _set_meta(session, "capture_running", "1")
            db.cdc_enabled = True
            db.capture_running = True
            db.cdc_instances = {}
            db.tracked_tables = set()
    yield ReturnStatus(0)
    yield Done(None)


async def _sp_cdc_disable_db(session, a) -> AsyncIterator[ResultItem]:
    db = session.db
    if db.cdc_enabled:
        async with db.ddl_lock:
            for ci, inst in list(db.cdc_instances.items()):
                await _drop_instance(session, ci)
            stmts = ["DROP SCHEMA IF EXISTS cdc CASCADE", "DELETE FROM _mssql.schemas WHERE name = 'cdc'",
                     "DELETE FROM _mssql.tables WHERE schema_name = 'cdc'",
                     "DROP TABLE IF EXISTS _mssql.cdc_pending, _mssql.cdc_commits, _mssql.cdc_instances, "
                     "_mssql.cdc_lsn, _mssql.cdc_settings", "DROP SEQUENCE IF EXISTS _mssql.cdc_commit_seq, _mssql.cdc_lsn_seq",
                     "UPDATE _mssql.meta SET value = '0' WHERE key = 'cdc_enabled'"]
            await session.execute_ddl("; ".join(stmts))
            db.cdc_enabled = False
            db.schemas.pop("cdc", None)
            for k in [k for k in db.tables if k[0] == "cdc"]:
                del db.tables[k]
            db.cdc_instances = {}
            db.tracked_tables = set()
    yield ReturnStatus(0)
    yield Done(None)


def _trigger_sql(session, table: TableInfo, instances: list[str]) -> str:
    drop = f"DROP TRIGGER IF EXISTS _mssql_cdc ON {table.pg_name}"
    if not instances:
        return drop
    args = ", ".join(literal(i) for i in instances)
    return (f"{drop}; CREATE TRIGGER _mssql_cdc AFTER INSERT OR UPDATE OR DELETE ON {table.pg_name} "
            f"FOR EACH ROW EXECUTE FUNCTION _mssql.cdc_capture({args})")


def _instances_of(db, table: TableInfo) -> list[str]:
    return sorted(ci for ci, inst in db.cdc_instances.items()
                  if (inst["source_schema"].lower(), inst["source_table"].lower()) == table.key)


async def _primary_key(session, table: TableInfo) -> tuple[str | None, list[str]]:
    conn = await session.conn()
    r = await conn.fetchrow(
        "SELECT c.conname, (SELECT array_agg(a.attname ORDER BY array_position(c.conkey, a.attnum)) "
        "FROM pg_attribute a WHERE a.attrelid = c.conrelid AND a.attnum = ANY(c.conkey)) AS cols "
        "FROM pg_constraint c WHERE c.conrelid = $1::regclass AND c.contype = 'p'", table.pg_name)
    if r is None:
        return None, []
    return r["conname"], [table.column(n).name for n in r["cols"]]


async def _unique_index(session, table: TableInfo, index_name: str) -> list[str] | None:
    conn = await session.conn()
    r = await conn.fetchrow(
        "SELECT (SELECT array_agg(a.attname ORDER BY array_position(i.indkey::int2[], a.attnum)) FROM pg_attribute a "
        "WHERE a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey::int2[])) AS cols FROM pg_index i "
        "JOIN pg_class ic ON ic.oid = i.indexrelid WHERE i.indrelid = $1::regclass AND ic.relname = $2 "
        "AND i.indisunique", table.pg_name, index_name)
    if r is None:
        return None
    return [table.column(n).name for n in r["cols"]]


async def _sp_cdc_enable_table(session, a) -> AsyncIterator[ResultItem]:
    db = session.db
    _require_cdc_db(session)
    schema, name = _str(a["@source_schema"]), _str(a["@source_name"])
    if schema is None or name is None:
        raise SqlError(22920, "The parameters @source_schema and @source_name cannot be NULL.")
    table = db.table(schema, name)
    if table is None or table.system:
        raise SqlError(22931, f"Source table '{schema}.{name}' does not exist in the current database. Ensure "
                       "that the correct database context is set. Specify a valid schema and table name for the "
                       "database.")
    ci_name = _str(a["@capture_instance"]) or f"{table.schema}_{table.name}"
    ci = ci_name.lower()
    if ci in db.cdc_instances:
        raise SqlError(22926, f"Could not create a capture instance because the capture instance name "
                       f"'{ci_name}' already exists in the current database. Specify an explicit unique name "
                       "for the parameter @capture_instance.")
    existing = _instances_of(db, table)
    if len(existing) >= 2:
        raise SqlError(22962, f"Two capture instances already exist for source table '{table.display}'. A table "
                       "can have at most two capture instances. If the current tracking options are not "
                       "appropriate, disable change tracking for the obsolete instance by using "
                       "sys.sp_cdc_disable_table and retry the operation.")
    if len(ci_name) > 100 or not re.fullmatch(r"[A-Za-z0-9_@#$]+", ci_name):
        raise SqlError(22930, f"The capture instance name '{ci_name}' is not valid.")
    pk_name, pk_cols = await _primary_key(session, table)
    index_name = _str(a["@index_name"])
    key_cols = pk_cols
    if index_name:
        key_cols = await _unique_index(session, table, index_name)
        if key_cols is None:
            raise SqlError(22908, f"Could not locate the unique index '{index_name}' on source table "
                           f"'{table.display}'.")
    net = a["@supports_net_changes"]
    net = bool(int(net)) if net is not None else bool(key_cols)
    if net and not key_cols:
        raise SqlError(22939, "The parameter @supports_net_changes is set to 1, but the source table does not "
                       "have a primary key defined and no alternate unique index has been specified.")
    col_list = _str(a["@captured_column_list"])
    if col_list:
        wanted = [w.strip().strip("[]\"") for w in col_list.split(",") if w.strip()]
        cols = []
        for w in wanted:
            c = table.column(w)
            if c is None:
                raise SqlError(22960, f"Column '{w}' in the @captured_column_list is not a column of the "
                               f"source table '{table.display}'.")
            cols.append(c)
        cols.sort(key=lambda c: c.column_id)
        missing = [k for k in key_cols if k.lower() not in {c.pg for c in cols}]
        if missing and (net or pk_cols):
            raise SqlError(22945, f"Could not create a capture instance because the index column "
                           f"'{missing[0]}' is not included in the @captured_column_list.")
    else:
        cols = list(table.columns)
    ct_name = f"{ci_name}_CT"
    colinfo = []
    for k, c in enumerate(cols, start=1):
        info = ColumnInfo(c.name, c.type, True, False, k)
        colinfo.append({"name": c.name, "pg": c.pg, "column_id": c.column_id, "ordinal": k,
                        "info": info.to_json()})
    inst = {"name": ci_name, "source_schema": table.schema, "source_table": table.name, "ct": ct_name.lower(),
            "columns": colinfo, "key": [k for k in key_cols], "net": net, "role": _str(a["@role_name"]),
            "index_name": index_name or pk_name}
    captured_ddl = ", ".join(f"[{c.name}] {sql_text(c.type)} NULL" for c in cols)
    ddl = (f"CREATE TABLE cdc.[{ct_name}] ([__$start_lsn] binary(10) NOT NULL, [__$end_lsn] binary(10) NULL, "
           f"[__$seqval] binary(10) NOT NULL, [__$operation] int NOT NULL, [__$update_mask] varbinary(128) NULL"
           f"{', ' + captured_ddl if captured_ddl else ''}, [__$command_id] int NULL)")
    row_type = f'_mssql."{ci}_row"'
    type_cols = ", ".join(f"{qi(c.name)} {pg_type(c.type)}" for c in cols) or "dummy int"
    insert_sql = (f'INSERT INTO cdc.{qi(ct_name)} ("__$start_lsn", "__$end_lsn", "__$seqval", "__$operation", '
                  f'"__$update_mask"{"".join(", " + qi(c.name) for c in cols)}, "__$command_id") '
                  f"SELECT $1, NULL, $2, $3, $4{''.join(', r.' + qi(c.name) for c in cols)}, $6 "
                  f"FROM jsonb_populate_record(NULL::{row_type}, $5) AS r")
    async with db.ddl_lock:
        conn = await session.conn()
        try:
            async with session.system_transaction(db, conn):
                c = Cursor(ddl)
                c.i = 2
                ct = await session.create_table(c, system=True, extra_sql=(
                    f"CREATE TYPE {row_type} AS ({type_cols}); "
                    f'CREATE INDEX ON cdc.{qi(ct_name)} ("__$start_lsn", "__$seqval", "__$operation")'))
                await conn.execute("INSERT INTO _mssql.cdc_instances VALUES ($1, $2::jsonb, $3)", ci,
                                   json.dumps(inst), insert_sql)
                # the trigger first (it waits for writers of the table to finish), then the instance's
                # start LSN, reserved last so that every transaction committed before it has a lower LSN
                db.cdc_instances[ci] = inst
                await conn.execute(_trigger_sql(session, table, _instances_of(db, table)))
                start_lsn = await conn.fetchval("SELECT _mssql.lsn_bytes(_mssql.cdc_reserve(1))")
                await conn.execute(
                    "INSERT INTO cdc.change_tables(object_id, version, source_object_id, capture_instance, start_lsn, "
                    "end_lsn, supports_net_changes, has_drop_pending, role_name, index_name, filegroup_name, "
                    "create_date, partition_switch) VALUES ($1, 0, $2, $3, $4, NULL, $5, NULL, $6, $7, $8, "
                    "_mssql.dt(CAST(statement_timestamp() AS timestamp)), $9)",
                    ct.object_id, table.object_id, ci_name, start_lsn, 1 if net else 0, inst["role"],
                    inst["index_name"], _str(a["@filegroup_name"]), 1 if int(a["@allow_partition_switch"] or 0) else 0)
                for col in colinfo:
                    src = table.column(col["name"])
                    await conn.execute(
                        "INSERT INTO cdc.captured_columns VALUES ($1, $2, $3, $4, $5, 0, NULL)",
                        ct.object_id, col["name"], src.column_id, src.type.name, col["ordinal"])
                for i, k in enumerate(key_cols, start=1):
                    await conn.execute("INSERT INTO cdc.index_columns VALUES ($1, $2, $3, $4)",
                                       ct.object_id, k, i, table.column(k).column_id)
        except BaseException:
            db.cdc_instances.pop(ci, None)
            raise
        db.tracked_tables.add(table.key)
    yield ReturnStatus(0)
    yield Done(None)


async def _drop_instance(session, ci: str) -> None:
    db = session.db
    inst = db.cdc_instances[ci]
    table = db.table(inst["source_schema"], inst["source_table"])
    del db.cdc_instances[ci]
    stmts = []
    if table is not None:
        stmts.append(_trigger_sql(session, table, _instances_of(db, table)))
    ct_key = ("cdc", inst["ct"])
    ct = db.tables.get(ct_key)
    oid = ct.object_id if ct else 0
    stmts += [f"DROP TABLE IF EXISTS cdc.{qi(inst['ct'])}", f'DROP TYPE IF EXISTS _mssql."{ci}_row"',
              f"DELETE FROM _mssql.tables WHERE schema_name = 'cdc' AND table_name = {literal(inst['ct'])}",
              f"DELETE FROM _mssql.cdc_instances WHERE name_ci = {literal(ci)}",
              f"DELETE FROM cdc.change_tables WHERE lower(capture_instance) = {literal(ci)}",
              f"DELETE FROM cdc.captured_columns WHERE object_id = {oid}",
              f"DELETE FROM cdc.index_columns WHERE object_id = {oid}"]
    await session.execute_ddl("; ".join(stmts))
    db.tables.pop(ct_key, None)
    if table is not None and not _instances_of(db, table):
        db.tracked_tables.discard(table.key)


async def drop_capture_instances_of(session, table: TableInfo) -> None:
    db = session.db
    if not db.cdc_enabled:
        return
    for ci in _instances_of(db, table):
        await _drop_instance(session, ci)


async def _sp_cdc_disable_table(session, a) -> AsyncIterator[ResultItem]:
    db = session.db
    _require_cdc_db(session)
    schema, name = _str(a["@source_schema"]), _str(a["@source_name"])
    table = db.table(schema, name) if schema and name else None
    if table is None:
        raise SqlError(22931, f"Source table '{schema}.{name}' does not exist in the current database. Ensure "
                       "that the correct database context is set. Specify a valid schema and table name for the "
                       "database.")
    which = _str(a["@capture_instance"])
    if which is None:
        raise SqlError(22955, "The parameter @capture_instance cannot be NULL.")
    mine = _instances_of(db, table)
    if which.lower() == "all":
        targets = mine
    elif which.lower() in mine:
        targets = [which.lower()]
    else:
        raise SqlError(22904, f"Could not update the metadata that indicates table {table.display} is enabled "
                       f"for Change Data Capture. The capture instance '{which}' does not exist for this table.")
    async with db.ddl_lock:
        for ci in targets:
            await _drop_instance(session, ci)
    yield ReturnStatus(0)
    yield Done(None)


# ---------------------------------------------------------------------- jobs
def _job_type(a) -> str:
    jt = (_str(a["@job_type"]) or "capture").lower()
    if jt not in ("capture", "cleanup"):
        raise SqlError(22992, f"The specified @job_type, {a['@job_type']}, is not a valid job type. Valid job "
                       "types are 'capture' and 'cleanup'.")
    return jt


async def _sp_cdc_start_job(session, a) -> AsyncIterator[ResultItem]:
    _require_cdc_db(session)
    db = session.db
    jt = _job_type(a)
    if jt == "capture":
        if db.capture_running:
            raise SqlError(22022, f"SQLServerAgent Error: Request to run job cdc.{db.name}_capture (from User "
                           f"{session.login}) refused because the job is already running from a request by User "
                           f"{session.login}.")
        await _set_meta(session, "capture_running", "1")
        db.capture_running = True
    else:
        await run_cleanup_job(session)
    yield Message(0, f"Job 'cdc.{db.name}_{jt}' started successfully.")
    yield ReturnStatus(0)
    yield Done(None)


async def _sp_cdc_stop_job(session, a) -> AsyncIterator[ResultItem]:
    _require_cdc_db(session)
    db = session.db
    jt = _job_type(a)
    if jt == "capture":
        if not db.capture_running:
            raise SqlError(22022, f"SQLServerAgent Error: Request to stop job cdc.{db.name}_capture (from User "
                           f"{session.login}) refused because the job is not currently running.")
        await _set_meta(session, "capture_running", "0")
        db.capture_running = False
    yield Message(0, f"Job 'cdc.{db.name}_{jt}' stopped successfully.")
    yield ReturnStatus(0)
    yield Done(None)


async def _sp_cdc_change_job(session, a) -> AsyncIterator[ResultItem]:
    _require_cdc_db(session)
    jt = _job_type(a)
    sets = []
    for p, col in (("@maxtrans", "maxtrans"), ("@maxscans", "maxscans"), ("@continuous", "continuous"),
                   ("@pollinginterval", "pollinginterval"), ("@retention", "retention"),
                   ("@threshold", "threshold")):
        v = a.get(p)
        if v is None:
            continue
        if jt == "capture" and col in ("retention", "threshold"):
            raise SqlError(22983, f"The parameter {p} is not valid for the capture job.")
        if jt == "cleanup" and col not in ("retention", "threshold"):
            raise SqlError(22983, f"The parameter {p} is not valid for the cleanup job.")
        if col == "retention" and not (0 < int(v) <= 52494800):
            raise SqlError(22990, "The value specified for the parameter @retention must be in the range from 1 to 52494800.")
        sets.append(f"{col} = {int(v)}")
    if sets:
        await session.execute_ddl(f"UPDATE _mssql.cdc_settings SET {', '.join(sets)} WHERE job_type = {literal(jt)}")
    yield ReturnStatus(0)
    yield Done(None)


async def run_cleanup_job(session) -> None:
    """One pass of the cleanup job: purge change rows older than the retention (minutes)."""
    conn = await session.conn()
    retention = await conn.fetchval("SELECT retention FROM _mssql.cdc_settings WHERE job_type = 'cleanup'")
    tz = session.server.timezone
    for ci in list(session.db.cdc_instances):
        lwm = await conn.fetchval(
            "SELECT min(start_lsn) FROM cdc.lsn_time_mapping WHERE tran_end_time >= "
            "CAST(statement_timestamp() AT TIME ZONE $1 AS timestamp(3)) - make_interval(mins => $2)", tz, retention)
        if lwm is None:
            mx = await conn.fetchval("SELECT sys.fn_cdc_get_max_lsn()")
            if mx is None:
                continue
            lwm = await conn.fetchval("SELECT sys.fn_cdc_increment_lsn($1)", mx)
        await _cleanup(session, ci, lwm, validate=False)


async def _cleanup(session, ci: str, lwm: bytes | None, validate: bool = True) -> None:
    db = session.db
    inst = db.cdc_instances[ci]
    conn = await session.conn()
    if lwm is not None and validate:
        t = await conn.fetchval("SELECT tran_end_time FROM cdc.lsn_time_mapping WHERE start_lsn = $1", lwm)
        if t is None:
            raise SqlError(22964, f"LSN 0x{lwm.hex().upper()}, specified as the new low end point for change table "
                           "cleanup must represent the start_lsn value of a current entry in the "
                           "cdc.lsn_time_mapping table. Choose an LSN value that satisfies this requirement.")
        lwm = await conn.fetchval("SELECT min(start_lsn) FROM cdc.lsn_time_mapping WHERE tran_end_time = $1", t)
    await session.execute_ddl(
        (f"UPDATE cdc.change_tables SET start_lsn = {literal(lwm)} WHERE lower(capture_instance) = {literal(ci)} "
         f"AND (start_lsn IS NULL OR start_lsn < {literal(lwm)}); " if lwm is not None else "") +
        f"DELETE FROM cdc.{qi(inst['ct'])} WHERE \"__$start_lsn\" < (SELECT start_lsn FROM cdc.change_tables "
        f"WHERE lower(capture_instance) = {literal(ci)})")


async def _sp_cdc_cleanup_change_table(session, a) -> AsyncIterator[ResultItem]:
    _require_cdc_db(session)
    ci_name = _str(a["@capture_instance"])
    if ci_name is None or ci_name.lower() not in session.db.cdc_instances:
        raise SqlError(22985, f"Could not find the capture instance '{ci_name}' in the current database.")
    lwm = a["@low_water_mark"]
    if lwm is not None and not isinstance(lwm, (bytes, bytearray)):
        raise SqlError(206, "Operand type clash: @low_water_mark must be binary(10).")
    await _cleanup(session, ci_name.lower(), bytes(lwm) if lwm is not None else None)
    yield ReturnStatus(0)
    yield Done(None)


_SYSNAME = SqlType("nvarchar", length=128)
_LSN = SqlType("binary", length=10)


async def _sp_cdc_help_change_data_capture(session, a) -> AsyncIterator[ResultItem]:
    """One row per capture instance (of one table when @source_schema/@source_name are given)."""
    _require_cdc_db(session)
    db = session.db
    schema, name = _str(a["@source_schema"]), _str(a["@source_name"])
    if (schema is None) != (name is None):
        raise SqlError(22999, "The parameters @source_schema and @source_name must both be NULL or both be "
                       "non-NULL.")
    conn = await session.conn()
    meta = {r["capture_instance"].lower(): r for r in await conn.fetch(
        "SELECT capture_instance, object_id, source_object_id, start_lsn, end_lsn, supports_net_changes, "
        "has_drop_pending, role_name, index_name, filegroup_name, create_date FROM cdc.change_tables")}
    rows = []
    for ci, inst in sorted(db.cdc_instances.items()):
        if schema is not None and (inst["source_schema"].lower(), inst["source_table"].lower()) != (
                schema.lower(), name.lower()):
            continue
        m = meta.get(ci)
        if m is None:
            continue
        rows.append((inst["source_schema"], inst["source_table"], inst["name"], m["object_id"],
                     m["source_object_id"], m["start_lsn"], m["end_lsn"], bool(m["supports_net_changes"]),
                     bool(m["has_drop_pending"]) if m["has_drop_pending"] is not None else None,
                     m["role_name"], m["index_name"], m["filegroup_name"], m["create_date"],
                     ", ".join(f"[{k}]" for k in inst["key"]) or None,
                     ", ".join(f"[{c['name']}]" for c in inst["columns"])))
    if schema is not None and not rows:
        raise SqlError(22985, f"Could not find any capture instance for source table '{schema}.{name}'.")
    from ..api import Column, ResultSet
    cols = [Column("source_schema", _SYSNAME), Column("source_table", _SYSNAME),
            Column("capture_instance", _SYSNAME), Column("object_id", SqlType("int")),
            Column("source_object_id", SqlType("int")), Column("start_lsn", _LSN), Column("end_lsn", _LSN),
            Column("supports_net_changes", SqlType("bit")), Column("has_drop_pending", SqlType("bit")),
            Column("role_name", _SYSNAME), Column("index_name", _SYSNAME), Column("filegroup_name", _SYSNAME),
            Column("create_date", SqlType("datetime")), Column("index_column_list", SqlType("nvarchar", length=-1)),
            Column("captured_column_list", SqlType("nvarchar", length=-1))]
    yield ResultSet(cols, rows)
    yield Done(len(rows))
    yield ReturnStatus(0)


async def _sp_cdc_help_jobs(session, a) -> AsyncIterator[ResultItem]:
    _require_cdc_db(session)
    conn = await session.conn()
    from ..api import Column, ResultSet
    rows = []
    for r in await conn.fetch("SELECT * FROM _mssql.cdc_settings ORDER BY job_type"):
        rows.append((None, r["job_type"], f"cdc.{session.db.name}_{r['job_type']}", r["maxtrans"], r["maxscans"],
                     r["continuous"], r["pollinginterval"], r["retention"], r["threshold"]))
    cols = [Column("job_id", SqlType("uniqueidentifier")), Column("job_type", SqlType("nvarchar", length=20)),
            Column("job_name", _SYSNAME), Column("maxtrans", SqlType("int")), Column("maxscans", SqlType("int")),
            Column("continuous", SqlType("bit")), Column("pollinginterval", SqlType("bigint")),
            Column("retention", SqlType("bigint")), Column("threshold", SqlType("bigint"))]
    rows = [(r[0], r[1], r[2], r[3], r[4], None if r[5] is None else bool(r[5]), r[6], r[7], r[8]) for r in rows]
    yield ResultSet(cols, rows)
    yield Done(len(rows))
    yield ReturnStatus(0)


def ddl_history_sql(session, table: TableInfo, command: str) -> list[str]:
    """cdc.ddl_history rows for a DDL statement on a tracked table (one per capture instance)."""
    db = session.db
    out = []
    for ci in _instances_of(db, table):
        inst = db.cdc_instances[ci]
        ct = db.tables.get(("cdc", inst["ct"]))
        out.append(
            "INSERT INTO cdc.ddl_history(source_object_id, object_id, required_column_update, ddl_command, "
            f"ddl_lsn, ddl_time) VALUES ({table.object_id}, {ct.object_id if ct else 0}, 0, {literal(command)}, "
            f"_mssql.lsn_bytes(_mssql.cdc_reserve(1)), "
            f"_mssql.dt(statement_timestamp() AT TIME ZONE {literal(session.server.timezone)}))")
    return out


def _instance_arg(session, a) -> tuple[str, dict]:
    _require_cdc_db(session)
    ci_name = _str(a["@capture_instance"])
    if ci_name is None or ci_name.lower() not in session.db.cdc_instances:
        raise SqlError(22985, f"Could not find the capture instance '{ci_name}' in the current database.")
    return ci_name.lower(), session.db.cdc_instances[ci_name.lower()]


async def _sp_cdc_get_captured_columns(session, a) -> AsyncIterator[ResultItem]:
    from ..api import Column, ResultSet
    ci, inst = _instance_arg(session, a)
    rows = []
    for c in inst["columns"]:
        info = ColumnInfo.from_json(c["info"])
        t = info.type
        length = None
        if t.name in ("char", "varchar", "nchar", "nvarchar", "binary", "varbinary"):
            length = t.length
        radix = 10 if t.name in ("decimal", "numeric", "tinyint", "smallint", "int", "bigint", "money",
                                 "smallmoney") else (2 if t.name in ("real", "float") else None)
        precision = {"tinyint": 3, "smallint": 5, "int": 10, "bigint": 19, "money": 19, "smallmoney": 10,
                     "real": 24, "float": 53}.get(t.name, t.precision)
        scale = t.scale if t.name in ("decimal", "numeric") else ({"money": 4, "smallmoney": 4}.get(t.name)
                                                                 or (0 if radix == 10 else None))
        dtp = t.scale if t.name in ("time", "datetime2", "datetimeoffset") else (
            3 if t.name == "datetime" else (0 if t.name in ("smalldatetime", "date") else None))
        rows.append((inst["source_schema"], inst["source_table"], inst["name"], c["name"], c["column_id"],
                     c["ordinal"], t.name, length, precision, radix, scale, dtp))
    i, sn = SqlType("int"), _SYSNAME
    cols = [Column("source_schema", sn), Column("source_table", sn), Column("capture_instance", sn),
            Column("column_name", sn), Column("column_id", i), Column("ordinal_position", i),
            Column("data_type", sn), Column("character_maximum_length", i),
            Column("numeric_precision", SqlType("tinyint")), Column("numeric_precision_radix", SqlType("smallint")),
            Column("numeric_scale", i), Column("datetime_precision", SqlType("smallint"))]
    yield ResultSet(cols, rows)
    yield Done(len(rows))
    yield ReturnStatus(0)


async def _sp_cdc_get_ddl_history(session, a) -> AsyncIterator[ResultItem]:
    from ..api import Column, ResultSet
    ci, inst = _instance_arg(session, a)
    ct = session.db.tables.get(("cdc", inst["ct"]))
    conn = await session.conn()
    recs = await conn.fetch("SELECT required_column_update, ddl_command, ddl_lsn, ddl_time FROM cdc.ddl_history "
                            "WHERE object_id = $1 ORDER BY ddl_lsn", ct.object_id if ct else 0)
    rows = [(inst["source_schema"], inst["source_table"], inst["name"], bool(r[0]) if r[0] is not None else None,
             r[1], r[2], r[3]) for r in recs]
    cols = [Column("source_schema", _SYSNAME), Column("source_table", _SYSNAME), Column("capture_instance", _SYSNAME),
            Column("required_column_update", SqlType("bit")), Column("ddl_command", SqlType("nvarchar", length=-1)),
            Column("ddl_lsn", _LSN), Column("ddl_time", SqlType("datetime"))]
    yield ResultSet(cols, rows)
    yield Done(len(rows))
    yield ReturnStatus(0)


# name -> implementation (procs.call binds the arguments by procs.SIGNATURES first)
PROCEDURES = {name[1:]: fn for name, fn in list(globals().items()) if name.startswith("_sp_cdc_")}
