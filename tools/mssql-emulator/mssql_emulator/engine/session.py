"""EngineSession: one client connection's state and the execution of T-SQL batches (TEST FIXTURE)."""

from __future__ import annotations

import asyncio
import json
import datetime as dt
import logging
import decimal
import re
import struct
import uuid
from typing import Any, AsyncIterator

import asyncpg
import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokens import TokenType

from ..api import (Column, Done, EnvChange, Message, Param, ResultItem, ResultSet, ReturnStatus,
                   ReturnValue, SqlError, SqlType, StatementError)
from . import cdc, procs
from .catalog import ColumnInfo, Database, TableInfo
from .ddl import Cursor, Constraint, parse_column_def, parse_table_item, syntax
from .splitter import _STARTERS as _SPLIT_STARTERS
from .splitter import Block, IfNode, Stmt, split_batch
from .translate import (Context, Output, Translator, coerce_sql, literal, qi, raw)
from .types import PG_FALLBACK, is_string, parse_type, pg_type, sql_text, unsupported

CHUNK = 500
log = logging.getLogger("mssql_emulator.engine")

# Errors that terminate only the statement (the batch goes on), as SQL Server does.
STATEMENT_LEVEL = {2627, 2601, 547, 515, 8134, 2628, 8152, 8115, 544, 545, 220, 232, 3902, 3903,
                   8102, 50000}
FOR_JSON_COLUMN = "JSON_F52E2B61-18A1-11d1-B105-00805F49916B"  # SQL Server's name for FOR JSON output
BATCH_ABORT_ROLLBACK = {1205, 3951, 3960}
# SQL Server's isolation levels on Postgres. Postgres never reads uncommitted data, so READ UNCOMMITTED
# reads like READ COMMITTED; SNAPSHOT is one snapshot per transaction, which is REPEATABLE READ in
# Postgres; SQL Server's locking REPEATABLE READ / SERIALIZABLE map to Postgres' (snapshot-based) levels.
PG_ISOLATION = {"READ UNCOMMITTED": "READ COMMITTED", "READ COMMITTED": "READ COMMITTED",
                "REPEATABLE READ": "REPEATABLE READ", "SNAPSHOT": "REPEATABLE READ",
                "SERIALIZABLE": "SERIALIZABLE"}

SET_ON_OFF = {"NOCOUNT", "ANSI_NULLS", "ANSI_PADDING", "ANSI_WARNINGS", "ARITHABORT", "ARITHIGNORE",
              "CONCAT_NULL_YIELDS_NULL", "QUOTED_IDENTIFIER", "ANSI_NULL_DFLT_ON", "ANSI_NULL_DFLT_OFF",
              "CURSOR_CLOSE_ON_COMMIT", "IMPLICIT_TRANSACTIONS", "XACT_ABORT", "FMTONLY",
              "NUMERIC_ROUNDABORT", "NOEXEC", "PARSEONLY", "SHOWPLAN_ALL", "SHOWPLAN_TEXT",
              "SHOWPLAN_XML", "STATISTICS", "FORCEPLAN", "ANSI_DEFAULTS", "NO_BROWSETABLE"}
# (option, value) pairs whose semantics the emulator does not implement: refused, never ignored.
SET_REFUSED = {("IMPLICIT_TRANSACTIONS", "ON"), ("ANSI_NULLS", "OFF"), ("CONCAT_NULL_YIELDS_NULL", "OFF"),
               ("NOEXEC", "ON"), ("PARSEONLY", "ON"), ("SHOWPLAN_ALL", "ON"), ("SHOWPLAN_TEXT", "ON"),
               ("SHOWPLAN_XML", "ON"), ("ARITHIGNORE", "ON"), ("NUMERIC_ROUNDABORT", "ON"),
               ("CURSOR_CLOSE_ON_COMMIT", "ON")}


def _pg_identity_value(v: Any) -> Any:
    return v


def _convert_row(row, conv):
    if conv is None:
        return tuple(row)
    return tuple(f(v) if f is not None and v is not None else v for v, f in zip(row, conv))


def _converter(t: SqlType):
    if t.name == "bit":
        return lambda v: bool(v)
    if t.name == "uniqueidentifier":
        return lambda v: v if type(v) is uuid.UUID else uuid.UUID(str(v))
    if t.name == "tinyint" or t.name in ("smallint", "int", "bigint"):
        return lambda v: int(v) if not isinstance(v, int) else v
    if t.name in ("decimal", "numeric", "money", "smallmoney"):
        return lambda v: v if isinstance(v, decimal.Decimal) else decimal.Decimal(str(v))
    if t.name in ("char", "varchar", "nchar", "nvarchar"):
        return lambda v: v if isinstance(v, str) else str(v)
    if t.name == "datetimeoffset":
        return _dto_value
    return None


def _dto_value(v):
    """A _mssql.dto record (instant, offset minutes) as an aware datetime at its own offset."""
    if isinstance(v, dt.datetime):
        return v
    ts, off = v[0], v[1]
    if ts is None:
        return None
    return ts.astimezone(dt.timezone(dt.timedelta(minutes=int(off or 0))))


class EngineSession:
    def __init__(self, server, login: str, app_name: str, db: Database, spid: int) -> None:
        self.server = server
        self.login = login
        self.app_name = app_name
        self.db = db
        self.spid = spid
        self.conns: dict[str, asyncpg.Connection] = {}
        self.trancount = 0
        self.tx_db: Database | None = None
        self.tx_ddl = False
        self.tx_id = 0
        self.savepoints: list[str] = []
        self.rowcount = 0
        self.scope_identity = None
        self.identity = None
        self.variables: dict[str, tuple[SqlType, Any]] = {}
        self.options: dict[str, str] = {"NOCOUNT": "OFF", "FMTONLY": "OFF", "XACT_ABORT": "OFF"}
        self.identity_insert: tuple[str, str] | None = None
        self._running_pid: int | None = None
        self._cancelled = False
        self._sp = 0
        self.closed = False
        self.killed = False
        self._open_sp: str | None = None  # the running statement's savepoint inside a user transaction
        self.tx_isolation: str | None = None  # the SQL Server isolation level the open transaction began with
        self.on_kill = None  # set by the wire layer: closes the client connection (KILL, ROLLBACK IMMEDIATE)

    # ------------------------------------------------------------------ api
    @property
    def database(self) -> str:
        return self.db.name

    async def open(self) -> None:
        await self.conn(self.db)

    async def conn(self, db: Database | None = None) -> asyncpg.Connection:
        db = db or self.db
        c = self.conns.get(db.pg_name)
        if c is None or c.is_closed():
            c = await self.server.connect_pg(db.pg_name)
            self.conns[db.pg_name] = c
            if not db.loaded:
                await self.server.load_catalog(db, c)
        return c

    async def release_database(self, db: Database) -> None:
        c = self.conns.pop(db.pg_name, None)
        if c is not None:
            await c.close()

    async def cancel(self) -> None:
        self._cancelled = True
        pid = self._running_pid
        if pid is not None:
            try:
                await self.server._admin.execute("SELECT pg_cancel_backend($1)", pid)
            except Exception:  # noqa: BLE001
                pass
        await self._recover_after_cancel()

    async def _recover_after_cancel(self) -> None:
        """After ATTENTION, before it is acknowledged: the cancelled statement is rolled back (its
        savepoint, or its own transaction) once its Postgres connection is idle again, so the next
        request finds the session as SQL Server leaves it (an open user transaction stays open)."""
        await asyncio.sleep(0.02)  # let the cancelled statement's generators finish their cleanup
        db = self.tx_db or self.db
        c = self.conns.get(db.pg_name)
        if c is None or c.is_closed():
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        sp = self._open_sp
        while True:
            try:
                if self.trancount == 0:
                    if c.is_in_transaction():
                        await c.execute("ROLLBACK")
                    else:
                        await c.execute("SELECT 1")  # waits for nothing but proves the connection idle
                elif sp is not None:
                    await c.execute(f"ROLLBACK TO SAVEPOINT {sp}; RELEASE SAVEPOINT {sp}")
                else:
                    await c.execute("SELECT 1")
                break
            except asyncpg.InterfaceError:
                if loop.time() >= deadline:
                    # still busy: give the connection up (Postgres rolls its transaction back)
                    c.terminate()
                    self.conns.pop(db.pg_name, None)
                    self.trancount, self.tx_db, self.savepoints = 0, None, []
                    break
                await asyncio.sleep(0.02)
            except asyncpg.PostgresError:
                break  # e.g. the savepoint was already rolled back by the statement's own cleanup
        self._open_sp = None

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            if self.trancount > 0:
                await self._rollback_all()
        except Exception:  # noqa: BLE001
            pass
        for c in list(self.conns.values()):
            try:
                await c.close()
            except Exception:  # noqa: BLE001
                pass
        self.conns.clear()
        self.server.forget(self)

    async def execute(self, sql: str, params: list[Param] | None = None) -> AsyncIterator[ResultItem]:
        self._cancelled = False
        self.variables = {}
        self.scope_identity = None  # SCOPE_IDENTITY() is per scope: a batch or sp_executesql
        for p in params or []:
            self.variables[p.name.lower()] = (p.type, p.value)
        if params:
            log.debug("params: %r", params)
        if _PROC_DDL.match(sql):
            async for item in self._create_procedure(sql):
                yield item
            return
        nodes = split_batch(sql)
        try:
            for node in nodes:
                async for item in self._run_node(node):
                    yield item
        except _Return:
            pass
        except _BatchStop:
            return
        for p in params or []:
            if p.output:
                t, v = self.variables.get(p.name.lower(), (p.type, p.value))
                yield ReturnValue(Param(p.name, t, v, output=True))

    async def call(self, procedure: str, params: list[Param]) -> AsyncIterator[ResultItem]:
        self._cancelled = False
        self.variables = {}
        proc = self._user_procedure(procedure)
        if proc is not None:
            named = {p.name.lower(): p for p in params if p.name}
            positional = [p for p in params if not p.name]
            outputs = {k: v.name for k, v in named.items() if v.output}
            outputs.update({proc["params"][i]["name"].lower(): "" for i, p in enumerate(positional)
                            if p.output and i < len(proc["params"])})
            async for item in self._run_procedure(proc, {k: v.value for k, v in named.items()},
                                                  [p.value for p in positional], outputs=outputs):
                yield item
            return
        args: dict[str, Any] = {}
        positional: list[Any] = []
        for p in params:
            if p.name:
                args[p.name.lower()] = p.value
            else:
                positional.append(p.value)
        async for item in self._call_proc(procedure, args, positional):
            yield item

    # ------------------------------------------------------------------ batch structure
    async def _run_node(self, node) -> AsyncIterator[ResultItem]:
        if self._cancelled:
            raise _BatchStop()
        if isinstance(node, Block):
            for n in node.body:
                async for item in self._run_node(n):
                    yield item
            return
        if isinstance(node, IfNode):
            cond = await self._evaluate_condition(node.condition)
            branch = node.then if cond else node.otherwise
            if branch is not None:
                async for item in self._run_node(branch):
                    yield item
            return
        async for item in self._run_stmt(node):
            yield item

    async def _evaluate_condition(self, text: str) -> bool:
        try:
            e = sqlglot.parse_one(f"SELECT CASE WHEN {text} THEN 1 ELSE 0 END", read="tsql")
        except (ParseError, TokenError):
            raise syntax(text.split()[0] if text.split() else "IF")
        tr = self._translator(e)
        sql = tr.generate(tr.translate_expr(e))
        conn = await self.conn()
        try:
            v = await conn.fetchval(sql)
        except asyncpg.PostgresError as ex:
            raise self._map_error(ex, "SELECT")
        return v == 1

    # ------------------------------------------------------------------ statements
    async def _run_stmt(self, stmt: Stmt) -> AsyncIterator[ResultItem]:
        first = stmt.first
        text = stmt.text
        try:
            if first in ("BEGIN", "COMMIT", "ROLLBACK", "SAVE"):
                async for item in self._transaction_stmt(text):
                    yield item
                return
            if first == "SET":
                async for item in self._set_stmt(text):
                    yield item
                return
            if first == "DECLARE":
                await self._declare(text)
                return
            if first == "USE":
                async for item in self._use(text):
                    yield item
                return
            if first == "PRINT":
                v = await self._scalar(text[5:].strip())
                yield Message(0, "" if v is None else str(v), severity=0)
                return
            if first == "WAITFOR":
                m = re.match(r"(?is)^\s*WAITFOR\s+DELAY\s+'(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?'\s*;?\s*$", text)
                if not m:
                    raise unsupported("WAITFOR other than WAITFOR DELAY 'hh:mm[:ss[.mmm]]'")
                secs = int(m.group(1)) * 3600 + int(m.group(2)) * 60 + int(m.group(3) or 0) + \
                    int((m.group(4) or "0").ljust(3, "0")) / 1000
                deadline = asyncio.get_running_loop().time() + secs
                while not self._cancelled and asyncio.get_running_loop().time() < deadline:
                    await asyncio.sleep(min(0.05, max(0.0, deadline - asyncio.get_running_loop().time())))
                if self._cancelled:
                    raise _BatchStop()
                yield Done(None)
                return
            if first == "RETURN":
                rest = text.strip().rstrip(";")[len("RETURN"):].strip()
                value = await self._scalar(rest, SqlType("int")) if rest else 0
                raise _Return(value if value is not None else 0)
            if first not in _KNOWN_FIRST and first in _SPLIT_STARTERS:
                raise unsupported(f"The statement {first}")
            if first in ("EXEC", "EXECUTE") or first not in _KNOWN_FIRST:
                name, args, positional = self._parse_exec(text, implicit=first not in ("EXEC", "EXECUTE"))
                async for item in self._call_proc(name, args, positional):
                    yield item
                return
            if self.options.get("FMTONLY") == "ON" and first not in ("SELECT", "WITH SELECT"):
                yield Done(None)
                return
            if first in ("CREATE", "ALTER", "DROP", "TRUNCATE"):
                async for item in self._ddl(text):
                    yield item
                return
            if first in ("SELECT", "INSERT", "UPDATE", "DELETE", "MERGE") or first.startswith("WITH"):
                async for item in self._dml(text):
                    yield item
                return
            raise unsupported(f"The statement {first}")
        except SqlError as e:
            if not getattr(e, "_line_set", False):
                for p in e.preceding:
                    p.line = stmt.line + max(p.line, 1) - 1
                e.line = stmt.line + max(e.line, 1) - 1  # the line within the batch, as SQL Server reports
                e._line_set = True
            if e.number in STATEMENT_LEVEL:
                self.rowcount = 0
                yield StatementError(e)
                if self.options.get("XACT_ABORT") == "ON" and self.trancount > 0:
                    await self._rollback_all()
                    yield EnvChange("rollback_tran", b"", self._tx_descriptor())
                    raise _BatchStop()
                yield Done(None)
                return
            if e.number in BATCH_ABORT_ROLLBACK and self.trancount > 0:
                desc = self._tx_descriptor()
                await self._rollback_all()
                yield EnvChange("rollback_tran", b"", desc)
            raise

    # ------------------------------------------------------------------ transactions
    def _tx_descriptor(self) -> bytes:
        return struct.pack("<q", self.tx_id)

    async def _pg_begin(self, conn: asyncpg.Connection) -> None:
        level = self.options.get("ISOLATION", "READ COMMITTED")
        self.tx_isolation = level
        await conn.execute(f"BEGIN ISOLATION LEVEL {PG_ISOLATION[level]}")

    def _check_snapshot_access(self) -> None:
        """A statement that accesses the database under SNAPSHOT isolation (errors 3951, 3952)."""
        level = self.options.get("ISOLATION", "READ COMMITTED")
        if level != "SNAPSHOT":
            return
        if self.trancount > 0 and self.tx_isolation != "SNAPSHOT":
            raise SqlError(3951, f"Transaction failed in database '{self.db.name}' because the statement was "
                           "run under snapshot isolation but the transaction did not start in snapshot "
                           "isolation. You cannot change the isolation level of the transaction to snapshot "
                           "after the transaction has started unless the transaction was originally started "
                           "under snapshot isolation level.")
        if not self.db.allow_snapshot_isolation:
            raise SqlError(3952, f"Snapshot isolation transaction failed accessing database '{self.db.name}' "
                           "because snapshot isolation is not allowed in this database. Use ALTER DATABASE "
                           "to allow snapshot isolation.")

    async def _pg_commit(self, conn: asyncpg.Connection, db: Database) -> None:
        try:
            if db.cdc_enabled:
                async with db.commit_lock:
                    await conn.execute(cdc.COMMIT_RECORD_SQL + "; COMMIT")
            else:
                await conn.execute("COMMIT")
        except asyncpg.PostgresError as e:
            if conn.is_in_transaction():
                await conn.execute("ROLLBACK")
            raise self._map_error(e, "COMMIT")

    async def _rollback_all(self) -> None:
        db = self.tx_db or self.db
        conn = await self.conn(db)
        if conn.is_in_transaction():
            await conn.execute("ROLLBACK")
        self.trancount = 0
        self.savepoints = []
        self.tx_db = None
        if self.tx_ddl:
            self.tx_ddl = False
            await self.server.load_catalog(db, conn)

    async def _transaction_stmt(self, text: str) -> AsyncIterator[ResultItem]:
        words = [w.upper() for w in re.findall(r"[\w@#$\[\]]+", text)]
        verb = words[0]
        rest = words[1:]
        if rest and rest[0] in ("TRAN", "TRANSACTION", "WORK"):
            rest = rest[1:]
        name = rest[0] if rest else None
        if verb == "BEGIN":
            if words[1] not in ("TRAN", "TRANSACTION"):
                raise unsupported(f"BEGIN {words[1]}")
            if self.trancount == 0:
                conn = await self.conn()
                await self._pg_begin(conn)
                self.tx_db = self.db
                self.tx_id += 1
                self.trancount = 1
                yield EnvChange("begin_tran", self._tx_descriptor(), b"")
            else:
                self.trancount += 1
            yield Done(None)
            return
        if verb == "COMMIT":
            if self.trancount == 0:
                raise SqlError(3902, "The COMMIT TRANSACTION request has no corresponding BEGIN TRANSACTION.")
            if self.trancount == 1:
                db = self.tx_db or self.db
                conn = await self.conn(db)
                desc = self._tx_descriptor()
                self.trancount = 0
                self.tx_db = None
                self.savepoints = []
                self.tx_ddl = False
                await self._pg_commit(conn, db)
                yield EnvChange("commit_tran", b"", desc)
            else:
                self.trancount -= 1
            yield Done(None)
            return
        if verb == "SAVE":
            if self.trancount == 0:
                raise SqlError(628, "Cannot issue SAVE TRANSACTION when there is no active transaction.")
            if not name:
                raise syntax("SAVE")
            conn = await self.conn(self.tx_db)
            await conn.execute(f'SAVEPOINT "u_{name.lower()}"')
            self.savepoints.append(name.lower())
            yield Done(None)
            return
        if verb == "ROLLBACK":
            if self.trancount == 0:
                raise SqlError(3903, "The ROLLBACK TRANSACTION request has no corresponding BEGIN TRANSACTION.")
            if name and name.lower() in self.savepoints:
                conn = await self.conn(self.tx_db)
                await conn.execute(f'ROLLBACK TO SAVEPOINT "u_{name.lower()}"')
                idx = self.savepoints.index(name.lower())
                self.savepoints = self.savepoints[:idx + 1]
                yield Done(None)
                return
            desc = self._tx_descriptor()
            await self._rollback_all()
            yield EnvChange("rollback_tran", b"", desc)
            yield Done(None)
            return
        raise syntax(verb)

    async def _statement_scope(self, conn: asyncpg.Connection, touches: bool = True):
        """Start a statement: a savepoint inside a transaction, else a transaction of its own."""
        if touches:
            self._check_snapshot_access()
        if self.trancount > 0:
            if self.tx_db is not self.db:
                raise unsupported("A statement in another database than the open transaction's")
            self._sp += 1
            name = f"s{self._sp}"
            await conn.execute(f"SAVEPOINT {name}")
            self._open_sp = name
            return name
        await self._pg_begin(conn)
        return None

    async def _statement_ok(self, conn: asyncpg.Connection, sp: str | None, readonly: bool = False) -> None:
        if sp is not None and sp == self._open_sp:
            self._open_sp = None
        if sp is not None:
            await conn.execute(f"RELEASE SAVEPOINT {sp}")
        elif readonly:
            await conn.execute("COMMIT")  # nothing captured: no commit record, no commit lock
        else:
            await self._pg_commit(conn, self.db)

    async def _statement_failed(self, conn: asyncpg.Connection, sp: str | None) -> None:
        if sp is not None and sp != self._open_sp:
            return  # already rolled back (after ATTENTION)
        try:
            if sp is not None:
                await conn.execute(f"ROLLBACK TO SAVEPOINT {sp}; RELEASE SAVEPOINT {sp}")
                self._open_sp = None
            elif conn.is_in_transaction():
                await conn.execute("ROLLBACK")
        except asyncpg.PostgresError:
            pass

    # ------------------------------------------------------------------ SET / DECLARE / USE
    async def _set_stmt(self, text: str) -> AsyncIterator[ResultItem]:
        m = re.match(r"(?is)^\s*SET\s+(@\w+)\s*(=|\+=|-=)\s*(.+?)\s*;?\s*$", text)
        if m:
            name = m.group(1).lower()
            if name not in self.variables:
                raise SqlError(137, f'Must declare the scalar variable "{m.group(1)}".', severity=15)
            t, old = self.variables[name]
            expr = m.group(3)
            if m.group(2) != "=":
                expr = f"{m.group(1)} {m.group(2)[0]} ({expr})"
            v = await self._scalar(expr, t)
            self.variables[name] = (t, v)
            return
        m = re.match(r"(?is)^\s*SET\s+IDENTITY_INSERT\s+(.+?)\s+(ON|OFF)\s*;?\s*$", text)
        if m:
            parts = [p.strip().strip("[]\"") for p in m.group(1).split(".")]
            schema = parts[-2] if len(parts) > 1 else "dbo"
            t = self.db.table(schema, parts[-1])
            if t is None:
                raise SqlError(208, f"Invalid object name '{m.group(1)}'.")
            if t.identity is None:
                raise SqlError(8106, f"Table '{t.display}' does not have the identity property. Cannot perform SET operation.")
            self.identity_insert = t.key if m.group(2).upper() == "ON" else None
            yield Done(None)
            return
        m = re.match(r"(?is)^\s*SET\s+TRANSACTION\s+ISOLATION\s+LEVEL\s+(.+?)\s*;?\s*$", text)
        if m:
            level = " ".join(m.group(1).upper().split())
            if level not in ("READ COMMITTED", "READ UNCOMMITTED", "REPEATABLE READ", "SERIALIZABLE", "SNAPSHOT"):
                raise syntax(level)
            if (self.trancount > 0 and level != "SNAPSHOT" and self.tx_isolation is not None
                    and (PG_ISOLATION[level] != PG_ISOLATION[self.tx_isolation] or self.tx_isolation == "SNAPSHOT")):
                # SQL Server changes the level of the open transaction; Postgres cannot (SNAPSHOT from
                # another level is error 3951 at the next statement, as in SQL Server)
                raise unsupported(f"Changing the isolation level of an open {self.tx_isolation} transaction to {level}")
            self.options["ISOLATION"] = level
            yield Done(None)
            return
        m = re.match(r"(?is)^\s*SET\s+(\w+)\s+(.+?)\s*;?\s*$", text)
        if not m:
            raise syntax("SET")
        opts = [o.strip().upper() for o in re.split(r"\s*,\s*", m.group(0)[m.start(1):].rsplit(None, 1)[0])]
        value = m.group(2).split()[-1].upper().rstrip(";")
        option = m.group(1).upper()
        if option in ("TEXTSIZE", "LOCK_TIMEOUT", "DEADLOCK_PRIORITY", "DATEFIRST", "ROWCOUNT",
                      "LANGUAGE", "DATEFORMAT", "CONTEXT_INFO", "QUERY_GOVERNOR_COST_LIMIT"):
            if option == "ROWCOUNT" and value not in ("0",):
                raise unsupported("SET ROWCOUNT n")
            if option == "DATEFORMAT" and value.lower() not in ("mdy", "ymd"):
                raise unsupported(f"SET DATEFORMAT {value}")
            if option == "LANGUAGE" and value.strip("'").lower() not in ("us_english", "english", "n'us_english'"):
                raise unsupported(f"SET LANGUAGE {value}")
            self.options[option] = value
            yield Done(None)
            return
        if value not in ("ON", "OFF"):
            raise syntax(value)
        for o in opts:
            if o not in SET_ON_OFF:
                raise unsupported(f"SET {o}")
            if (o, value) in SET_REFUSED:
                raise unsupported(f"SET {o} {value}")
            if o == "ANSI_DEFAULTS" and value == "ON":
                raise unsupported("SET ANSI_DEFAULTS ON (it implies IMPLICIT_TRANSACTIONS ON)")
            self.options[o] = value
        yield Done(None)

    async def _declare(self, text: str) -> None:
        body = text.strip().rstrip(";")[len("DECLARE"):]
        # split on top-level commas
        items, depth, cur, quote = [], 0, "", False
        for ch in body:
            if ch == "'":
                quote = not quote
            if not quote:
                if ch == "(":
                    depth += 1
                elif ch == ")":
                    depth -= 1
                elif ch == "," and depth == 0:
                    items.append(cur)
                    cur = ""
                    continue
            cur += ch
        items.append(cur)
        for item in items:
            m = re.match(r"(?is)^\s*(@\w+)\s+(?:AS\s+)?([A-Za-z_][\w ]*?(?:\([^)]*\))?)\s*(?:=\s*(.+))?$", item.strip())
            if not m:
                if re.match(r"(?is)^\s*@\w+\s+(?:AS\s+)?TABLE", item) or re.match(r"(?is)^\s*\w+\s+CURSOR", item):
                    raise unsupported("Table variables and cursors")
                raise syntax(item.strip().split()[0] if item.strip() else "DECLARE")
            name = m.group(1).lower()
            t = parse_type(m.group(2).strip(), cast=True)
            if name in self.variables:
                raise SqlError(134, f"The variable name '{m.group(1)}' has already been declared. "
                               "Variable names must be unique within a query batch or stored procedure.",
                               severity=15)
            self.variables[name] = (t, None)
            if m.group(3):
                self.variables[name] = (t, await self._scalar(m.group(3), t))

    async def _scalar(self, expr_text: str, t: SqlType | None = None) -> Any:
        try:
            e = sqlglot.parse_one(f"SELECT {expr_text}", read="tsql")
        except (ParseError, TokenError):
            raise syntax(expr_text.split()[0] if expr_text.split() else "")
        if _touches_database(e):
            self._check_snapshot_access()
        tr = self._translator(e)
        sql = tr.generate(tr.translate_expr(e))
        if t is not None:
            inner = sql[len("SELECT "):]
            if t.name == "bit":
                sql = f"SELECT (CASE WHEN ({inner}) IS NULL THEN NULL WHEN CAST({inner} AS numeric) <> 0 THEN 1 ELSE 0 END)::smallint"
            elif t.name == "datetimeoffset":
                sql = f"SELECT CAST(NULL AS _mssql.dto)" if inner.strip().upper() == "NULL" else f"SELECT _mssql.to_dto({inner})"
            else:
                sql = f"SELECT CAST(({inner}) AS {pg_type(t)})"
        conn = await self.conn()
        try:
            v = await conn.fetchval(sql)
        except asyncpg.PostgresError as ex:
            raise self._map_error(ex, "SELECT")
        if t is not None and v is not None:
            f = _converter(t)
            if f is not None:
                v = f(v)
        return v

    async def _use(self, text: str) -> AsyncIterator[ResultItem]:
        m = re.match(r"(?is)^\s*USE\s+(\[[^\]]+\]|\"[^\"]+\"|[\w$#@]+)\s*;?\s*$", text)
        if not m:
            raise syntax("USE")
        name = m.group(1).strip("[]\"")
        db = self.server.database(name)
        if db is None:
            raise SqlError(911, f"Database '{name}' does not exist. Make sure that the name is entered correctly.")
        if self.trancount > 0 and db is not self.db:
            raise unsupported("USE of another database inside an open transaction")
        if db is not self.db and db.user_access == "SINGLE_USER" and any(
                s is not self and s.db is db and not s.closed for s in self.server.sessions):
            raise SqlError(924, f"Database '{db.name}' is already open and can only have one user at a time.",
                           severity=14)
        old = self.db.name
        await self.conn(db)
        self.db = db
        yield EnvChange("database", db.name, old)
        yield Message(5701, f"Changed database context to '{db.name}'.", severity=0)
        yield Done(None)

    # ------------------------------------------------------------------ translation helpers
    def _context(self) -> Context:
        return Context(
            db=self.db, variables=self.variables,
            globals={"rowcount": self.rowcount, "trancount": self.trancount, "identity": self.identity,
                     "scope_identity": self.scope_identity, "spid": self.spid, "version": self.server.version,
                     "login": self.login, "app_name": self.app_name},
            database_lookup=self.server.database,
            databases=lambda: sorted(self.server.databases.values(), key=lambda d: d.database_id),
            server_name=self.server.server_name)

    def _translator(self, root: exp.Expression) -> Translator:
        tr = Translator(self._context())
        for w in root.find_all(exp.With):
            for cte in w.expressions:
                tr.ctes.add(cte.alias.lower())
        tr.sources = tr.collect_sources(root)
        return tr

    def _parse(self, text: str) -> exp.Expression:
        text = _fix_real(text)
        try:
            es = sqlglot.parse(text, read="tsql")
        except (ParseError, TokenError) as e:
            near = ""
            errs = getattr(e, "errors", None)
            line = 1
            if errs:
                near = errs[0].get("highlight") or ""
                line = errs[0].get("line") or 1
            raise SqlError(102, f"Incorrect syntax near '{near or text.split()[0]}'.", severity=15, line=line)
        es = [e for e in es if e is not None]
        if len(es) != 1:
            raise syntax(text.split()[0])
        return es[0]

    # ------------------------------------------------------------------ DML and queries
    async def _dml(self, text: str) -> AsyncIterator[ResultItem]:
        # sqlglot reads `DELETE t OUTPUT … WHERE …` but not `DELETE FROM t OUTPUT … WHERE …` (the same)
        m = re.match(r"(?is)^(\s*DELETE\s+)FROM\s+((?:\[[^\]]+\]|\w+)(?:\s*\.\s*(?:\[[^\]]+\]|\w+))*)\s+OUTPUT\b", text)
        if m:
            text = m.group(1) + m.group(2) + " OUTPUT" + text[m.end():]
        e = self._parse(text)
        if isinstance(e, exp.Command):
            raise unsupported(f"The statement '{text[:60]}'")
        tr = self._translator(e)
        identity_col: ColumnInfo | None = None
        target: TableInfo | None = None
        outputs = None
        if isinstance(e, exp.Select) and e.expressions and all(
                isinstance(p, exp.EQ) and isinstance(p.this, exp.Parameter) and not isinstance(p.this.this, exp.Parameter)
                for p in e.expressions):
            async for item in self._select_assign(e, tr):
                yield item
            return
        if isinstance(e, exp.Select) and any(isinstance(p, exp.EQ) and isinstance(p.this, exp.Parameter)
                                             for p in e.expressions):
            raise SqlError(141, "A SELECT statement that assigns a value to a variable must not be combined "
                           "with data-retrieval operations.", severity=15)
        if isinstance(e, exp.Select) and e.args.get("for_"):
            # FOR JSON: one nvarchar(max) column, the text split into rows of 2033 characters
            js = tr.for_json_sql(e)
            pg_sql = (f"SELECT substr(x.js, (g - 1) * 2033 + 1, 2033) FROM ({js}) AS x(js), "
                      f"generate_series(1, CAST(ceil(length(x.js) / 2033.0) AS integer)) AS g ORDER BY g")
            outputs = [Output(FOR_JSON_COLUMN, SqlType("nvarchar", length=-1))]
            async for item in self._query(pg_sql, outputs, touches=_touches_database(e)):
                yield item
            return
        if isinstance(e, exp.Select) or (isinstance(e, (exp.Union, exp.Except, exp.Intersect))):
            sel = e if isinstance(e, exp.Select) else None
            if sel is not None:
                tr.expand_stars(sel)
                tr.sources = tr.collect_sources(e)
                outputs = tr.outputs_for(sel.expressions)
            else:
                left = e.left
                while not isinstance(left, exp.Select) and hasattr(left, "left"):
                    left = left.left
                outputs = tr.outputs_for(left.expressions) if isinstance(left, exp.Select) else None
            pg_sql = tr.generate(tr.translate_expr(e))
            async for item in self._query(pg_sql, outputs, touches=_touches_database(e)):
                yield item
            return
        if isinstance(e, exp.Insert):
            async for item in self._insert(e, tr):
                yield item
            return
        if isinstance(e, (exp.Update, exp.Delete)):
            async for item in self._update_delete(e, tr):
                yield item
            return
        if isinstance(e, exp.Merge):
            async for item in self._merge(e, tr):
                yield item
            return
        raise unsupported(f"The statement '{text[:60]}'")

    async def _select_assign(self, e: exp.Select, tr: Translator) -> AsyncIterator[ResultItem]:
        """SELECT @a = expr, ... [FROM ...]: each variable gets the value of the last row."""
        targets = []
        for p in e.expressions:
            name = "@" + p.this.name.lower()
            if name not in self.variables:
                raise SqlError(137, f'Must declare the scalar variable "@{p.this.name}".', severity=15)
            targets.append(name)
        sel = e.copy()
        sel.set("expressions", [p.expression for p in e.expressions])
        pg_sql = tr.generate(tr.translate_expr(sel))
        conn = await self.conn()
        sp = await self._statement_scope(conn, _touches_database(e))
        try:
            rows = await conn.fetch(pg_sql)
        except asyncpg.PostgresError as ex:
            await self._statement_failed(conn, sp)
            raise self._map_error(ex, "SELECT")
        await self._statement_ok(conn, sp, readonly=True)
        if rows:
            last = rows[-1]
            for i, name in enumerate(targets):
                t, _ = self.variables[name]
                v = last[i]
                f = _converter(t)
                self.variables[name] = (t, f(v) if f is not None and v is not None else v)
        self.rowcount = len(rows)
        yield Done(None if self.options.get("NOCOUNT") == "ON" else len(rows))

    def _columns_from(self, outputs: list[Output] | None, attrs) -> tuple[list[Column], list]:
        cols = []
        conv = []
        use = outputs if outputs is not None and len(outputs) == len(attrs) else None
        lower_map = {}
        for s_table in self.db.tables.values():
            for c in s_table.columns:
                lower_map.setdefault(c.pg, c.name)
        for i, a in enumerate(attrs):
            nullable, ident = True, False
            if use is not None:
                name, t = use[i].name, use[i].type
                nullable, ident = use[i].nullable, use[i].identity
            else:
                name = lower_map.get(a.name, "" if a.name == "?column?" else a.name)
                t = None
            if t is not None and _category(t.name) != _PG_CATEGORY.get(a.type.name, "other"):
                t = None
            if t is None:
                t = PG_FALLBACK.get(a.type.name, SqlType("nvarchar", length=4000))
            cols.append(Column(name, t, nullable, ident))
            conv.append(_converter(t))
        return cols, (conv if any(f is not None for f in conv) else None)

    async def _query(self, pg_sql: str, outputs: list[Output] | None,
                     touches: bool = True) -> AsyncIterator[ResultItem]:
        conn = await self.conn()
        fmtonly = self.options.get("FMTONLY") == "ON"
        sp = await self._statement_scope(conn, touches)
        count = 0
        finished = False
        log.debug("pg query: %s", pg_sql)
        try:
            self._running_pid = conn.get_server_pid()
            try:
                stmt = await conn.prepare(pg_sql)
                attrs = stmt.get_attributes()
                cols, conv = self._columns_from(outputs, attrs)
                if fmtonly:
                    first, cur = [], None
                else:
                    cur = await stmt.cursor()
                    first = await cur.fetch(CHUNK)
            except asyncpg.PostgresError as ex:
                await self._statement_failed(conn, sp)
                finished = True
                raise self._map_error(ex, "SELECT")
            state = {"count": 0, "error": None}

            async def rows():
                batch = first
                while True:
                    for r in batch:
                        state["count"] += 1
                        yield _convert_row(r, conv)
                    if len(batch) < CHUNK or cur is None:
                        return
                    if self._cancelled:
                        return
                    try:
                        batch = await cur.fetch(CHUNK)
                    except asyncpg.PostgresError as ex:
                        state["error"] = self._map_error(ex, "SELECT")
                        raise state["error"]

            gen = rows()
            yield ResultSet(cols, gen)
            await gen.aclose()
            count = state["count"]
            if state["error"] is not None:
                await self._statement_failed(conn, sp)
                finished = True
                raise state["error"]
            await self._statement_ok(conn, sp, readonly=True)
            finished = True
        finally:
            self._running_pid = None
            if not finished:
                await self._statement_failed(conn, sp)
        self.rowcount = count
        yield Done(None if self.options.get("NOCOUNT") == "ON" or fmtonly else count)

    async def _run_write(self, pg_sql: str, verb: str, returning: bool = False):
        """Run a write statement in its statement scope; returns (rowcount, rows)."""
        conn = await self.conn()
        sp = await self._statement_scope(conn)
        self._running_pid = conn.get_server_pid()
        log.debug("pg write: %s", pg_sql)
        try:
            if returning:
                rows = await conn.fetch(pg_sql)
                n = len(rows)
            else:
                status = await conn.execute(pg_sql)
                rows = []
                n = int(status.split()[-1]) if status and status.split()[-1].isdigit() else 0
        except asyncpg.PostgresError as ex:
            await self._statement_failed(conn, sp)
            raise self._map_error(ex, verb)
        except BaseException:
            await self._statement_failed(conn, sp)
            raise
        finally:
            self._running_pid = None
        await self._statement_ok(conn, sp)
        return n, rows

    def _target(self, tnode: exp.Expression, tr: Translator) -> TableInfo:
        if isinstance(tnode, exp.Schema):
            tnode = tnode.this
        if not isinstance(tnode, exp.Table) or isinstance(tnode.this, exp.Anonymous):
            raise unsupported("This DML target")
        if tnode.name.startswith("#") or tnode.args.get("temporary") or (
                isinstance(tnode.this, exp.Identifier) and tnode.this.args.get("temporary")):
            raise unsupported("Temporary tables (#name)")
        tr._check_catalog(tnode)
        schema = tnode.args.get("db").name if tnode.args.get("db") is not None else None
        t = self.db.table(schema, tnode.name)
        if t is None:
            raise SqlError(208, f"Invalid object name '{tr._table_display(tnode)}'.")
        if t.system and t.schema.lower() == "cdc" and not t.name.lower().endswith("_ct"):
            pass
        return t

    def _output_clause(self, e: exp.Expression, target: TableInfo, tr: Translator, allowed: set[str]):
        ret = e.args.get("returning")
        if ret is None:
            return None, None
        if ret.args.get("into"):
            raise unsupported("OUTPUT ... INTO")
        items = []
        outs: list[Output] = []
        for p in ret.expressions:
            inner = p.this if isinstance(p, exp.Alias) else p
            if not isinstance(inner, exp.Column) or inner.table.lower() not in allowed:
                if isinstance(inner, exp.Column) and inner.table.lower() in ("inserted", "deleted"):
                    raise unsupported(f"OUTPUT {inner.table.upper()} in this statement")
                raise unsupported("OUTPUT expressions other than INSERTED.<column> / DELETED.<column>")
            if isinstance(inner.this, exp.Star):
                for c in target.columns:
                    items.append(qi(c.name))
                    outs.append(Output(c.name, c.type))
                continue
            c = target.column(inner.name)
            if c is None:
                raise SqlError(207, f"Invalid column name '{inner.name}'.")
            items.append(qi(c.name))
            outs.append(Output(p.alias if isinstance(p, exp.Alias) else inner.name, c.type))
        return items, outs

    async def _insert(self, e: exp.Insert, tr: Translator) -> AsyncIterator[ResultItem]:
        target = self._target(e.this, tr)
        tr.sources = [s for s in tr.sources]
        schema_node = e.this if isinstance(e.this, exp.Schema) else None
        if schema_node is not None and schema_node.expressions:
            names = [c.name for c in schema_node.expressions]
            cols = []
            for n in names:
                c = target.column(n)
                if c is None:
                    raise SqlError(207, f"Invalid column name '{n}'.")
                cols.append(c)
        else:
            cols = [c for c in target.columns if not c.identity]
        ident = target.identity
        explicit_identity = ident is not None and any(c is ident for c in cols)
        if explicit_identity and self.identity_insert != target.key:
            raise SqlError(544, f"Cannot insert explicit value for identity column in table '{target.name}' "
                           "when IDENTITY_INSERT is set to OFF.")
        if ident is not None and self.identity_insert == target.key and not explicit_identity:
            raise SqlError(545, f"Explicit value must be specified for identity column in table '{target.name}' "
                           "either when IDENTITY_INSERT is set to ON or when a replication user is inserting "
                           "into a NOT FOR REPLICATION identity column.")
        out_items, outs = self._output_clause(e, target, tr, {"inserted"})
        src = e.expression
        if src is None:
            if e.args.get("default"):
                src_sql = "DEFAULT VALUES"
                cols = []
            else:
                raise syntax("INSERT")
        else:
            if isinstance(src, exp.Values):
                for row in src.expressions:
                    n = len(row.expressions) if isinstance(row, exp.Tuple) else 1
                    if n != len(cols):
                        if n > len(cols):
                            raise SqlError(110, "There are more columns in the INSERT statement than values "
                                           "specified in the VALUES clause. The number of values in the VALUES "
                                           "clause must match the number of columns specified in the INSERT statement."
                                           if False else "There are fewer columns in the INSERT statement than values "
                                           "specified in the VALUES clause. The number of values in the VALUES clause "
                                           "must match the number of columns specified in the INSERT statement.", severity=15)
                        raise SqlError(109, "There are more columns in the INSERT statement than values specified "
                                       "in the VALUES clause. The number of values in the VALUES clause must match "
                                       "the number of columns specified in the INSERT statement.", severity=15)
            if isinstance(src, exp.Values) and any(c.type.name == "datetimeoffset" for c in cols):
                rows_sql = []
                for row in src.expressions:
                    items = row.expressions if isinstance(row, exp.Tuple) else [row]
                    rows_sql.append("(" + ", ".join(
                        coerce_sql(c.type, tr.generate(tr.translate_expr(x)), x) for c, x in zip(cols, items)) + ")")
                src_sql = "VALUES " + ", ".join(rows_sql)
            else:
                src_sql = tr.generate(tr.translate_expr(src))
                if any(c.type.name == "datetimeoffset" for c in cols) and not isinstance(src, exp.Values):
                    # a string literal in the SELECT would be read as the record type's text form
                    names = [f"c{i}" for i in range(len(cols))]
                    src_sql = (f"SELECT {', '.join(coerce_sql(c.type, f'_src.{n}') for c, n in zip(cols, names))} "
                               f"FROM ({src_sql}) AS _src({', '.join(names)})")
        col_sql = f" ({', '.join(qi(c.name) for c in cols)})" if cols else ""
        returning = []
        if ident is not None:
            returning.append(qi(ident.name))
        if out_items:
            returning.extend(out_items)
        sql = f"INSERT INTO {target.pg_name}{col_sql} {src_sql}"
        if returning:
            sql += " RETURNING " + ", ".join(returning)
        n, rows = await self._run_write(sql, "INSERT", returning=bool(returning))
        if ident is not None and rows:
            self.scope_identity = self.identity = rows[-1][0]
            if explicit_identity:
                conn = await self.conn()
                await conn.execute("SELECT _mssql.reseed($1, $2)", target.pg_name, ident.pg)
        self.rowcount = n
        if outs is not None:
            off = 1 if ident is not None else 0
            rcols = [Column(o.name, o.type) for o in outs]
            conv = [_converter(o.type) for o in outs]
            yield ResultSet(rcols, [_convert_row(tuple(r)[off:], conv) for r in rows])
        yield Done(None if self.options.get("NOCOUNT") == "ON" else n)

    def _coerce_values(self, src_sql: str, src: exp.Values, cols: list[ColumnInfo], tr: Translator) -> str:
        """Bit columns hold 0/1 (smallint): SQL Server converts 'true'/'false' strings too."""
        return src_sql

    def _dml_joins(self, e, verb: str, tr: Translator):
        """UPDATE/DELETE ... FROM with inner joins: (target node, other table nodes, join conditions)."""
        if verb == "UPDATE":
            frm = e.args.get("from_") or e.args.get("from")
            if frm is None:
                return e.this, [], []
            ftab, target_name = frm.this, e.this.name
        else:
            tables = e.args.get("tables")
            if not tables:
                return e.this, [], []
            if len(tables) != 1:
                raise unsupported("DELETE of several tables")
            if not isinstance(e.this, exp.Table):  # DELETE t OUTPUT … WHERE …: no FROM clause
                return tables[0], [], []
            ftab, target_name = e.this, tables[0].name
        if not isinstance(ftab, exp.Table):
            raise unsupported(f"{verb} ... FROM a derived table")
        joins = ftab.args.get("joins") or []
        nodes = [ftab] + [j.this for j in joins]
        conds = []
        for j in joins:
            if j.args.get("side") or (j.args.get("kind") or "").upper() not in ("", "INNER", "CROSS"):
                raise unsupported(f"{verb} ... FROM with an outer join")
            if j.args.get("on") is not None:
                conds.append(j.args["on"])
            if j.args.get("using"):
                raise unsupported("JOIN ... USING")
        for n in nodes:
            if not isinstance(n, exp.Table):
                raise unsupported(f"{verb} ... FROM a derived table")
        stripped = ftab.copy()
        stripped.set("joins", None)
        nodes[0] = stripped
        target = None
        for n in nodes:
            if (n.alias or n.name).lower() == target_name.lower():
                target = n
                break
        if target is None:
            if verb == "DELETE":
                raise SqlError(208, f"Invalid object name '{target_name}'.")
            return e.this, nodes, conds
        others = [n for n in nodes if n is not target]
        return target, others, conds

    async def _update_delete(self, e, tr: Translator) -> AsyncIterator[ResultItem]:
        verb = "UPDATE" if isinstance(e, exp.Update) else "DELETE"
        if e.args.get("limit") is not None or (e.this.args.get("limit") if hasattr(e.this, "args") else None):
            raise unsupported(f"{verb} TOP (n)")
        target_node, others, conds = self._dml_joins(e, verb, tr)
        target = self._target(target_node, tr)
        alias_name = target_node.alias or (target_node.name if target_node.name.lower() != target.name.lower() else "")
        extra_from = ", ".join(tr.generate(tr.translate_expr(o)) for o in others)
        extra_where = [tr.generate(tr.translate_expr(c)) for c in conds]
        allowed = {"inserted"} if verb == "UPDATE" else {"deleted"}
        out_items, outs = self._output_clause(e, target, tr, allowed)
        if isinstance(e, exp.Update):
            sets = []
            for a in e.expressions:
                if not isinstance(a, exp.EQ) or not isinstance(a.this, exp.Column):
                    raise unsupported("This SET clause")
                c = target.column(a.this.name)
                if c is None:
                    raise SqlError(207, f"Invalid column name '{a.this.name}'.")
                if c.identity:
                    raise SqlError(8102, f"Cannot update identity column '{c.name}'.")
                val = tr.translate_expr(a.expression)
                vs = coerce_sql(c.type, tr.generate(val), a.expression)
                if c.type.name == "bit" and isinstance(a.expression, exp.Literal) and a.expression.is_string:
                    vs = f"CASE lower({vs}) WHEN 'true' THEN 1 WHEN 'false' THEN 0 ELSE CAST({vs} AS smallint) END"
                sets.append(f"{qi(c.name)} = {vs}")
            where = e.args.get("where")
            sql = f"UPDATE {target.pg_name}" + (f" AS {qi(alias_name)}" if alias_name else "") + " SET " + ", ".join(sets)
            if extra_from:
                sql += " FROM " + extra_from
        else:
            where = e.args.get("where")
            sql = f"DELETE FROM {target.pg_name}" + (f" AS {qi(alias_name)}" if alias_name else "")
            if extra_from:
                sql += " USING " + extra_from
        preds = list(extra_where)
        if where is not None:
            preds.append(tr.generate(tr.translate_expr(where.this)))
        if preds:
            sql += " WHERE " + " AND ".join(f"({p})" for p in preds)
        if out_items:
            sql += " RETURNING " + ", ".join(out_items)
        n, rows = await self._run_write(sql, verb, returning=bool(out_items))
        self.rowcount = n
        if outs is not None:
            conv = [_converter(o.type) for o in outs]
            yield ResultSet([Column(o.name, o.type) for o in outs], [_convert_row(r, conv) for r in rows])
        yield Done(None if self.options.get("NOCOUNT") == "ON" else n)

    async def _merge(self, e: exp.Merge, tr: Translator) -> AsyncIterator[ResultItem]:
        target = self._target(e.this, tr)
        if e.args.get("returning") is not None:
            raise unsupported("MERGE ... OUTPUT")
        talias = e.this.alias or target.name
        whens = e.args.get("whens")
        when_list = whens.expressions if whens is not None else []
        parts = []
        for w in when_list:
            matched = w.args.get("matched")
            source = w.args.get("source")
            if source:
                raise unsupported("MERGE ... WHEN NOT MATCHED BY SOURCE")
            cond = w.args.get("condition")
            then = w.args.get("then")
            head = "WHEN MATCHED" if matched else "WHEN NOT MATCHED"
            if cond is not None:
                head += " AND " + tr.generate(tr.translate_expr(cond))
            if isinstance(then, exp.Update):
                sets = []
                for a in then.expressions:
                    c = target.column(a.this.name)
                    if c is None:
                        raise SqlError(207, f"Invalid column name '{a.this.name}'.")
                    sets.append(f"{qi(c.name)} = {coerce_sql(c.type, tr.generate(tr.translate_expr(a.expression)), a.expression)}")
                parts.append(f"{head} THEN UPDATE SET {', '.join(sets)}")
            elif isinstance(then, exp.Insert):
                cols_node = then.this
                names = [c.name for c in cols_node.expressions] if isinstance(cols_node, exp.Tuple) else (
                    [c.name for c in cols_node.expressions] if cols_node is not None and hasattr(cols_node, "expressions") else [])
                cols = []
                for n in names:
                    c = target.column(n)
                    if c is None:
                        raise SqlError(207, f"Invalid column name '{n}'.")
                    cols.append(c)
                if not names:
                    cols = [c for c in target.columns if not c.identity]
                if target.identity is not None and any(c.identity for c in cols) and self.identity_insert != target.key:
                    raise SqlError(544, f"Cannot insert explicit value for identity column in table '{target.name}' "
                                   "when IDENTITY_INSERT is set to OFF.")
                vals = then.expression
                items = vals.expressions if isinstance(vals, exp.Tuple) else (
                    vals.expressions[0].expressions if isinstance(vals, exp.Values) and vals.expressions
                    and isinstance(vals.expressions[0], exp.Tuple) else None)
                if items is not None and len(items) == len(cols):
                    vsql = "VALUES (" + ", ".join(coerce_sql(c.type, tr.generate(tr.translate_expr(x)), x)
                                                  for c, x in zip(cols, items)) + ")"
                else:
                    vsql = tr.generate(tr.translate_expr(vals))
                    if not vsql.upper().startswith("VALUES"):
                        vsql = f"VALUES {vsql}"
                parts.append(f"{head} THEN INSERT ({', '.join(qi(c.name) for c in cols)}) {vsql}")
            elif isinstance(then, exp.Var) and then.name.upper() == "DELETE" or (
                    isinstance(then, exp.Expression) and then.sql(dialect="tsql").upper() == "DELETE"):
                parts.append(f"{head} THEN DELETE")
            else:
                raise unsupported("This MERGE action")
        using = e.args.get("using")
        using_sql = tr.generate(tr.translate_expr(using))
        on_sql = tr.generate(tr.translate_expr(e.args.get("on")))
        sql = f"MERGE INTO {target.pg_name} AS {qi(talias)} USING {using_sql} ON {on_sql} " + " ".join(parts)
        n, _ = await self._run_write(sql, "MERGE")
        self.rowcount = n
        yield Done(None if self.options.get("NOCOUNT") == "ON" else n)

    # ------------------------------------------------------------------ ALTER DATABASE … SET
    async def _alter_database(self, text: str) -> AsyncIterator[ResultItem]:
        """ALTER DATABASE name|CURRENT SET option [, …] [WITH ROLLBACK IMMEDIATE | ROLLBACK AFTER n
        [SECONDS] | NO_WAIT] for SINGLE_USER, MULTI_USER, ALLOW_SNAPSHOT_ISOLATION and
        READ_COMMITTED_SNAPSHOT (ALTER DATABASE SET Options, SQL Server 2022)."""
        m = re.match(r"(?is)^\s*ALTER\s+DATABASE\s+(\[[^\]]+\]|\"[^\"]+\"|[\w$#@]+)\s+(\w+)\s*(.*?)\s*;?\s*$", text)
        if not m:
            raise syntax("DATABASE")
        name, action, rest = m.group(1).strip("[]\""), m.group(2).upper(), m.group(3)
        if action != "SET":
            raise unsupported(f"ALTER DATABASE … {action}")
        term = re.search(r"(?is)\bWITH\s+(ROLLBACK\s+IMMEDIATE|ROLLBACK\s+AFTER\s+(\d+)(?:\s+SECONDS)?|NO_WAIT)\s*$", rest)
        termination, after = None, None
        if term:
            termination = " ".join(term.group(1).upper().split()[:2])
            after = int(term.group(2)) if term.group(2) else None
            rest = rest[:term.start()]
        options = []
        for part in rest.split(","):
            words = part.upper().split()
            if words in (["SINGLE_USER"], ["MULTI_USER"]):
                options.append((words[0], None))
            elif len(words) == 2 and words[0] in ("ALLOW_SNAPSHOT_ISOLATION", "READ_COMMITTED_SNAPSHOT") \
                    and words[1] in ("ON", "OFF"):
                options.append((words[0], words[1] == "ON"))
            elif not words:
                raise syntax("SET")
            else:
                raise unsupported(f"ALTER DATABASE … SET {' '.join(part.split())}")
        db = self.db if name.upper() == "CURRENT" else self.server.database(name)
        if db is None:
            raise SqlError(5011, f"User does not have permission to alter database '{name}', the database does "
                           "not exist, or the database is not in a state that allows access checks.", severity=14,
                           ).with_followup(_alter_failed())
        if self.trancount > 0:
            raise SqlError(226, "ALTER DATABASE statement not allowed within multi-statement transaction.")
        if db.database_id <= 4:
            raise unsupported("ALTER DATABASE … SET on a system database")
        for option, value in options:
            if option == "SINGLE_USER" or (option == "READ_COMMITTED_SNAPSHOT" and value != db.read_committed_snapshot):
                # only the connection running ALTER DATABASE may stay in the database
                await self._make_room(db, termination, after, lambda s: s.db is db or s.tx_db is db)
            if option == "ALLOW_SNAPSHOT_ISOLATION" and value != db.allow_snapshot_isolation:
                # ALTER DATABASE returns when the transactions open in the database have ended
                await self._make_room(db, termination, after,
                                      lambda s: s.trancount > 0 and (s.tx_db or s.db) is db)
            if option == "MULTI_USER" and db.user_access == "SINGLE_USER":
                others = await self._others(lambda s: s.db is db)
                if others and termination != "ROLLBACK IMMEDIATE" and termination != "ROLLBACK AFTER":
                    raise SqlError(5064, f"Changes to the state or options of database '{db.name}' cannot be made "
                                   "at this time. The database is in single-user mode, and a user is currently "
                                   "connected to it.").with_followup(_alter_failed())
                for s in others:
                    await self._kill(s)
            key, stored = {
                "SINGLE_USER": ("user_access", "SINGLE_USER"), "MULTI_USER": ("user_access", "MULTI_USER"),
                "ALLOW_SNAPSHOT_ISOLATION": ("allow_snapshot_isolation", "1" if value else "0"),
                "READ_COMMITTED_SNAPSHOT": ("read_committed_snapshot", "1" if value else "0")}[option]
            conn = await self.conn(db)
            await conn.execute("INSERT INTO _mssql.meta(key, value) VALUES ($1, $2) "
                               "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value", key, stored)
            if key == "user_access":
                db.user_access = stored
            elif key == "allow_snapshot_isolation":
                db.allow_snapshot_isolation = bool(value)
            else:
                db.read_committed_snapshot = bool(value)
        yield Done(None)

    async def _make_room(self, db: Database, termination: str | None, after: int | None, blocks) -> None:
        """Wait until no other session blocks the change (no termination clause: indefinitely, as SQL
        Server does, until the client cancels), fail at once (NO_WAIT: 5070), or disconnect those
        sessions, rolling back their transactions (ROLLBACK IMMEDIATE, ROLLBACK AFTER n after n s)."""
        loop = asyncio.get_running_loop()
        deadline = None if termination != "ROLLBACK AFTER" else loop.time() + (after or 0)
        while True:
            others = [s for s in list(self.server.sessions) if s is not self and not s.closed and blocks(s)]
            if not others:
                return
            if termination == "NO_WAIT" and await self._others(blocks, grace=0.5):
                raise SqlError(5070, f"Database state cannot be changed while other users are using the database "
                               f"'{db.name}'", state=2).with_followup(_alter_failed())
            if termination == "ROLLBACK IMMEDIATE" or (deadline is not None and loop.time() >= deadline):
                for s in others:
                    await self._kill(s)
                return
            if self._cancelled:
                raise _BatchStop()
            await asyncio.sleep(0.05)

    async def _others(self, blocks, grace: float = 2.0) -> list:
        """Other sessions that match ``blocks``, after giving a client that just closed its connection a
        moment to be gone."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        while True:
            others = [s for s in list(self.server.sessions) if s is not self and not s.closed and blocks(s)]
            if not others or loop.time() >= deadline:
                return others
            await asyncio.sleep(0.05)

    async def _kill(self, victim: "EngineSession") -> None:
        """End another session as KILL does: its Postgres backends end (Postgres rolls back their open
        transactions), then its client connection is closed."""
        conn = await self.conn()
        for c in list(victim.conns.values()):
            try:
                pid = c.get_server_pid()
                await conn.fetchval("SELECT pg_terminate_backend($1, 10000)", pid)
            except Exception:  # noqa: BLE001 - already gone
                pass
        await victim.killed_by_server()

    async def killed_by_server(self) -> None:
        self.killed = True
        self._cancelled = True
        self.closed = True
        self.trancount = 0
        self.tx_db = None
        for c in list(self.conns.values()):
            c.terminate()
        self.conns.clear()
        self.server.forget(self)
        if self.on_kill is not None:
            try:
                self.on_kill()
            except Exception:  # noqa: BLE001
                log.exception("closing a killed session's connection failed")

    # ------------------------------------------------------------------ DDL
    async def _ddl(self, text: str) -> AsyncIterator[ResultItem]:
        c = Cursor(_fix_real(text))
        verb = c.word()
        c.i += 1
        obj = c.word()
        if verb == "CREATE" and obj == "DATABASE":
            c.i += 1
            name = c.name()
            if not c.at_end():
                raise unsupported("CREATE DATABASE options")
            if self.trancount > 0:
                raise SqlError(226, "CREATE DATABASE statement not allowed within multi-statement transaction.")
            await self.server.create_database(name)
            yield Done(None)
            return
        if verb == "DROP" and obj == "DATABASE":
            c.i += 1
            if_exists = False
            if c.word() == "IF":
                c.i += 1
                c.expect("EXISTS")
                if_exists = True
            names = [c.name()]
            while c.accept_type(TokenType.COMMA):
                names.append(c.name())
            if self.trancount > 0:
                raise SqlError(574, "DROP DATABASE statement cannot be used inside a user transaction.")
            for n in names:
                if if_exists and self.server.database(n) is None:
                    continue
                await self.server.drop_database(n, self)
            yield Done(None)
            return
        if verb == "ALTER" and obj == "DATABASE":
            async for item in self._alter_database(text):
                yield item
            return
        if verb == "TRUNCATE":
            c.expect("TABLE")
            parts = c.qualified()
            t = self._table_from_parts(parts)
            if t.key in getattr(self.db, "tracked_tables", set()):
                raise SqlError(4711, f"Cannot truncate table '{t.display}' because it is published for "
                               "replication or enabled for Change Data Capture.")
            await self._ddl_exec(f"TRUNCATE TABLE {t.pg_name}")
            yield Done(None)
            return
        async with self.db.ddl_lock:
            if verb == "CREATE" and obj == "SCHEMA":
                c.i += 1
                name = c.name()
                if c.accept("AUTHORIZATION"):
                    c.name()
                if not c.at_end():
                    raise unsupported("CREATE SCHEMA with schema elements")
                if name.lower() in self.db.schemas or name.lower() in ("sys", "information_schema"):
                    raise SqlError(2714, f"There is already an object named '{name}' in the database.")
                await self._ddl_exec(f"CREATE SCHEMA {qi(name)}; INSERT INTO _mssql.schemas VALUES ({literal(name.lower())}, {literal(name)})")
                self.db.schemas[name.lower()] = name
                yield Done(None)
                return
            if verb == "CREATE" and obj == "TABLE":
                c.i += 1
                await self.create_table(c)
                yield Done(None)
                return
            if verb == "CREATE" and obj in ("INDEX", "UNIQUE", "CLUSTERED", "NONCLUSTERED"):
                await self._create_index(c)
                yield Done(None)
                return
            if verb == "DROP" and obj == "TABLE":
                c.i += 1
                if_exists = False
                if c.word() == "IF":
                    c.i += 1
                    c.expect("EXISTS")
                    if_exists = True
                tables = [c.qualified()]
                while c.accept_type(TokenType.COMMA):
                    tables.append(c.qualified())
                for parts in tables:
                    t = self._table_from_parts(parts, must_exist=False)
                    if t is None:
                        if if_exists:
                            continue
                        raise SqlError(3701, f"Cannot drop the table '{'.'.join(parts)}', because it does not "
                                       "exist or you do not have permission.", severity=11)
                    if t.system:
                        raise SqlError(3701, f"Cannot drop the table '{t.display}', because it does not exist "
                                       "or you do not have permission.", severity=11)
                    await procs.drop_capture_instances_of(self, t)
                    await self._ddl_exec(f"DROP TABLE {t.pg_name}; DELETE FROM _mssql.tables WHERE schema_name = "
                                         f"{literal(t.key[0])} AND table_name = {literal(t.key[1])}")
                    self.db.tables.pop(t.key, None)
                yield Done(None)
                return
            if verb == "DROP" and obj in ("PROCEDURE", "PROC"):
                c.i += 1
                if_exists = False
                if c.word() == "IF":
                    c.i += 1
                    c.expect("EXISTS")
                    if_exists = True
                parts = c.qualified()
                key = ((parts[-2] if len(parts) > 1 else "dbo").lower(), parts[-1].lower())
                procs_ = self.db.__dict__.setdefault("procedures", {})
                if key not in procs_:
                    if if_exists:
                        yield Done(None)
                        return
                    raise SqlError(3701, f"Cannot drop the procedure '{'.'.join(parts)}', because it does not "
                                   "exist or you do not have permission.", severity=11)
                await self._ddl_exec(f"DELETE FROM _mssql.procedures WHERE schema_name = {literal(key[0])} "
                                     f"AND name = {literal(key[1])}")
                del procs_[key]
                yield Done(None)
                return
            if verb == "DROP" and obj == "INDEX":
                c.i += 1
                name = c.name()
                c.expect("ON")
                t = self._table_from_parts(c.qualified())
                await self._ddl_exec(f"DROP INDEX {qi(t.schema)}.\"{name}\"")
                yield Done(None)
                return
            if verb == "DROP" and obj == "SCHEMA":
                c.i += 1
                name = c.name()
                if name.lower() not in self.db.schemas:
                    raise SqlError(3701, f"Cannot drop the schema '{name}', because it does not exist or you "
                                   "do not have permission.", severity=11)
                await self._ddl_exec(f"DROP SCHEMA {qi(name)}; DELETE FROM _mssql.schemas WHERE name = {literal(name.lower())}")
                self.db.schemas.pop(name.lower(), None)
                yield Done(None)
                return
            if verb == "ALTER" and obj == "TABLE":
                c.i += 1
                async for item in self._alter_table(c, text):
                    yield item
                return
        raise unsupported(f"{verb} {obj}")

    def _table_from_parts(self, parts: list[str], must_exist: bool = True) -> TableInfo | None:
        if len(parts) > 3:
            raise syntax(".".join(parts))
        if len(parts) == 3 and parts[0].lower() != self.db.name.lower():
            raise unsupported("A reference to another database (three-part name)")
        schema = parts[-2] if len(parts) >= 2 else "dbo"
        t = self.db.table(schema, parts[-1])
        if t is None and must_exist:
            raise SqlError(208, f"Invalid object name '{'.'.join(parts)}'.")
        return t

    async def _ddl_exec(self, pg_sql: str) -> None:
        conn = await self.conn()
        sp = await self._statement_scope(conn)
        try:
            await conn.execute(pg_sql)
        except asyncpg.PostgresError as ex:
            await self._statement_failed(conn, sp)
            raise self._map_error(ex, "DDL")
        except BaseException:
            await self._statement_failed(conn, sp)
            raise
        await self._statement_ok(conn, sp)
        if self.trancount > 0:
            self.tx_ddl = True
        await refresh_constraints(self.db, conn)

    async def run_internal(self, pg_sql: str, *args) -> None:
        conn = await self.conn()
        await conn.execute(pg_sql, *args)

    async def create_table(self, c: Cursor, *, system: bool = False, extra_sql: str = "") -> TableInfo:
        parts = c.qualified()
        if len(parts) == 3:
            if parts[0].lower() != self.db.name.lower():
                raise unsupported("CREATE TABLE in another database (three-part name)")
            parts = parts[1:]
        schema = parts[0] if len(parts) == 2 else "dbo"
        name = parts[-1]
        if name.startswith("#"):
            raise unsupported("Temporary tables (#name)")
        if schema.lower() not in self.db.schemas:
            raise SqlError(2760, f'The specified schema name "{schema}" either does not exist or you do not '
                           "have permission to use it.")
        if self.db.table(schema, name) is not None:
            raise SqlError(2714, f"There is already an object named '{name}' in the database.")
        if len(name) > 63:
            raise unsupported("Table names longer than 63 characters")
        c.expect_type(TokenType.L_PAREN)
        items = []
        while True:
            items.append(parse_table_item(c))
            if c.accept_type(TokenType.COMMA):
                if c.peek() is not None and c.peek().token_type == TokenType.R_PAREN:
                    break
                continue
            break
        c.expect_type(TokenType.R_PAREN)
        if c.accept("ON"):
            c.name()
        if c.word() == "WITH":
            raise unsupported("CREATE TABLE ... WITH options")
        if not c.at_end():
            raise syntax(c.peek().text)
        schema_decl = self.db.schemas[schema.lower()]
        table = TableInfo(schema_decl, name, [], system=system)
        defs = []
        constraints: list[Constraint] = []
        tr = Translator(self._context())
        for it in items:
            if isinstance(it, Constraint):
                constraints.append(it)
                continue
            if table.column(it.name) is not None:
                raise SqlError(2705, f"Column names in each table must be unique. Column name '{it.name}' in "
                               f"table '{name}' is specified more than once.")
            table.next_column_id += 1
            is_pk = any(k.kind == "pk" for k in it.constraints)
            nullable = it.nullable if it.nullable is not None else not (is_pk or it.identity)
            if it.identity and it.type.name in ("decimal", "numeric"):
                raise unsupported("IDENTITY on a decimal/numeric column")
            if it.identity and it.type.name not in ("int", "bigint", "smallint", "tinyint", "decimal", "numeric"):
                raise SqlError(2749, f"Identity column '{it.name}' must be of data type int, bigint, smallint, "
                               "tinyint, or decimal or numeric with a scale of 0, and constrained to be nonnullable.")
            if it.identity and nullable:
                raise SqlError(8147, f"Could not create IDENTITY attribute on nullable column '{it.name}', table '{name}'.")
            col = ColumnInfo(it.name, it.type, nullable, bool(it.identity), table.next_column_id)
            table.columns.append(col)
            d = f"{qi(it.name)} {pg_type(it.type)}"
            if is_string(it.type):
                d += ' COLLATE _mssql.ci'
            if it.identity:
                if table.identity is not None and table.identity is not col:
                    raise SqlError(2744, f"Multiple identity columns specified for table '{name}'. Only one "
                                   "identity column per table is allowed.")
                d += f" GENERATED BY DEFAULT AS IDENTITY (START WITH {it.identity[0]} INCREMENT BY {it.identity[1]})"
            if not nullable:
                d += " NOT NULL"
            for k in it.constraints:
                if k.kind == "default":
                    d += f" DEFAULT {self._default_sql(k.expr, col)}"
                else:
                    constraints.append(k)
            defs.append(d)
        for k in constraints:
            defs.append(self._constraint_sql(k, table, tr))
        sql = f"CREATE TABLE {table.pg_name} ({', '.join(defs)})"
        if not c.sql.strip():
            raise syntax("CREATE")
        table_json = table.to_json()
        await self._ddl_exec(
            f"{sql}; INSERT INTO _mssql.tables VALUES ({literal(table.key[0])}, {literal(table.key[1])}, "
            f"{literal(table_json)}::jsonb)" + (f"; {extra_sql}" if extra_sql else ""))
        conn = await self.conn()
        table.object_id = await conn.fetchval(f"SELECT '{table.pg_name}'::regclass::oid::int")
        self.db.tables[table.key] = table
        return table

    def _default_sql(self, text: str, col: ColumnInfo) -> str:
        try:
            e = sqlglot.parse_one(f"SELECT {text}", read="tsql")
        except (ParseError, TokenError):
            raise syntax(text)
        tr = Translator(self._context())
        inner = tr.generate(tr.translate_expr(e))[len("SELECT "):]
        if col.type.name == "bit":
            return f"CAST(({inner}) AS smallint)"
        if col.type.name == "datetimeoffset":
            return f"_mssql.to_dto({inner})"
        return f"CAST(({inner}) AS {pg_type(col.type)})"

    def _constraint_sql(self, k: Constraint, table: TableInfo, tr: Translator) -> str:
        suffix = uuid.uuid4().hex[:16].upper()
        if k.kind == "pk":
            name = k.name or f"PK__{table.name[:8]}__{suffix}"
            for cn, _ in k.columns:
                col = table.column(cn)
                if col is None:
                    raise SqlError(1911, f"Column name '{cn}' does not exist in the target table or view.")
                if col.nullable:
                    col.nullable = False
            return f'CONSTRAINT "{name}" PRIMARY KEY ({", ".join(qi(cn) for cn, _ in k.columns)})'
        if k.kind == "unique":
            name = k.name or f"UQ__{table.name[:8]}__{suffix}"
            for cn, _ in k.columns:
                if table.column(cn) is None:
                    raise SqlError(1911, f"Column name '{cn}' does not exist in the target table or view.")
            return f'CONSTRAINT "{name}" UNIQUE ({", ".join(qi(cn) for cn, _ in k.columns)})'
        if k.kind == "fk":
            name = k.name or f"FK__{table.name[:8]}__{suffix[:8]}"
            ref = self._table_from_parts(k.ref_table, must_exist=False) if not (
                len(k.ref_table) == 1 and k.ref_table[0].lower() == table.name.lower()) else table
            if ref is None and len(k.ref_table) == 2 and k.ref_table[0].lower() == table.schema.lower() \
                    and k.ref_table[1].lower() == table.name.lower():
                ref = table
            if ref is None:
                raise SqlError(1767, f"Foreign key '{name}' references invalid table '{'.'.join(k.ref_table)}'.")
            for cn, _ in k.columns:
                if table.column(cn) is None:
                    raise SqlError(1769, f"Foreign key '{name}' references invalid column '{cn}' in referencing table '{table.name}'.")
            rc = k.ref_columns
            s = (f'CONSTRAINT "{name}" FOREIGN KEY ({", ".join(qi(cn) for cn, _ in k.columns)}) '
                 f'REFERENCES {ref.pg_name}' + (f' ({", ".join(qi(x) for x in rc)})' if rc else ""))
            if k.on_delete:
                s += f" ON DELETE {k.on_delete}"
            if k.on_update:
                s += f" ON UPDATE {k.on_update}"
            return s
        if k.kind == "check":
            name = k.name or f"CK__{table.name[:8]}__{suffix[:8]}"
            try:
                e = sqlglot.parse_one(f"SELECT 1 WHERE {k.expr}", read="tsql")
            except (ParseError, TokenError):
                raise syntax(k.expr)
            tr2 = Translator(self._context())
            from .translate import Source
            tr2.sources = [Source(table.name.lower(), table.columns, table)]
            where = tr2.translate_expr(e.args["where"].this)
            return f'CONSTRAINT "{name}" CHECK ({tr2.generate(where)})'
        if k.kind == "default":
            raise unsupported("Table-level DEFAULT constraints")
        raise unsupported(f"The constraint {k.kind}")

    async def _create_index(self, c: Cursor) -> None:
        unique = c.accept("UNIQUE")
        c.accept("CLUSTERED", "NONCLUSTERED")
        c.expect("INDEX")
        name = c.name()
        c.expect("ON")
        t = self._table_from_parts(c.qualified())
        cols = c.name_list()
        for cn, _ in cols:
            if t.column(cn) is None:
                raise SqlError(1911, f"Column name '{cn}' does not exist in the target table or view.")
        include = ""
        if c.accept("INCLUDE"):
            inc = c.name_list()
            include = f" INCLUDE ({', '.join(qi(n) for n, _ in inc)})"
        where = ""
        if c.accept("WHERE"):
            start = c.peek()
            rest = c.sql[start.start:].strip().rstrip(";")
            m = re.search(r"(?is)\s+WITH\s*\(", rest)
            if m:
                rest = rest[:m.start()]
            e = sqlglot.parse_one(f"SELECT 1 WHERE {rest}", read="tsql")
            tr = Translator(self._context())
            from .translate import Source
            tr.sources = [Source(t.name.lower(), t.columns, t)]
            where = " WHERE " + tr.generate(tr.translate_expr(e.args["where"].this))
            c.i = len(c.toks)
        if c.word() == "WITH":
            c.i += 1
            c.balanced()
        if c.accept("ON"):
            c.name()
        if not c.at_end():
            raise syntax(c.peek().text)
        exists = await (await self.conn()).fetchval(
            "SELECT 1 FROM pg_indexes WHERE schemaname = $1 AND tablename = $2 AND indexname = $3",
            t.schema.lower(), t.name.lower(), name)
        if exists:
            raise SqlError(1913, f"The operation failed because an index or statistics with name '{name}' "
                           f"already exists on table '{t.display}'.")
        cols_sql = ", ".join(qi(n) + (" DESC" if d else "") for n, d in cols)
        await self._ddl_exec(f'CREATE {"UNIQUE " if unique else ""}INDEX "{name}" ON {t.pg_name} ({cols_sql}){include}{where}')

    async def _alter_table(self, c: Cursor, text: str) -> AsyncIterator[ResultItem]:
        t = self._table_from_parts(c.qualified())
        if t.system:
            raise unsupported("ALTER TABLE on a CDC system table")
        stmts = []
        new_cols = [ColumnInfo(x.name, x.type, x.nullable, x.identity, x.column_id) for x in t.columns]
        next_id = t.next_column_id
        tr = Translator(self._context())
        work = TableInfo(t.schema, t.name, new_cols, t.object_id, next_id)
        if c.accept("ADD"):
            while True:
                item = parse_table_item(c)
                if isinstance(item, Constraint):
                    stmts.append(f"ALTER TABLE {t.pg_name} ADD " + self._constraint_sql(item, work, tr))
                else:
                    if work.column(item.name) is not None:
                        raise SqlError(2705, f"Column names in each table must be unique. Column name "
                                       f"'{item.name}' in table '{t.name}' is specified more than once.")
                    work.next_column_id += 1
                    nullable = item.nullable if item.nullable is not None else True
                    col = ColumnInfo(item.name, item.type, nullable, bool(item.identity), work.next_column_id)
                    d = f"{qi(item.name)} {pg_type(item.type)}"
                    if is_string(item.type):
                        d += " COLLATE _mssql.ci"
                    if item.identity:
                        d += f" GENERATED BY DEFAULT AS IDENTITY (START WITH {item.identity[0]} INCREMENT BY {item.identity[1]})"
                    if not nullable:
                        d += " NOT NULL"
                    for k in item.constraints:
                        if k.kind == "default":
                            d += f" DEFAULT {self._default_sql(k.expr, col)}"
                    work.columns.append(col)
                    stmts.append(f"ALTER TABLE {t.pg_name} ADD COLUMN {d}")
                    for k in item.constraints:
                        if k.kind != "default":
                            stmts.append(f"ALTER TABLE {t.pg_name} ADD " + self._constraint_sql(k, work, tr))
                if not c.accept_type(TokenType.COMMA):
                    break
        elif c.accept("DROP"):
            while True:
                if c.accept("CONSTRAINT"):
                    if c.word() == "IF":
                        raise unsupported("DROP CONSTRAINT IF EXISTS")
                    name = c.name()
                    stmts.append(f'ALTER TABLE {t.pg_name} DROP CONSTRAINT "{name}"')
                else:
                    c.accept("COLUMN")
                    name = c.name()
                    col = work.column(name)
                    if col is None:
                        raise SqlError(4924, f"ALTER TABLE DROP COLUMN failed because column '{name}' does not "
                                       f"exist in table '{t.name}'.")
                    work.columns = [x for x in work.columns if x is not col]
                    stmts.append(f"ALTER TABLE {t.pg_name} DROP COLUMN {qi(name)}")
                if not c.accept_type(TokenType.COMMA):
                    break
        elif c.accept("ALTER"):
            c.expect("COLUMN")
            name = c.name()
            col = work.column(name)
            if col is None:
                raise SqlError(4902, f"Cannot find the object \"{t.display}\" because it does not exist or you do not have permissions.")
            ttype = parse_type(c.type_text())
            nullable = True
            if c.accept("NOT"):
                c.expect("NULL")
                nullable = False
            else:
                c.accept("NULL")
            col.type = ttype
            col.nullable = nullable
            coll = " COLLATE _mssql.ci" if is_string(ttype) else ""
            using = qi(name)
            stmts.append(f"ALTER TABLE {t.pg_name} ALTER COLUMN {qi(name)} TYPE {pg_type(ttype)}{coll} USING CAST({using} AS {pg_type(ttype)})")
            stmts.append(f"ALTER TABLE {t.pg_name} ALTER COLUMN {qi(name)} {'DROP' if nullable else 'SET'} NOT NULL")
        else:
            raise unsupported(f"ALTER TABLE {c.word()}")
        if not c.at_end():
            raise syntax(c.peek().text)
        work.system = t.system
        stmts.append(f"UPDATE _mssql.tables SET info = {literal(work.to_json())}::jsonb WHERE schema_name = "
                     f"{literal(t.key[0])} AND table_name = {literal(t.key[1])}")
        if t.key in getattr(self.db, "tracked_tables", set()):
            stmts.extend(procs.ddl_history_sql(self, t, text.strip()))
        await self._ddl_exec("; ".join(stmts))
        t.columns = work.columns
        t.next_column_id = work.next_column_id
        yield Done(None)

    # ------------------------------------------------------------------ EXEC
    def _parse_exec(self, text: str, implicit: bool = False):
        c = Cursor(text)
        if not implicit:
            c.i += 1
        if c.peek() is not None and c.peek().token_type == TokenType.PARAMETER:
            raise unsupported("EXEC @return_status = procedure")
        if c.peek() is not None and c.peek().token_type == TokenType.L_PAREN:
            raise unsupported("EXEC (dynamic SQL string)")
        parts = c.qualified()
        name = ".".join(parts)
        args: dict[str, Any] = {}
        positional: list[Any] = []
        while not c.at_end():
            tok = c.peek()
            pname = None
            if tok.token_type == TokenType.PARAMETER and c.peek(2) is not None and c.peek(2).token_type == TokenType.EQ:
                pname = "@" + c.peek(1).text.lower()
                c.i += 3
            start = c.peek()
            if start is None:
                raise syntax(name)
            depth = 0
            while not c.at_end():
                t = c.peek()
                if t.token_type == TokenType.L_PAREN:
                    depth += 1
                elif t.token_type == TokenType.R_PAREN:
                    depth -= 1
                elif t.token_type == TokenType.COMMA and depth == 0:
                    break
                c.i += 1
            end = c.toks[c.i - 1]
            vtext = c.sql[start.start:end.end + 1].strip()
            if vtext.upper().endswith(" OUTPUT") or vtext.upper().endswith(" OUT"):
                raise unsupported("OUTPUT parameters in EXEC")
            value = _Deferred(vtext)
            if pname:
                args[pname] = value
            else:
                if args:
                    raise SqlError(119, "Must pass parameter number 2 and subsequent parameters as '@name = value'. "
                                   "After the form '@name = value' has been used, all subsequent parameters must "
                                   "be passed in the form '@name = value'.", severity=15)
                positional.append(value)
            if not c.accept_type(TokenType.COMMA):
                break
        if not c.at_end():
            raise syntax(c.peek().text)
        return name, args, positional

    async def _call_proc(self, name: str, args: dict, positional: list) -> AsyncIterator[ResultItem]:
        for k, v in list(args.items()):
            if isinstance(v, _Deferred):
                args[k] = await self._eval_arg(v.text)
        positional = [await self._eval_arg(v.text) if isinstance(v, _Deferred) else v for v in positional]
        proc = self._user_procedure(name)
        if proc is not None:
            async for item in self._run_procedure(proc, args, positional, outputs={}, nested=True):
                yield item
            return
        async for item in procs.call(self, name, args, positional):
            yield item

    # ------------------------------------------------------------------ user procedures
    def _user_procedure(self, name: str) -> dict | None:
        parts = [p.strip().strip("[]\"") for p in name.split(".")]
        if len(parts) == 3:
            if parts[0].lower() != self.db.name.lower():
                return None
            parts = parts[1:]
        schema = parts[0] if len(parts) == 2 else "dbo"
        return getattr(self.db, "procedures", {}).get((schema.lower(), parts[-1].lower()))

    async def _create_procedure(self, sql: str) -> AsyncIterator[ResultItem]:
        m = _PROC_DDL.match(sql)
        verb = " ".join(m.group(1).upper().split())
        rest = sql[m.end():]
        c = Cursor(rest)
        parts = c.qualified()
        if len(parts) > 2:
            raise unsupported("A procedure name with a database part")
        schema = parts[0] if len(parts) == 2 else "dbo"
        pname = parts[-1]
        if schema.lower() not in self.db.schemas:
            raise SqlError(2760, f'The specified schema name "{schema}" either does not exist or you do not '
                           "have permission to use it.")
        # parameters up to AS
        asm = re.search(r"(?is)\bAS\b", rest[c.toks[c.i - 1].end + 1:]) if c.toks else None
        if asm is None:
            raise syntax(pname)
        head = rest[c.toks[c.i - 1].end + 1:][:asm.start()].strip()
        after_as = rest[c.toks[c.i - 1].end + 1:][asm.end():]
        body = after_as.strip()
        # errors in the body report lines counted from the start of the CREATE batch, as SQL Server's do
        body_pos = m.end() + c.toks[c.i - 1].end + 1 + asm.end() + (len(after_as) - len(after_as.lstrip()))
        body_line = sql[:body_pos].count("\n") + 1
        if head.startswith("(") and head.endswith(")"):
            head = head[1:-1]
        if re.search(r"(?i)\bWITH\b", head):
            raise unsupported("CREATE PROCEDURE ... WITH options")
        params = []
        for item in [x for x in re.split(r",(?![^(]*\))", head) if x.strip()]:
            pm = re.match(r"(?is)^\s*(@\w+)\s+(?:AS\s+)?([A-Za-z_][\w ]*?(?:\([^)]*\))?)\s*(?:=\s*(.+?))?"
                          r"\s*(OUTPUT|OUT)?\s*(READONLY)?\s*$", item)
            if not pm or pm.group(5):
                raise syntax(item.strip().split()[0] if item.strip() else pname)
            t = parse_type(pm.group(2).strip(), cast=True)
            params.append({"name": pm.group(1), "type": [t.name, t.length, t.precision, t.scale],
                           "default": pm.group(3), "output": bool(pm.group(4))})
        split_batch(body)  # syntax check now, as SQL Server compiles the body at CREATE
        key = (schema.lower(), pname.lower())
        procs_ = self.db.__dict__.setdefault("procedures", {})
        exists = key in procs_
        if verb == "CREATE" and exists:
            raise SqlError(2714, f"There is already an object named '{pname}' in the database.")
        if verb == "ALTER" and not exists:
            raise SqlError(208, f"Invalid object name '{pname}'.")
        info = {"schema": self.db.schemas[schema.lower()], "name": pname, "params": params, "body": body,
                "body_line": body_line}
        await self._ddl_exec(
            "CREATE TABLE IF NOT EXISTS _mssql.procedures(schema_name text, name text, info jsonb, "
            "PRIMARY KEY (schema_name, name)); "
            f"INSERT INTO _mssql.procedures VALUES ({literal(key[0])}, {literal(key[1])}, {literal(json.dumps(info))}::jsonb) "
            "ON CONFLICT (schema_name, name) DO UPDATE SET info = EXCLUDED.info")
        procs_[key] = info
        yield Done(None)

    async def _run_procedure(self, proc: dict, args: dict, positional: list, outputs: dict,
                             nested: bool = False) -> AsyncIterator[ResultItem]:
        pdefs = proc["params"]
        if len(positional) > len(pdefs):
            raise SqlError(8144, f"Procedure or function {proc['name']} has too many arguments specified.")
        saved_vars, saved_scope = self.variables, self.scope_identity
        # SET TRANSACTION ISOLATION LEVEL in a procedure lasts until it returns (SQL Server docs)
        saved_isolation = self.options.get("ISOLATION")
        self.variables = {}
        self.scope_identity = None
        status = 0
        try:
            given = {}
            for i, v in enumerate(positional):
                given[pdefs[i]["name"].lower()] = v
            names = {d["name"].lower() for d in pdefs}
            for k, v in args.items():
                if k not in names:
                    raise SqlError(8145, f"{k} is not a parameter for procedure {proc['name']}.")
                given[k] = v
            for d in pdefs:
                n, ln, pr, sc = d["type"]
                t = SqlType(n, ln, pr, sc)
                key = d["name"].lower()
                if key in given and given[key] is not procs.DEFAULT:
                    v = given[key]
                elif d["default"] is not None:
                    v = await self._scalar(d["default"], t)
                elif d["output"]:
                    v = None
                else:
                    raise SqlError(201, f"Procedure or function '{proc['name']}' expects parameter "
                                   f"'{d['name']}', which was not supplied.")
                self.variables[key] = (t, v)
            try:
                for node in split_batch(proc["body"]):
                    async for item in self._run_node(node):
                        if isinstance(item, StatementError):
                            _in_procedure(item.error, proc)
                        yield item
            except _Return as r:
                status = r.value
            except SqlError as e:
                _in_procedure(e, proc)
                raise
            values = {d["name"].lower(): self.variables.get(d["name"].lower()) for d in pdefs if d["output"]}
        finally:
            self.variables, self.scope_identity = saved_vars, saved_scope
            if saved_isolation is None:
                self.options.pop("ISOLATION", None)
            else:
                self.options["ISOLATION"] = saved_isolation
        yield ReturnStatus(status)
        for d in pdefs:
            key = d["name"].lower()
            if d["output"] and key in outputs and values.get(key) is not None:
                t, v = values[key]
                yield ReturnValue(Param(outputs[key], t, v, output=True))

    async def _eval_arg(self, text: str) -> Any:
        if text.upper() == "DEFAULT":
            return procs.DEFAULT
        if re.fullmatch(r"(?i)0x[0-9a-f]*", text):
            return bytes.fromhex(text[2:])
        if re.fullmatch(r"[A-Za-z_]\w*", text) and text.upper() not in ("NULL",):
            return text  # T-SQL allows unquoted identifiers as string arguments
        return await self._scalar(text)

    # ------------------------------------------------------------------ errors
    def _map_error(self, e: asyncpg.PostgresError, verb: str) -> SqlError:
        if getattr(e, "sqlstate", None) == "40001":  # could not serialize access
            if self.tx_isolation == "SNAPSHOT":
                m = re.search(r'relation "([^"]+)"', str(e))
                return SqlError(3960, "Snapshot isolation transaction aborted due to update conflict. You cannot "
                                "use snapshot isolation to access table "
                                f"'{m.group(1) if m else '?'}' directly or indirectly in database '{self.db.name}' "
                                "to update, delete, or insert the row that has been modified or deleted by another "
                                "transaction. Retry the transaction or change the isolation level for the "
                                "update/delete statement.")
            return SqlError(1205, "Transaction was deadlocked on lock resources with another process and has been "
                            "chosen as the deadlock victim. Rerun the transaction.", severity=13)
        return map_pg_error(e, verb, self.db)


def _touches_database(e: exp.Expression) -> bool:
    """Whether a query reads the database (a table, a view, a CDC function), as opposed to e.g.
    SELECT @@TRANCOUNT: only the former is a snapshot transaction's access to the database."""
    for t in e.find_all(exp.Table):
        schema = t.args.get("db")
        schema = schema.name.lower() if isinstance(schema, exp.Identifier) else ""
        if schema not in ("sys", "information_schema") or "fn_cdc" in t.name.lower():
            return True  # catalog views are metadata, which snapshot isolation does not version
    return any("fn_cdc" in a.name.lower() for a in e.find_all(exp.Anonymous)) or \
        any("fn_cdc" in d.sql().lower() for d in e.find_all(exp.Dot))


def _in_procedure(e: SqlError, proc: dict) -> None:
    """An error raised in a procedure's body: its name and the line within its CREATE batch."""
    if getattr(e, "_proc_set", False):
        return  # a nested procedure's
    e._proc_set = True
    e.procedure = proc["name"]
    e.line = max(e.line, 1) + proc.get("body_line", 1) - 1


def _alter_failed() -> SqlError:
    return SqlError(5069, "ALTER DATABASE statement failed.")


class _Deferred:
    def __init__(self, text: str) -> None:
        self.text = text


class _BatchStop(Exception):
    pass


class _Return(Exception):
    def __init__(self, value: int) -> None:
        super().__init__(value)
        self.value = int(value)


_PROC_DDL = re.compile(r"(?is)^\s*(?:(?:--[^\n]*(?:\n|$)|/\*.*?\*/)\s*)*(CREATE\s+OR\s+ALTER|CREATE|ALTER)\s+PROC(?:EDURE)?\b")


_KNOWN_FIRST = {"SELECT", "INSERT", "UPDATE", "DELETE", "MERGE", "CREATE", "ALTER", "DROP", "TRUNCATE", "RETURN", "WAITFOR",
                "BEGIN", "COMMIT", "ROLLBACK", "SAVE", "SET", "DECLARE", "EXEC", "EXECUTE", "USE", "PRINT",
                "WITH", "WITH SELECT", "WITH INSERT", "WITH UPDATE", "WITH DELETE", "WITH MERGE"}


_PG_CATEGORY = {"int2": "int", "int4": "int", "int8": "int", "numeric": "num", "float4": "float",
                "float8": "float", "text": "str", "varchar": "str", "bpchar": "str", "name": "str",
                "bytea": "bin", "date": "date", "time": "time", "timestamp": "ts", "timestamptz": "tstz", "dto": "tstz",
                "uuid": "uuid", "bool": "bool"}


def _category(name: str) -> str:
    if name in ("bit", "tinyint", "smallint", "int", "bigint"):
        return "int"
    if name in ("decimal", "numeric", "money", "smallmoney"):
        return "num"
    if name in ("real", "float"):
        return "float"
    if name in ("char", "varchar", "nchar", "nvarchar"):
        return "str"
    if name in ("binary", "varbinary"):
        return "bin"
    if name in ("datetime", "datetime2", "smalldatetime"):
        return "ts"
    return {"date": "date", "time": "time", "datetimeoffset": "tstz", "uniqueidentifier": "uuid"}.get(name, "other")


def _seq_name(t: TableInfo, c: ColumnInfo) -> str:
    return f"pg_get_serial_sequence('{t.pg_name}', '{c.pg}')::regclass"


def _fix_real(text: str) -> str:
    """sqlglot reads REAL as FLOAT(53); spell it float(24) (the same type in SQL Server)."""
    return re.sub(r"(?i)(?<![\w\[\"@.])real(?![\w\]\"])", "float(24)", text)


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
