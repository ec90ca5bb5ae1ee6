"""DDL execution of a session (the statements ddl.py parses): databases, schemas, tables, indexes,
DROP PROCEDURE; every catalog change runs as one statement of the session (TEST FIXTURE)."""

from __future__ import annotations

import re
import uuid
from typing import AsyncIterator

import asyncpg
import sqlglot
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokens import TokenType

from ..api import Done, ResultItem, SqlError
from . import cdc_procs
from .catalog import ColumnInfo, TableInfo
from .ddl import Constraint, Cursor, parse_table_item, syntax
from .errors import refresh_constraints
from .pgsql import literal, qi
from .scope import Source
from .translate import Translator
from .types import fix_real, is_string, parse_type, pg_type, unsupported


class DdlMixin:
    """CREATE/ALTER/DROP/TRUNCATE, and execute_ddl: Postgres SQL run as one statement of the session."""

    async def _ddl(self, text: str) -> AsyncIterator[ResultItem]:
        c = Cursor(fix_real(text))
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
            if_exists = c.accept_if_exists()
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
            await self.execute_ddl(f"TRUNCATE TABLE {t.pg_name}")
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
                await self.execute_ddl(f"CREATE SCHEMA {qi(name)}; INSERT INTO _mssql.schemas VALUES ({literal(name.lower())}, {literal(name)})")
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
                if_exists = c.accept_if_exists()
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
                    await cdc_procs.drop_capture_instances_of(self, t)
                    await self.execute_ddl(f"DROP TABLE {t.pg_name}; DELETE FROM _mssql.tables WHERE schema_name = "
                                         f"{literal(t.key[0])} AND table_name = {literal(t.key[1])}")
                    self.db.tables.pop(t.key, None)
                yield Done(None)
                return
            if verb == "DROP" and obj in ("PROCEDURE", "PROC"):
                c.i += 1
                if_exists = c.accept_if_exists()
                parts = c.qualified()
                key = ((parts[-2] if len(parts) > 1 else "dbo").lower(), parts[-1].lower())
                procs_ = self.db.__dict__.setdefault("procedures", {})
                if key not in procs_:
                    if if_exists:
                        yield Done(None)
                        return
                    raise SqlError(3701, f"Cannot drop the procedure '{'.'.join(parts)}', because it does not "
                                   "exist or you do not have permission.", severity=11)
                await self.execute_ddl(f"DELETE FROM _mssql.procedures WHERE schema_name = {literal(key[0])} "
                                     f"AND name = {literal(key[1])}")
                del procs_[key]
                yield Done(None)
                return
            if verb == "DROP" and obj == "INDEX":
                c.i += 1
                name = c.name()
                c.expect("ON")
                t = self._table_from_parts(c.qualified())
                await self.execute_ddl(f"DROP INDEX {qi(t.schema)}.\"{name}\"")
                yield Done(None)
                return
            if verb == "DROP" and obj == "SCHEMA":
                c.i += 1
                name = c.name()
                if name.lower() not in self.db.schemas:
                    raise SqlError(3701, f"Cannot drop the schema '{name}', because it does not exist or you "
                                   "do not have permission.", severity=11)
                await self.execute_ddl(f"DROP SCHEMA {qi(name)}; DELETE FROM _mssql.schemas WHERE name = {literal(name.lower())}")
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

    async def execute_ddl(self, pg_sql: str) -> None:
        conn = await self.conn()
        sp = await self._statement_scope(conn)
        try:
            await conn.execute(pg_sql)
        except asyncpg.PostgresError as ex:
            await self._statement_failed(conn, sp)
            raise self.map_error(ex, "DDL")
        except BaseException:
            await self._statement_failed(conn, sp)
            raise
        await self._statement_ok(conn, sp)
        if self.trancount > 0:
            self.tx_ddl = True
        await refresh_constraints(self.db, conn)

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
        await self.execute_ddl(
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
        await self.execute_ddl(f'CREATE {"UNIQUE " if unique else ""}INDEX "{name}" ON {t.pg_name} ({cols_sql}){include}{where}')

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
            stmts.extend(cdc_procs.ddl_history_sql(self, t, text.strip()))
        await self.execute_ddl("; ".join(stmts))
        t.columns = work.columns
        t.next_column_id = work.next_column_id
        yield Done(None)
