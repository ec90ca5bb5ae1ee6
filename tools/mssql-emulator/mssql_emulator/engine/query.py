"""Queries of a session: result sets streamed from Postgres cursors with SQL Server column types,
and rows converted to the values the wire layer sends (TEST FIXTURE)."""

from __future__ import annotations

import datetime as dt
import decimal
import logging
import uuid
from typing import AsyncIterator

import asyncpg
from sqlglot import exp

from ..api import Column, Done, ResultItem, ResultSet, SqlError, SqlType
from .scope import Output
from .translate import Translator
from .types import PG_FALLBACK

log = logging.getLogger("mssql_emulator.engine")


CHUNK = 500


FOR_JSON_COLUMN = "JSON_F52E2B61-18A1-11d1-B105-00805F49916B"  # SQL Server's name for FOR JSON output


def convert_row(row, conv):
    if conv is None:
        return tuple(row)
    return tuple(f(v) if f is not None and v is not None else v for v, f in zip(row, conv))


def converter(t: SqlType):
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


def touches_database(e: exp.Expression) -> bool:
    """Whether a query reads the database (a table, a view, a CDC function), as opposed to e.g.
    SELECT @@TRANCOUNT: only the former is a snapshot transaction's access to the database."""
    for t in e.find_all(exp.Table):
        schema = t.args.get("db")
        schema = schema.name.lower() if isinstance(schema, exp.Identifier) else ""
        if schema not in ("sys", "information_schema") or "fn_cdc" in t.name.lower():
            return True  # catalog views are metadata, which snapshot isolation does not version
    return any("fn_cdc" in a.name.lower() for a in e.find_all(exp.Anonymous)) or \
        any("fn_cdc" in d.sql().lower() for d in e.find_all(exp.Dot))


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


class QueryMixin:
    """SELECT (incl. SELECT @var = …) run in the statement's scope, rows streamed 500 at a time."""

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
        pg_sql, args = tr.bind_statement(tr.generate(tr.translate_expr(sel)))
        conn = await self.conn()
        sp = await self._statement_scope(conn, touches_database(e))
        try:
            rows = await conn.fetch(pg_sql, *args)
        except asyncpg.PostgresError as ex:
            await self._statement_failed(conn, sp)
            raise self.map_error(ex, "SELECT")
        await self._statement_ok(conn, sp, readonly=True)
        if rows:
            last = rows[-1]
            for i, name in enumerate(targets):
                t, _ = self.variables[name]
                v = last[i]
                f = converter(t)
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
            conv.append(converter(t))
        return cols, (conv if any(f is not None for f in conv) else None)

    async def _query(self, pg_sql: str, outputs: list[Output] | None,
                     touches: bool = True, args: list | None = None) -> AsyncIterator[ResultItem]:
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
                    cur = await stmt.cursor(*(args or []))
                    first = await cur.fetch(CHUNK)
            except asyncpg.PostgresError as ex:
                await self._statement_failed(conn, sp)
                finished = True
                raise self.map_error(ex, "SELECT")
            state = {"count": 0, "error": None}

            async def rows():
                batch = first
                while True:
                    for r in batch:
                        state["count"] += 1
                        yield convert_row(r, conv)
                    if len(batch) < CHUNK or cur is None:
                        return
                    if self._cancelled:
                        return
                    try:
                        batch = await cur.fetch(CHUNK)
                    except asyncpg.PostgresError as ex:
                        state["error"] = self.map_error(ex, "SELECT")
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
