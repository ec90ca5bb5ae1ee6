"""T-SQL expressions and queries translated onto Postgres (TEST FIXTURE).

The batch is parsed with sqlglot's T-SQL dialect; this module owns the translation: every table and
column name is resolved against the emulated catalog (case-insensitively, as SQL Server's default
collation does) and written as a lower-case quoted Postgres identifier, variables and parameters are
inlined as literals (so Postgres resolves their types the way SQL Server converts them implicitly;
OPENJSON's JSON text is the exception: bound as a Postgres parameter, see `bind`),
and T-SQL functions are mapped one by one. Anything not known to be translated correctly fails with
a clear "not supported by the SQL Server emulator" error.
"""

from __future__ import annotations

import re
import uuid

from sqlglot import exp
from sqlglot.errors import ErrorLevel, UnsupportedError

from ..api import SqlError, SqlType
from .catalog import ColumnInfo, TableInfo, virtual_catalog_table, virtual_rows
from .cdc import CDC_FUNCS, change_function_sql, change_function_table
from .expr_types import ExpressionTypesMixin
from .for_json import ForJsonMixin
from .functions import CONVERT_STYLES, DATEPARTS, FunctionsMixin, _replace_ci
from .openjson import OpenJsonMixin
from .pgsql import literal, qi, raw
from .scope import Context, Source, ident_name
from .types import is_string, pg_type, unsupported


# Table hints SQL Server documents; accepted and ignored (Postgres' MVCC already gives the
# statement-level consistency these ask for).
TABLE_HINTS = {"NOLOCK", "HOLDLOCK", "UPDLOCK", "ROWLOCK", "PAGLOCK", "TABLOCK", "TABLOCKX",
               "READUNCOMMITTED", "READCOMMITTED", "REPEATABLEREAD", "SERIALIZABLE", "READPAST",
               "XLOCK", "NOWAIT", "READCOMMITTEDLOCK", "FORCESEEK", "FORCESCAN", "NOEXPAND"}


class Translator(ExpressionTypesMixin, FunctionsMixin, ForJsonMixin, OpenJsonMixin):
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.ctes: set[str] = set()
        self.sources: list[Source] = []
        self.binds: list = []  # values bound as Postgres parameters (OPENJSON's JSON text), by first use
        self._bind_names: dict[str, int] = {}
        self._bind_tag = uuid.uuid4().hex[:12]

    def bind(self, name: str, value) -> str:
        """A placeholder for a value bound as a Postgres parameter (numbered by bind_statement)."""
        if name not in self._bind_names:
            self._bind_names[name] = len(self.binds)
            self.binds.append(value)
        return f"$__b{self._bind_tag}_{self._bind_names[name]}__"

    def bind_statement(self, sql: str) -> tuple[str, list]:
        """The statement's SQL with its placeholders numbered $1, $2, … and the values to bind."""
        if not self.binds:
            return sql, []
        order: dict[int, int] = {}

        def number(m: re.Match) -> str:
            k = int(m.group(1))
            order.setdefault(k, len(order) + 1)
            return f"${order[k]}"

        sql = re.sub(rf"\$__b{self._bind_tag}_(\d+)__", number, sql)
        return sql, [self.binds[k] for k in sorted(order, key=order.get)]

    def resolve_table(self, schema: str | None, name: str, *, must_exist: bool = True,
                      display: str | None = None) -> TableInfo | None:
        t = self.ctx.db.table(schema, name)
        if t is None and must_exist:
            raise SqlError(208, f"Invalid object name '{display or name}'.")
        return t

    def _table_display(self, node: exp.Table) -> str:
        parts = [p for p in (ident_name(node.args.get("catalog")), ident_name(node.args.get("db")),
                             ident_name(node.this) if isinstance(node.this, exp.Identifier) else node.name) if p]
        return ".".join(parts)

    def _check_catalog(self, node: exp.Table) -> None:
        cat = ident_name(node.args.get("catalog"))
        if cat and cat.lower() != self.ctx.db.name.lower():
            if self.ctx.database_lookup(cat) is None:
                raise SqlError(911, f"Database '{cat}' does not exist. Make sure that the name is "
                               "entered correctly.")
            raise unsupported("A reference to another database (three-part name)")

    def collect_sources(self, root: exp.Expression) -> list[Source]:
        """Every table reference in the statement, with its alias (for column resolution/typing)."""
        out: list[Source] = []
        for node in root.find_all(exp.Table):
            alias = node.alias or (node.name if isinstance(node.this, exp.Identifier) else "")
            if isinstance(node.this, exp.OpenJSON):
                out.append(self.openjson_source(node))
                continue
            if isinstance(node.this, exp.Anonymous):
                vt = change_function_table(self.ctx.db, ident_name(node.args.get("db")).lower(), node.this.name.lower())
                if vt is not None:
                    out.append(Source((node.alias or node.this.name).lower(), vt.columns, vt))
                continue
            schema = ident_name(node.args.get("db")) or None
            if not schema and node.name.lower() in self.ctes:
                continue
            t = self.ctx.db.table(schema, node.name)
            if t is None:
                vt = virtual_catalog_table(schema, node.name)
                if vt is not None:
                    out.append(Source(alias.lower(), vt.columns, vt))
                continue
            out.append(Source(alias.lower(), t.columns, t))
        # derived tables and CTEs: their projections, typed against the sources found so far
        self.sources = out
        for node in list(root.find_all(exp.Subquery)) + list(root.find_all(exp.CTE)):
            inner = node.this
            alias = node.alias
            if not alias or not isinstance(inner, exp.Select):
                continue
            try:
                outs = self.outputs_for(inner.expressions)
            except SqlError:
                outs = None
            if not outs:
                continue
            names = [c.name for c in node.args["alias"].columns] if node.args.get("alias") is not None and \
                node.args["alias"].columns else None
            cols = []
            for i, o in enumerate(outs):
                name = names[i] if names and i < len(names) else o.name
                if name and o.type is not None:
                    cols.append(ColumnInfo(name, o.type, o.nullable, o.identity, i + 1))
            out.append(Source(alias.lower(), cols, None))
        return out

    def find_column(self, name: str, qualifier: str | None) -> ColumnInfo | None:
        low = name.lower()
        for s in self.sources:
            if qualifier and s.alias != qualifier.lower() and not (
                    s.table and s.table.name.lower() == qualifier.lower()):
                continue
            for c in s.columns:
                if c.pg == low:
                    return c
        return None

    def translate_expr(self, root: exp.Expression) -> exp.Expression:
        return root.transform(self._node, copy=True)

    def _node(self, n: exp.Expression) -> exp.Expression:  # noqa: C901 - a dispatch table
        if isinstance(n, exp.Command):
            raise unsupported(f"The statement '{n.sql(dialect='tsql')[:60]}'")
        if isinstance(n, exp.With):
            for cte in n.expressions:
                self.ctes.add(cte.alias.lower())
            return n
        if isinstance(n, exp.Table):
            return self._table(n)
        if isinstance(n, exp.Column):
            parts = [p for p in n.parts]
            if isinstance(n.this, exp.Star):
                q = [qi(ident_name(p)) for p in parts[:-1]] if len(parts) > 1 else []
                tbl = n.args.get("table")
                return raw(".".join([qi(ident_name(tbl))] + ["*"])) if tbl is not None else n
            if len(parts) == 1 and parts[0].name.upper() == "DEFAULT" and not parts[0].quoted:
                return raw("DEFAULT")
            if len(parts) == 1 and parts[0].name.lower() == "0x":
                return raw("'\\x'::bytea")  # the empty binary literal
            return raw(".".join(qi(ident_name(p)) for p in parts))
        if isinstance(n, exp.TableAlias):
            cols = [raw(qi(c.name)) for c in n.columns] if n.columns else None
            return raw(qi(n.name) + (f"({', '.join(c.this for c in cols)})" if cols else ""))
        if isinstance(n, exp.Alias):
            n.set("alias", exp.Identifier(this=n.alias.lower(), quoted=True))
            return n
        if isinstance(n, exp.Identifier):
            return exp.Identifier(this=n.this.lower(), quoted=True)
        if isinstance(n, exp.Parameter):
            return raw(self._parameter(n))
        if isinstance(n, exp.National):
            return exp.Literal.string(n.this)
        if isinstance(n, exp.HexString):
            return raw(f"'\\x{n.this}'::bytea")
        if isinstance(n, exp.Pivot):
            raise unsupported("PIVOT / UNPIVOT")
        if isinstance(n, exp.OpenJSON):  # as a table source it is translated by _table
            raise unsupported("OPENJSON outside FROM, JOIN and MERGE ... USING (CROSS/OUTER APPLY)")
        if isinstance(n, exp.NextValueFor):
            raise unsupported("Sequences (NEXT VALUE FOR)")
        if isinstance(n, (exp.NumberToStr, exp.TimeToStr)) and not isinstance(n.parent, exp.Cast):
            raise unsupported("FORMAT()")
        if isinstance(n, exp.Limit) and n.args.get("limit_options") is not None and (
                n.args["limit_options"].args.get("percent") or n.args["limit_options"].args.get("with_ties")):
            raise unsupported("TOP ... PERCENT / WITH TIES")
        if isinstance(n, exp.Convert):
            if n.args.get("safe"):
                raise unsupported("TRY_CONVERT")
            style = n.args.get("style")
            as_cast = exp.Cast(this=n.expression, to=n.this)
            if style is None:
                return self._node(as_cast)
            t = self.cast_type(n.this)
            src = self.type_of(n.expression)
            code = int(style.name) if style.is_int else -1
            inner = self.translate_expr(n.expression).sql(dialect="postgres")
            if is_string(t) and src is not None and src.name in ("date", "datetime", "datetime2", "smalldatetime",
                                                                   "datetimeoffset", "time") and code in CONVERT_STYLES:
                return raw(f"CAST(to_char({inner}, '{CONVERT_STYLES[code]}') AS {pg_type(t)})")
            if t.name in ("date", "datetime", "datetime2", "smalldatetime") and code in (20, 21, 23, 120, 121, 126, 127):
                return self._node(as_cast)
            if t.name in ("binary", "varbinary") and code in (1, 2) and (src is None or is_string(src)):
                # binary styles: hexadecimal digits, with (1) or without (2) the 0x prefix; right-truncated
                # to the type's length, a fixed-length binary padded with zeros
                hexdigits = f"substr(CAST({inner} AS text), 3)" if code == 1 else f"CAST({inner} AS text)"
                value = f"decode({hexdigits}, 'hex')"
                if t.length is not None and t.length > 0:
                    if t.name == "binary":
                        value = f"substring({value} || '\\x{'00' * t.length}'::bytea FROM 1 FOR {t.length})"
                    else:
                        value = f"substring({value} FROM 1 FOR {t.length})"
                return raw(value)
            raise unsupported(f"CONVERT style {style.name} for this conversion")
        if isinstance(n, exp.DateFromParts):
            parts = [self.translate_expr(n.args.get(k)).sql(dialect="postgres") for k in ("year", "month", "day")]
            return raw(f"make_date({', '.join(parts)})")
        if isinstance(n, exp.TryCast) or (isinstance(n, exp.Cast) and n.args.get("safe")):
            raise unsupported("TRY_CAST / TRY_CONVERT")
        if isinstance(n, exp.Cast):
            t = self.cast_type(n.to)
            if n.args.get("format") is not None or n.args.get("style") is not None:
                raise unsupported("CONVERT with a style argument")
            inner = self.translate_expr(n.this).sql(dialect="postgres")
            src = self.type_of(n.this)
            if t.name == "datetimeoffset":
                if isinstance(n.this, exp.Null):
                    return raw("CAST(NULL AS _mssql.dto)")
                return raw(f"_mssql.to_dto({inner})")
            if src is not None and src.name == "datetimeoffset":
                if t.name in ("date", "time", "datetime", "datetime2", "smalldatetime"):
                    return raw(f"CAST(_mssql.dto_local({inner}) AS {pg_type(t)})")
                if is_string(t):
                    return raw(f"CAST(_mssql.dto_text({inner}) AS {pg_type(t)})")
            if t.name == "bit":
                return raw(f"(CASE WHEN ({inner}) IS NULL THEN NULL WHEN CAST({inner} AS numeric) <> 0 THEN 1 ELSE 0 END)::smallint")
            if is_string(t) and self.type_of(n.this) is not None and self.type_of(n.this).name in ("datetime", "datetime2", "date"):
                return raw(f"CAST(to_char({inner}, 'YYYY-MM-DD HH24:MI:SS') AS {pg_type(t)})")
            return raw(f"CAST({inner} AS {pg_type(t)})")
        if isinstance(n, exp.TryCast):
            raise unsupported("TRY_CAST / TRY_CONVERT")
        if isinstance(n, exp.Escape) and isinstance(n.this, exp.Like):
            return raw(self._like(n.this, self.translate_expr(n.expression).sql(dialect="postgres")))
        if isinstance(n, exp.Like):
            return raw(self._like(n, None))
        if isinstance(n, exp.Replace):
            a = [self.translate_expr(x).sql(dialect="postgres")
                 for x in (n.this, n.expression, n.args.get("replacement"))]
            return raw(_replace_ci(*a))
        if isinstance(n, exp.Stuff):
            raise unsupported("STUFF()")
        if isinstance(n, exp.StrPosition):
            # CHARINDEX(needle, haystack[, start]); Postgres refuses substring searches under the
            # case-insensitive (nondeterministic) collation, so search lower-cased text
            hay = self.translate_expr(n.this).sql(dialect="postgres")
            needle = self.translate_expr(n.args["substr"]).sql(dialect="postgres")
            start = n.args.get("position")
            if start is not None:
                st = self.translate_expr(start).sql(dialect="postgres")
                return raw(f"(CASE WHEN strpos(substr(lower(CAST({hay} AS text)) COLLATE \"default\", greatest({st}, 1)), "
                           f"lower(CAST({needle} AS text)) COLLATE \"default\") = 0 THEN 0 ELSE strpos(substr(lower(CAST({hay} AS text)) "
                           f"COLLATE \"default\", greatest({st}, 1)), lower(CAST({needle} AS text)) COLLATE \"default\") + greatest({st}, 1) - 1 END)")
            return raw(f"strpos(lower(CAST({hay} AS text)) COLLATE \"default\", lower(CAST({needle} AS text)) COLLATE \"default\")")
        if isinstance(n, exp.Add):
            a, b = self.type_of(n.this), self.type_of(n.expression)
            if (a and is_string(a)) or (b and is_string(b)) or (
                    isinstance(n.this, (exp.Literal, exp.National)) and n.this.is_string) or (
                    isinstance(n.expression, (exp.Literal, exp.National)) and n.expression.is_string):
                left = self.translate_expr(n.this).sql(dialect="postgres")
                right = self.translate_expr(n.expression).sql(dialect="postgres")
                return raw(f"(CAST({left} AS text) || CAST({right} AS text))")
            return n
        if isinstance(n, exp.Extract):
            return raw(self._datepart(n))
        if isinstance(n, (exp.Year, exp.Month, exp.Day)):
            part = type(n).__name__.lower()
            inner = self.translate_expr(n.this).sql(dialect="postgres")
            return raw(f"CAST(extract({part} FROM CAST({inner} AS timestamp)) AS integer)")
        if isinstance(n, exp.CurrentTimestampLTZ):
            return raw("_mssql.to_dto(statement_timestamp())")
        if isinstance(n, exp.CurrentTimestamp):
            return raw("_mssql.dt(CAST(statement_timestamp() AS timestamp))")
        if isinstance(n, exp.Uuid):
            return raw("gen_random_uuid()")
        if isinstance(n, exp.Subquery) and isinstance(n.this, exp.Select) and n.this.args.get("for_"):
            return raw(f"({self.for_json_sql(n.this)})")
        if isinstance(n, (exp.MD5, exp.SHA, exp.SHA2)):
            return raw(self._hashbytes(n))
        if isinstance(n, exp.ObjectId):
            other = self._object_id_elsewhere(n.this)
            if other is not None:
                return raw(other)
            arg = self.translate_expr(n.this).sql(dialect="postgres")
            return raw(f"_mssql.object_id({arg})")
        if isinstance(n, exp.DateAdd):
            unit = DATEPARTS.get((n.unit.name if n.unit else "day").lower())
            if unit is None or unit == "quarter" or unit == "week":
                mult = {"quarter": "3 months", "week": "7 days"}.get(unit or "")
                if not mult:
                    raise unsupported(f"DATEADD({n.unit.name if n.unit else ''})")
            else:
                mult = f"1 {unit}"
            if unit == "millisecond":
                mult = "1 millisecond"
            val = self.translate_expr(n.this).sql(dialect="postgres")
            num = self.translate_expr(n.expression).sql(dialect="postgres")
            t = self.type_of(n.this)
            if t is not None and t.name == "datetimeoffset":
                return raw(f"ROW(({val}).ts + ({num}) * INTERVAL '{mult}', ({val}).off)::_mssql.dto")
            cast = pg_type(t) if t and t.name in ("date", "datetime", "datetime2", "smalldatetime", "datetimeoffset") else "timestamp(3)"
            return raw(f"CAST(CAST({val} AS {cast}) + ({num}) * INTERVAL '{mult}' AS {cast})")
        if isinstance(n, exp.DateDiff):
            unit = DATEPARTS.get((n.unit.name if n.unit else "day").lower())
            if unit is None:
                raise unsupported("This DATEDIFF datepart")
            b = n.this.this if isinstance(n.this, exp.TimeStrToTime) else n.this
            a = n.expression.this if isinstance(n.expression, exp.TimeStrToTime) else n.expression
            sa = self.translate_expr(a).sql(dialect="postgres")
            sb = self.translate_expr(b).sql(dialect="postgres")
            return raw(f"_mssql.datediff('{unit}', CAST({sa} AS timestamp), CAST({sb} AS timestamp))")
        if isinstance(n, exp.Length):
            inner = self.translate_expr(n.this.this if isinstance(n.this, exp.Cast) else n.this).sql(dialect="postgres")
            return raw(f"length(rtrim(CAST({inner} AS text)))")
        if isinstance(n, exp.Dot) and isinstance(n.expression, exp.Anonymous):
            schema = ident_name(n.this).lower()
            fname = n.expression.name.lower()
            if schema == "sys" and fname in CDC_FUNCS:
                args = ", ".join(self.translate_expr(a).sql(dialect="postgres") for a in n.expression.expressions)
                return raw(f'"sys"."{fname}"({args})')
            raise SqlError(4121, f"Cannot find either column \"{schema}\" or the user-defined function "
                           f"or aggregate \"{schema}.{n.expression.name}\", or the name is ambiguous.")
        if isinstance(n, exp.Anonymous):
            return self._function(n)
        if isinstance(n, exp.Select):
            if n.args.get("into") is not None:
                raise unsupported("SELECT ... INTO")
            for proj in n.expressions:
                if isinstance(proj, exp.EQ) and isinstance(proj.this, exp.Parameter) and n.parent is not None:
                    raise unsupported("SELECT @variable = expression in a subquery")
            return n
        if isinstance(n, exp.Limit) and isinstance(n.parent, exp.Select) and n.args.get("percent"):
            raise unsupported("TOP ... PERCENT")
        return n

    def _table(self, n: exp.Table) -> exp.Expression:
        self._check_catalog(n)
        extra = [k for k, v in n.args.items() if v and k not in ("this", "db", "catalog", "alias", "hints", "pivots")]
        if extra:
            raise unsupported(f"This table reference ({', '.join(extra)})")
        if n.args.get("pivots"):
            raise unsupported("PIVOT / UNPIVOT")
        if isinstance(n.this, exp.OpenJSON):
            return self.openjson_sql(n)
        if not isinstance(n.this, (exp.Identifier, exp.Anonymous)):
            raise unsupported(f"The table source {n.this.sql(dialect='tsql')[:40]}")
        for h in n.args.get("hints") or []:
            for v in h.expressions:
                hv = v.name.upper()
                if hv not in TABLE_HINTS and not hv.startswith("INDEX"):
                    raise unsupported(f"The table hint {hv}")
        n.set("hints", None)
        alias = n.args.get("alias")
        alias_sql = (" AS " + self.translate_expr(alias).sql(dialect="postgres")) if alias is not None else ""
        if isinstance(n.this, exp.Anonymous):
            args = [self.translate_expr(a).sql(dialect="postgres") for a in n.this.expressions]
            fn_sql = change_function_sql(self.ctx.db, ident_name(n.args.get("db")).lower(), n.this.name.lower(),
                                         n.this.name, args)
            return raw(fn_sql + (alias_sql or f' AS {qi(n.this.name)}'))
        schema = ident_name(n.args.get("db")) or None
        name = n.name
        if name.startswith("#") or (isinstance(n.this, exp.Identifier) and n.this.args.get("temporary")) \
                or n.args.get("temporary"):
            raise unsupported("Temporary tables (#name)")
        if not schema and name.lower() in self.ctes:
            return raw(qi(name) + alias_sql)
        t = self.ctx.db.table(schema, name)
        if t is None:
            vt = virtual_catalog_table(schema, name)
            if vt is not None:
                rows = virtual_rows(self.ctx.db, self.ctx.databases, schema or "", name)
                cols = ", ".join(qi(c.name) for c in vt.columns)
                if rows:
                    vals = ", ".join("(" + ", ".join(literal(v, c.type) if v is not None else f"CAST(NULL AS {pg_type(c.type)})"
                                                     for v, c in zip(r, vt.columns)) + ")" for r in rows)
                else:
                    vals = "(" + ", ".join(f"CAST(NULL AS {pg_type(c.type)})" for c in vt.columns) + ")"
                where = "" if rows else " WHERE false"
                body = f"(SELECT * FROM (VALUES {vals}) AS v({cols}){where})"
                return raw(body + (alias_sql or f" AS {qi(name)}"))
            raise SqlError(208, f"Invalid object name '{self._table_display(n)}'.")
        return raw(t.pg_name + alias_sql)

    def expand_stars(self, sel: exp.Select) -> bool:
        """Replace * and t.* in a SELECT by explicit columns when every source is known."""
        new = []
        for p in sel.expressions:
            if isinstance(p, exp.Star) or (isinstance(p, exp.Column) and isinstance(p.this, exp.Star)):
                q = p.table.lower() if isinstance(p, exp.Column) else None
                if q is None and self._has_unknown_sources(sel):
                    return False
                srcs = [s for s in self._select_sources(sel) if q is None or s.alias == q or (
                    s.table and s.table.name.lower() == q)]
                if not srcs:
                    return False
                for s in srcs:
                    for c in s.columns:
                        new.append(exp.Column(this=exp.Identifier(this=c.name, quoted=True),
                                              table=exp.Identifier(this=s.alias, quoted=True)))
                continue
            new.append(p)
        sel.set("expressions", new)
        return True

    def _select_sources(self, sel: exp.Select) -> list[Source]:
        out = []
        tables = []
        frm = sel.args.get("from_") or sel.args.get("from")
        if frm is not None:
            tables.append(frm.this)
        for j in sel.args.get("joins") or []:
            tables.append(j.this)
        for t in tables:
            if not isinstance(t, exp.Table):
                return []
            if isinstance(t.this, exp.OpenJSON):
                alias = (t.alias or "openjson").lower()
            else:
                alias = (t.alias or t.name).lower() if not isinstance(t.this, exp.Anonymous) else (t.alias or t.this.name).lower()
            for s in self.sources:
                if s.alias == alias:
                    out.append(s)
                    break
        return out

    def _has_unknown_sources(self, sel: exp.Select) -> bool:
        frm = sel.args.get("from_") or sel.args.get("from")
        tables = ([frm.this] if frm is not None else []) + [j.this for j in sel.args.get("joins") or []]
        return len(self._select_sources(sel)) != len(tables)

    def generate(self, e: exp.Expression) -> str:
        try:
            return e.sql(dialect="postgres", unsupported_level=ErrorLevel.RAISE)
        except UnsupportedError as ex:
            raise unsupported(f"This construct ({ex})") from ex


def coerce_sql(t: SqlType, value_sql: str, node: exp.Expression | None = None) -> str:
    """A value written into a column of type t: datetimeoffset values go through _mssql.to_dto."""
    if t.name != "datetimeoffset":
        return value_sql
    if node is not None and (isinstance(node, exp.Null) or (
            isinstance(node, exp.Column) and node.name.upper() == "DEFAULT" and not node.table)):
        return value_sql
    return f"_mssql.to_dto({value_sql})"
