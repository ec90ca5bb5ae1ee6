"""Postgres errors mapped onto SQL Server's (numbers, messages, severities) (TEST FIXTURE)."""

from __future__ import annotations

import re

import asyncpg

from ..api import SqlError
from .catalog import Database


# Errors that terminate only the statement (the batch goes on), as SQL Server does.
STATEMENT_LEVEL = {2627, 2601, 547, 515, 8134, 2628, 8152, 8115, 544, 545, 220, 232, 3902, 3903,
                   8102, 50000}


BATCH_ABORT_ROLLBACK = {1205, 3951, 3960}


def sql_server_error(e: asyncpg.PostgresError, verb: str, db: Database, isolation: str | None) -> SqlError:
    """A Postgres error as SQL Server reports it; a serialization failure is 3960 under SNAPSHOT
    isolation (isolation: the open transaction's level), else a deadlock (1205)."""
    if getattr(e, "sqlstate", None) == "40001":  # could not serialize access
        if isolation == "SNAPSHOT":
            m = re.search(r'relation "([^"]+)"', str(e))
            return SqlError(3960, "Snapshot isolation transaction aborted due to update conflict. You cannot "
                            "use snapshot isolation to access table "
                            f"'{m.group(1) if m else '?'}' directly or indirectly in database '{db.name}' "
                            "to update, delete, or insert the row that has been modified or deleted by another "
                            "transaction. Retry the transaction or change the isolation level for the "
                            "update/delete statement.")
        return SqlError(1205, "Transaction was deadlocked on lock resources with another process and has been "
                        "chosen as the deadlock victim. Rerun the transaction.", severity=13)
    return map_pg_error(e, verb, db)


def _display_table(db: Database, schema: str | None, table: str | None) -> str:
    if table is None:
        return ""
    t = db.table(schema, table)
    return t.display if t else f"{schema}.{table}"


def map_pg_error(e: asyncpg.PostgresError, verb: str, db: Database) -> SqlError:
    code = getattr(e, "sqlstate", "") or ""
    msg = getattr(e, "message", str(e))
    schema = getattr(e, "schema_name", None)
    table = getattr(e, "table_name", None)
    column = getattr(e, "column_name", None)
    constraint = getattr(e, "constraint_name", None)
    detail = getattr(e, "detail", "") or ""
    verb = verb if verb in ("INSERT", "UPDATE", "DELETE", "MERGE") else "INSERT"
    if code.startswith("MS"):
        return SqlError(int(code[2:]), msg, state=3)
    if code.startswith("MJ"):  # the JSON functions' errors (openjson.py): 13000 + the last three digits
        return SqlError(13000 + int(code[2:]), msg, state=1)
    if code == "23505":
        key = re.search(r"Key \((.*)\)=\((.*)\) already exists", detail)
        val = key.group(2) if key else ""
        disp = _display_table(db, schema, table)
        kind = "index"
        if constraint:
            if constraint.startswith("PK") or constraint.endswith("_pkey"):
                kind = "pk"
            elif constraint.startswith("UQ") or constraint.endswith("_key"):
                kind = "unique"
            else:
                kind = "index"
            kind = _constraint_kind(db, constraint, kind)
        if kind == "pk":
            return SqlError(2627, f"Violation of PRIMARY KEY constraint '{constraint}'. Cannot insert duplicate "
                            f"key in object '{disp}'. The duplicate key value is ({val}).", severity=14)
        if kind == "unique":
            return SqlError(2627, f"Violation of UNIQUE KEY constraint '{constraint}'. Cannot insert duplicate "
                            f"key in object '{disp}'. The duplicate key value is ({val}).", severity=14)
        return SqlError(2601, f"Cannot insert duplicate key row in object '{disp}' with unique index "
                        f"'{constraint}'. The duplicate key value is ({val}).", severity=14)
    if code == "23503":
        m = re.search(r"Key \((.*?)\)=\(.*\) is not present in table \"(.*)\"", detail)
        if m:
            ref = _find_table_by_pg(db, m.group(2))
            return SqlError(547, f"The {verb} statement conflicted with the FOREIGN KEY constraint \"{constraint}\". "
                            f"The conflict occurred in database \"{db.name}\", table \"{ref}\", column "
                            f"'{_ref_column(db, constraint, m.group(1))}'.")
        m = re.search(r"Key \((.*?)\)=\(.*\) is still referenced from table \"(.*)\"", detail)
        child = _find_table_by_pg(db, m.group(2)) if m else _display_table(db, schema, table)
        col = _fk_column(db, constraint) or (m.group(1) if m else "")
        return SqlError(547, f"The {verb} statement conflicted with the REFERENCE constraint \"{constraint}\". "
                        f"The conflict occurred in database \"{db.name}\", table \"{child}\", column '{col}'.")
    if code == "23502":
        t = db.table(schema, table) if table else None
        cname = (t.column(column).name if t and column and t.column(column) else column)
        return SqlError(515, f"Cannot insert the value NULL into column '{cname}', table "
                        f"'{db.name}.{t.display if t else f'{schema}.{table}'}'; column does not allow nulls. "
                        f"{verb if verb != 'MERGE' else 'INSERT'} fails.", severity=16, state=2)
    if code == "23514":
        return SqlError(547, f"The {verb} statement conflicted with the CHECK constraint \"{constraint}\". "
                        f"The conflict occurred in database \"{db.name}\", table \"{_display_table(db, schema, table)}\".")
    if code == "42P01":
        m = re.search(r'relation "(.*)" does not exist', msg)
        return SqlError(208, f"Invalid object name '{m.group(1) if m else ''}'.")
    if code == "42703":
        m = re.search(r'column "?(.*?)"? does not exist', msg)
        name = m.group(1) if m else ""
        name = name.split(".")[-1].strip('"')
        return SqlError(207, f"Invalid column name '{name}'.")
    if code == "42702":
        m = re.search(r'column reference "(.*)" is ambiguous', msg)
        return SqlError(209, f"Ambiguous column name '{m.group(1) if m else ''}'.")
    if code == "22012":
        return SqlError(8134, "Divide by zero error encountered.")
    if code == "22001":
        return SqlError(2628, f"String or binary data would be truncated in table '{db.name}', column ''. "
                        "Truncated value: ''.", severity=16)
    if code == "22003":
        return SqlError(8115, f"Arithmetic overflow error converting expression to data type. ({msg})")
    if code in ("22P02", "22007", "22008"):
        return SqlError(245 if code == "22P02" else 241, f"Conversion failed: {msg}")
    if code == "42883":
        m = re.search(r"function (.*?)\(", msg)
        if m:
            # T-SQL function names are checked before Postgres sees them: this is a translation gap
            return SqlError(40000, f"The function {m.group(1)} as translated is not supported by the SQL Server "
                            "emulator (TEST FIXTURE)", severity=16)
        return SqlError(402, f"The data types in this expression are incompatible ({msg}).")
    if code == "42804" or code == "42846":
        return SqlError(206, f"Operand type clash: {msg}")
    if code == "42601":
        return SqlError(102, f"Incorrect syntax near '{msg}'.", severity=15)
    if code == "42P07":
        return SqlError(2714, f"There is already an object named in the database ({msg}).")
    if code == "40P01":
        return SqlError(1205, "Transaction was deadlocked on lock resources with another process and has been "
                        "chosen as the deadlock victim. Rerun the transaction.", severity=13)
    if code == "57014":
        return SqlError(3621, "The statement has been terminated (cancelled).", severity=16)
    if code == "25P02":
        return SqlError(3930, "The current transaction cannot be committed and cannot support operations that "
                        "write to the log file. Roll back the transaction.")
    return SqlError(50000, f"The SQL Server emulator's backing store failed: {msg} (SQLSTATE {code})")


CONSTRAINTS_SQL = """
SELECT c.conname, c.contype,
       (SELECT array_agg(a.attname ORDER BY a.attnum) FROM pg_attribute a
         WHERE a.attrelid = c.conrelid AND a.attnum = ANY(c.conkey)) AS cols,
       (SELECT array_agg(a.attname ORDER BY a.attnum) FROM pg_attribute a
         WHERE a.attrelid = c.confrelid AND a.attnum = ANY(c.confkey)) AS refcols
  FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
 WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', '_mssql') AND c.contype IN ('p', 'u', 'f')
"""


async def refresh_constraints(db: Database, conn: asyncpg.Connection) -> None:
    kinds = {}
    for r in await conn.fetch(CONSTRAINTS_SQL):
        kinds[r["conname"]] = ({"p": "pk", "u": "unique", "f": "fk"}[r["contype"].decode() if isinstance(r["contype"], bytes) else r["contype"]], r["cols"] or [], r["refcols"] or [])
    db.constraint_kinds = kinds


def _constraint_kind(db: Database, name: str, guess: str) -> str:
    k = getattr(db, "constraint_kinds", {}).get(name)
    return k[0] if k else guess


def _find_table_by_pg(db: Database, pg_table: str) -> str:
    for t in db.tables.values():
        if t.name.lower() == pg_table.lower():
            return t.display
    return pg_table


def _declared_column(db: Database, pg_col: str) -> str:
    for t in db.tables.values():
        c = t.column(pg_col)
        if c is not None:
            return c.name
    return pg_col


def _ref_column(db: Database, constraint: str, cols: str) -> str:
    k = getattr(db, "constraint_kinds", {}).get(constraint)
    if k and k[2]:
        return _declared_column(db, k[2][0])
    return cols.strip('"')


def _fk_column(db: Database, constraint: str) -> str | None:
    k = getattr(db, "constraint_kinds", {}).get(constraint)
    if k and k[1]:
        return _declared_column(db, k[1][0])
    return None
