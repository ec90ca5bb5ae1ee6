"""SET options, DECLARE'd variables, scalar expressions and USE of a session (TEST FIXTURE)."""

from __future__ import annotations

import re
from typing import Any, AsyncIterator

import asyncpg
import sqlglot
from sqlglot.errors import ParseError, TokenError

from ..api import Done, EnvChange, Message, ResultItem, SqlError, SqlType
from .ddl import syntax
from .query import converter, touches_database
from .transactions import PG_ISOLATION
from .types import parse_type, pg_type, unsupported


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


class SettingsMixin:
    """SET, DECLARE, USE and scalar evaluation (options, variables, the current database)."""

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
        if touches_database(e):
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
            raise self.map_error(ex, "SELECT")
        if t is not None and v is not None:
            f = converter(t)
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
