"""DML of a session: INSERT, UPDATE, DELETE (with FROM joins and OUTPUT) and MERGE (TEST FIXTURE)."""

from __future__ import annotations

import logging
import re
from typing import AsyncIterator

import asyncpg
from sqlglot import exp

from ..api import Column, Done, ResultItem, ResultSet, SqlError, SqlType
from .catalog import ColumnInfo, TableInfo
from .ddl import syntax
from .pgsql import qi
from .query import FOR_JSON_COLUMN, convert_row, converter, touches_database
from .scope import Output
from .translate import Translator, coerce_sql
from .types import unsupported

log = logging.getLogger("mssql_emulator.engine")


class DmlMixin:
    """The statements that read or write rows: the SELECT/INSERT/UPDATE/DELETE/MERGE dispatch and the writes."""

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
            pg_sql, args = tr.bind_statement(pg_sql)
            async for item in self._query(pg_sql, outputs, touches=touches_database(e), args=args):
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
            pg_sql, args = tr.bind_statement(tr.generate(tr.translate_expr(e)))
            async for item in self._query(pg_sql, outputs, touches=touches_database(e), args=args):
                yield item
            return
        write = (self._insert if isinstance(e, exp.Insert) else
                 self._update_delete if isinstance(e, (exp.Update, exp.Delete)) else
                 self._merge if isinstance(e, exp.Merge) else None)
        if write is None:
            raise unsupported(f"The statement '{text[:60]}'")
        async for item in write(e, tr):
            yield item

    async def _run_write(self, pg_sql: str, verb: str, returning: bool = False, args: list | None = None):
        """Run a write statement in its statement scope (args: its bound parameters); returns (rowcount, rows)."""
        args = args or []
        conn = await self.conn()
        sp = await self._statement_scope(conn)
        self._running_pid = conn.get_server_pid()
        log.debug("pg write: %s", pg_sql)
        try:
            if returning:
                rows = await conn.fetch(pg_sql, *args)
                n = len(rows)
            else:
                status = await conn.execute(pg_sql, *args)
                rows = []
                n = int(status.split()[-1]) if status and status.split()[-1].isdigit() else 0
        except asyncpg.PostgresError as ex:
            await self._statement_failed(conn, sp)
            raise self.map_error(ex, verb)
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
        names = [c.name for c in schema_node.expressions] if schema_node is not None else []
        cols = _insert_columns(target, names)
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
        sql, args = tr.bind_statement(sql)
        n, rows = await self._run_write(sql, "INSERT", returning=bool(returning), args=args)
        if ident is not None and rows:
            self.scope_identity = self.identity = rows[-1][0]
            if explicit_identity:
                conn = await self.conn()
                await conn.execute("SELECT _mssql.reseed($1, $2)", target.pg_name, ident.pg)
        self.rowcount = n
        if outs is not None:
            off = 1 if ident is not None else 0
            rcols = [Column(o.name, o.type) for o in outs]
            conv = [converter(o.type) for o in outs]
            yield ResultSet(rcols, [convert_row(tuple(r)[off:], conv) for r in rows])
        yield Done(None if self.options.get("NOCOUNT") == "ON" else n)

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
        sql, args = tr.bind_statement(sql)
        n, rows = await self._run_write(sql, verb, returning=bool(out_items), args=args)
        self.rowcount = n
        if outs is not None:
            conv = [converter(o.type) for o in outs]
            yield ResultSet([Column(o.name, o.type) for o in outs], [convert_row(r, conv) for r in rows])
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
                cols = _insert_columns(target, names)
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
        sql, args = tr.bind_statement(sql)
        n, _ = await self._run_write(sql, "MERGE", args=args)
        self.rowcount = n
        yield Done(None if self.options.get("NOCOUNT") == "ON" else n)


def _insert_columns(target: TableInfo, names: list[str]) -> list[ColumnInfo]:
    """The columns an INSERT names (all but the identity column when it names none)."""
    if not names:
        return [c for c in target.columns if not c.identity]
    cols = []
    for n in names:
        c = target.column(n)
        if c is None:
            raise SqlError(207, f"Invalid column name '{n}'.")
        cols.append(c)
    return cols
