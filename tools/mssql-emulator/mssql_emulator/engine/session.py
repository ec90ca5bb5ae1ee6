"""EngineSession: one client connection's state and its batches' control flow (TEST FIXTURE).

What a statement does lives beside it, one concern per module: transactions.py (BEGIN/COMMIT/…, the
statement scope), settings.py (SET, DECLARE, USE), query.py (SELECT), dml.py (INSERT/UPDATE/DELETE/
MERGE), ddl_exec.py (CREATE/ALTER/DROP, next to the parser ddl.py), databases.py (ALTER DATABASE,
KILL), procedures.py (EXEC, user procedures), procs.py (system procedures, through this class's public
methods only), errors.py (Postgres errors as SQL Server's).
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any, AsyncIterator

import asyncpg
import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from ..api import Done, EnvChange, Message, Param, ResultItem, ReturnValue, SqlError, SqlType, StatementError
from .catalog import Database
from .databases import DatabaseOptionsMixin
from .ddl import syntax
from .ddl_exec import DdlMixin
from .dml import DmlMixin
from .errors import BATCH_ABORT_ROLLBACK, STATEMENT_LEVEL, sql_server_error
from .flow import BatchReturn, BatchStop
from .procedures import PROC_DDL, ProceduresMixin
from .query import QueryMixin
from .settings import SettingsMixin
from .splitter import _STARTERS as _SPLIT_STARTERS
from .splitter import Block, IfNode, Stmt, split_batch
from .transactions import TransactionsMixin
from .scope import Context
from .translate import Translator
from .types import fix_real, unsupported

log = logging.getLogger("mssql_emulator.engine")


class EngineSession(TransactionsMixin, SettingsMixin, QueryMixin, DmlMixin, DdlMixin, DatabaseOptionsMixin,
                    ProceduresMixin):
    """One client connection: its databases' Postgres connections, transaction, options and variables.

    The wire layer calls execute, call, cancel and close. System procedures (procs.py, cdc_procs.py) use
    only the public part: conn, execute, execute_ddl, system_transaction, create_table, map_error and the
    state attributes (db, server, login, trancount, variables)."""

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
        self._opening_sp = False  # while that savepoint is being created
        self.tx_isolation: str | None = None  # the SQL Server isolation level the open transaction began with
        self.on_kill = None  # set by the wire layer: closes the client connection (KILL, ROLLBACK IMMEDIATE)

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
            await self.server.cancel_backend(pid)
        await self._recover_after_cancel()

    async def _recover_after_cancel(self) -> None:
        """After ATTENTION, before it is acknowledged: the cancelled statement is rolled back (its
        savepoint, or its own transaction) once its Postgres connection is idle again, so the next
        request finds the session as SQL Server leaves it (an open user transaction stays open).
        While the connection stays busy the cancel is sent again every 0.1 s: Postgres drops a cancel
        that reaches a backend between two protocol messages (after a statement's parse, before its
        execution), and ATTENTION stops a request whatever phase it is in."""
        await asyncio.sleep(0.02)  # let the cancelled statement's generators finish their cleanup
        db = self.tx_db or self.db
        c = self.conns.get(db.pg_name)
        if c is None or c.is_closed():
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        resend = loop.time() + 0.1
        sp = self._open_sp
        while True:
            try:
                if self.trancount == 0:
                    if c.is_in_transaction():
                        await c.execute("ROLLBACK")
                    else:
                        await c.execute("SELECT 1")  # waits for nothing but proves the connection idle
                elif sp is not None and self._open_sp == sp:
                    # Claimed: the statement's own cleanup (_statement_failed) now leaves the savepoint
                    # alone. Rolled back twice, the second ROLLBACK TO SAVEPOINT fails and aborts the
                    # user transaction.
                    self._open_sp = None
                    try:
                        await c.execute(f"ROLLBACK TO SAVEPOINT {sp}; RELEASE SAVEPOINT {sp}")
                    except asyncpg.InterfaceError:
                        self._open_sp = sp  # still busy: not claimed after all
                        raise
                else:
                    await c.execute("SELECT 1")  # the statement rolled its savepoint back itself
                break
            except asyncpg.InterfaceError:
                if loop.time() >= deadline:
                    # still busy: give the connection up (Postgres rolls its transaction back)
                    c.terminate()
                    self.conns.pop(db.pg_name, None)
                    self.trancount, self.tx_db, self.savepoints = 0, None, []
                    break
                if loop.time() >= resend and not self._opening_sp:
                    resend = loop.time() + 0.1
                    await self.server.cancel_backend(c.get_server_pid())
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
        if PROC_DDL.match(sql):
            async for item in self._create_procedure(sql):
                yield item
            return
        nodes = split_batch(sql)
        try:
            for node in nodes:
                async for item in self._run_node(node):
                    yield item
        except BatchReturn:
            pass
        except BatchStop:
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

    async def _run_node(self, node) -> AsyncIterator[ResultItem]:
        if self._cancelled:
            raise BatchStop()
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
        sql, args = tr.bind_statement(tr.generate(tr.translate_expr(e)))
        conn = await self.conn()
        try:
            v = await conn.fetchval(sql, *args)
        except asyncpg.PostgresError as ex:
            raise self.map_error(ex, "SELECT")
        return v == 1

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
                    raise BatchStop()
                yield Done(None)
                return
            if first == "RETURN":
                rest = text.strip().rstrip(";")[len("RETURN"):].strip()
                value = await self._scalar(rest, SqlType("int")) if rest else 0
                raise BatchReturn(value if value is not None else 0)
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
                    raise BatchStop()
                yield Done(None)
                return
            if e.number in BATCH_ABORT_ROLLBACK and self.trancount > 0:
                desc = self._tx_descriptor()
                await self._rollback_all()
                yield EnvChange("rollback_tran", b"", desc)
            raise

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
        text = fix_real(text)
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

    def map_error(self, e: asyncpg.PostgresError, verb: str) -> SqlError:
        """A Postgres error raised by this session's statement, as SQL Server's error."""
        return sql_server_error(e, verb, self.db, self.tx_isolation)


_KNOWN_FIRST = {"SELECT", "INSERT", "UPDATE", "DELETE", "MERGE", "CREATE", "ALTER", "DROP", "TRUNCATE", "RETURN", "WAITFOR",
                "BEGIN", "COMMIT", "ROLLBACK", "SAVE", "SET", "DECLARE", "EXEC", "EXECUTE", "USE", "PRINT",
                "WITH", "WITH SELECT", "WITH INSERT", "WITH UPDATE", "WITH DELETE", "WITH MERGE"}
