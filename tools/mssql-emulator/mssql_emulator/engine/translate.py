"""T-SQL expressions and queries translated onto Postgres (TEST FIXTURE).

The batch is parsed with sqlglot's T-SQL dialect; this module owns the translation: every table and
column name is resolved against the emulated catalog (case-insensitively, as SQL Server's default
collation does) and written as a lower-case quoted Postgres identifier, variables and parameters are
inlined as literals (so Postgres resolves their types the way SQL Server converts them implicitly),
and T-SQL functions are mapped one by one. Anything not known to be translated correctly fails with
a clear "not supported by the SQL Server emulator" error.
"""

from __future__ import annotations

import json

import datetime as dt
import decimal
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

from sqlglot import exp
from sqlglot.errors import ErrorLevel, UnsupportedError

from ..api import SqlError, SqlType
from .catalog import ColumnInfo, Database, TableInfo
from .types import is_string, parse_type, pg_type, unsupported

INT = SqlType("int")
BIGINT = SqlType("bigint")
BIT = SqlType("bit")
LSN = SqlType("binary", length=10)
DATETIME = SqlType("datetime")
DT2 = SqlType("datetime2", scale=7)
DTO = SqlType("datetimeoffset", scale=7)
SYSNAME = SqlType("nvarchar", length=128)
IDENT = SqlType("numeric", precision=38, scale=0)

CDC_FUNCS = {
    "fn_cdc_get_max_lsn": LSN, "fn_cdc_get_min_lsn": LSN, "fn_cdc_increment_lsn": LSN,
    "fn_cdc_decrement_lsn": LSN, "fn_cdc_map_lsn_to_time": DATETIME,
    "fn_cdc_map_time_to_lsn": LSN, "fn_cdc_get_column_ordinal": INT,
    "fn_cdc_is_bit_set": BIT, "fn_cdc_has_column_changed": BIT,
}

# Table hints SQL Server documents; accepted and ignored (Postgres' MVCC already gives the
# statement-level consistency these ask for).
TABLE_HINTS = {"NOLOCK", "HOLDLOCK", "UPDLOCK", "ROWLOCK", "PAGLOCK", "TABLOCK", "TABLOCKX",
               "READUNCOMMITTED", "READCOMMITTED", "REPEATABLEREAD", "SERIALIZABLE", "READPAST",
               "XLOCK", "NOWAIT", "READCOMMITTEDLOCK", "FORCESEEK", "FORCESCAN", "NOEXPAND"}

# CONVERT(string type, date/time, style): the documented styles the emulator renders.
CONVERT_STYLES = {20: "YYYY-MM-DD HH24:MI:SS", 120: "YYYY-MM-DD HH24:MI:SS", 21: "YYYY-MM-DD HH24:MI:SS.MS",
                  121: "YYYY-MM-DD HH24:MI:SS.MS", 23: "YYYY-MM-DD", 126: "YYYY-MM-DD\"T\"HH24:MI:SS.MS",
                  112: "YYYYMMDD", 108: "HH24:MI:SS", 101: "MM/DD/YYYY", 103: "DD/MM/YYYY", 102: "YYYY.MM.DD",
                  104: "DD.MM.YYYY", 111: "YYYY/MM/DD"}

# SQL Server built-in functions the emulator does not implement: refused clearly (not error 195).
KNOWN_BUILTINS = {
    "CHOOSE", "ISNUMERIC", "TRY_PARSE", "PARSE", "STUFF", "PATINDEX", "SOUNDEX", "DIFFERENCE", "QUOTENAME",
    "STR", "FORMATMESSAGE", "JSON_VALUE", "JSON_QUERY", "JSON_MODIFY", "ISJSON", "STRING_SPLIT", "TRANSLATE",
    "CHECKSUM", "BINARY_CHECKSUM", "HASHBYTES", "COMPRESS", "DECOMPRESS", "NEWSEQUENTIALID", "ERROR_MESSAGE",
    "ERROR_NUMBER", "ERROR_SEVERITY", "ERROR_STATE", "ERROR_LINE", "ERROR_PROCEDURE", "XACT_STATE",
    "SESSION_CONTEXT", "CONTEXT_INFO", "COLUMNPROPERTY", "OBJECTPROPERTY", "OBJECTPROPERTYEX",
    "DATABASEPROPERTYEX", "TYPE_NAME", "TYPE_ID", "SCHEMA_ID", "COL_NAME", "COL_LENGTH",
    "DATETIME2FROMPARTS", "DATETIMEFROMPARTS", "DATETIMEOFFSETFROMPARTS", "SMALLDATETIMEFROMPARTS",
    "TIMEFROMPARTS", "TODATETIMEOFFSET", "SWITCHOFFSET", "DATENAME", "DATETRUNC", "DATE_BUCKET",
    "APPROX_COUNT_DISTINCT", "CHECKSUM_AGG", "GROUPING_ID", "IDENT_CURRENT", "IDENT_SEED", "IDENT_INCR",
    "ORIGINAL_LOGIN", "IS_MEMBER", "IS_SRVROLEMEMBER", "HAS_PERMS_BY_NAME", "PWDENCRYPT", "PWDCOMPARE",
    "CERTENCODED", "ENCRYPTBYKEY", "DECRYPTBYKEY", "GET_FILESTREAM_TRANSACTION_CONTEXT", "UNICODE", "NCHAR",
    "CHAR", "ASCII", "FILEPROPERTY", "FULLTEXTCATALOGPROPERTY", "SCOPE_IDENTITY_BIG", "ROWCOUNT_BIG",
    "CURRENT_TRANSACTION_ID", "DB_ID_BIG", "STRING_ESCAPE", "TRIM_ARRAY", "GENERATE_SERIES", "LOG"}

DATEPARTS = {"year": "year", "yy": "year", "yyyy": "year", "quarter": "quarter", "qq": "quarter",
             "q": "quarter", "month": "month", "mm": "month", "m": "month", "dayofyear": "day",
             "dy": "day", "y": "day", "day": "day", "dd": "day", "d": "day", "week": "week",
             "wk": "week", "ww": "week", "hour": "hour", "hh": "hour", "minute": "minute",
             "mi": "minute", "n": "minute", "second": "second", "ss": "second", "s": "second",
             "millisecond": "millisecond", "ms": "millisecond", "microsecond": "microsecond",
             "mcs": "microsecond"}


def raw(sql: str) -> exp.Expression:
    """A node that renders as the given Postgres SQL, verbatim."""
    return exp.Var(this=sql)


def qi(name: str) -> str:
    return '"' + name.lower().replace('"', '""') + '"'


def literal(value: Any, t: SqlType | None = None) -> str:
    """A Python value as a Postgres literal (strings untyped, so Postgres converts them by context)."""
    if value is None:
        return f"CAST(NULL AS {pg_type(t)})" if t else "NULL"
    if isinstance(value, bool):
        return "CAST(1 AS smallint)" if value else "CAST(0 AS smallint)"
    if isinstance(value, (int, decimal.Decimal)) and t is not None and t.name in (
            "bit", "tinyint", "smallint", "int", "bigint", "decimal", "numeric", "money", "smallmoney",
            "real", "float"):
        if isinstance(value, decimal.Decimal) and not value.is_finite():
            return f"CAST(NULL AS {pg_type(t)})"
        return f"CAST({value} AS {pg_type(t)})"  # typed as declared, as SQL Server types a parameter
    if isinstance(value, int):
        return str(value)
    if isinstance(value, decimal.Decimal):
        return f"{value}" if value.is_finite() else "NULL"
    if isinstance(value, float):
        return f"CAST({value!r} AS {'real' if t is not None and t.name == 'real' else 'double precision'})"
    if isinstance(value, str):
        if "\x00" in value:
            raise unsupported("A string containing the NUL character (U+0000)")
        if t is not None and t.name in ("binary", "varbinary"):
            return f"'\\x{value.encode('latin-1', 'replace').hex()}'::bytea"
        quoted = "'" + value.replace("'", "''") + "'"
        if t is not None and t.name in ("char", "nchar"):
            return f"CAST({quoted} AS {pg_type(t)})"  # fixed length: padded, as SQL Server does
        return quoted
    if isinstance(value, (bytes, bytearray, memoryview)):
        return f"'\\x{bytes(value).hex()}'::bytea"
    if isinstance(value, uuid.UUID):
        return f"'{value}'::uuid"
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            off = value.utcoffset()
            minutes = int(off.total_seconds() // 60) if off is not None else 0
            return f"ROW('{value.isoformat()}'::timestamptz, {minutes})::_mssql.dto"
        if t is not None and t.name == "datetimeoffset":
            return f"_mssql.to_dto('{value.isoformat()}'::timestamp)"
        return f"'{value.isoformat()}'::timestamp"
    if isinstance(value, dt.date):
        return f"'{value.isoformat()}'::date"
    if isinstance(value, dt.time):
        return f"'{value.isoformat()}'::time"
    raise unsupported(f"A parameter value of Python type {type(value).__name__}")


@dataclass
class Context:
    """What the translator needs from the session."""

    db: Database
    variables: dict[str, tuple[SqlType, Any]]
    globals: dict[str, Any]
    database_lookup: Callable[[str | None], Any]  # name -> Database | None (None: current)
    databases: Callable[[], list]  # all Database objects
    server_name: str = ""


@dataclass
class Source:
    """A table-like source in a FROM clause: a catalog table or a known virtual relation."""

    alias: str  # lower-case name by which columns are qualified
    columns: list[ColumnInfo]
    table: TableInfo | None = None


@dataclass
class Output:
    name: str
    type: SqlType | None
    nullable: bool = True
    identity: bool = False


@dataclass
class Translated:
    sql: str
    outputs: list[Output] | None = None  # for row-returning statements
    target: TableInfo | None = None
    identity_returning: bool = False  # the first RETURNING column is the identity (not shown)


def _ident_name(e: exp.Expression | None) -> str:
    if e is None:
        return ""
    if isinstance(e, exp.Identifier):
        return e.this
    return e.name


class Translator:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.ctes: set[str] = set()
        self.sources: list[Source] = []

    # ------------------------------------------------------------------ names
    def resolve_table(self, schema: str | None, name: str, *, must_exist: bool = True,
                      display: str | None = None) -> TableInfo | None:
        t = self.ctx.db.table(schema, name)
        if t is None and must_exist:
            raise SqlError(208, f"Invalid object name '{display or name}'.")
        return t

    def _table_display(self, node: exp.Table) -> str:
        parts = [p for p in (_ident_name(node.args.get("catalog")), _ident_name(node.args.get("db")),
                             _ident_name(node.this) if isinstance(node.this, exp.Identifier) else node.name) if p]
        return ".".join(parts)

    def _check_catalog(self, node: exp.Table) -> None:
        cat = _ident_name(node.args.get("catalog"))
        if cat and cat.lower() != self.ctx.db.name.lower():
            if self.ctx.database_lookup(cat) is None:
                raise SqlError(911, f"Database '{cat}' does not exist. Make sure that the name is "
                               "entered correctly.")
            raise unsupported("A reference to another database (three-part name)")

    # ------------------------------------------------------------------ scope
    def collect_sources(self, root: exp.Expression) -> list[Source]:
        """Every table reference in the statement, with its alias (for column resolution/typing)."""
        out: list[Source] = []
        for node in root.find_all(exp.Table):
            alias = node.alias or (node.name if isinstance(node.this, exp.Identifier) else "")
            if isinstance(node.this, exp.Anonymous):
                vt = self.virtual_function_table(node)
                if vt is not None:
                    out.append(Source((node.alias or node.this.name).lower(), vt.columns, vt))
                continue
            schema = _ident_name(node.args.get("db")) or None
            if not schema and node.name.lower() in self.ctes:
                continue
            t = self.ctx.db.table(schema, node.name)
            if t is None:
                vt = self.virtual_catalog_table(schema, node.name)
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

    # ------------------------------------------------------------------ typing
    def type_of(self, e: exp.Expression) -> SqlType | None:
        if isinstance(e, exp.Paren):
            return self.type_of(e.this)
        if isinstance(e, exp.Subquery) and isinstance(e.this, exp.Select) and e.this.args.get("for_"):
            return SqlType("nvarchar", length=-1)  # FOR JSON
        if isinstance(e, (exp.MD5, exp.SHA, exp.SHA2)):
            return SqlType("varbinary", length=8000)  # HASHBYTES
        if isinstance(e, exp.Alias):
            return self.type_of(e.this)
        if isinstance(e, exp.Column) and e.name.lower() == "0x" and not e.table:
            return SqlType("varbinary", length=1)
        if isinstance(e, exp.Column) and not isinstance(e.this, exp.Star):
            c = self.find_column(e.name, e.table or None)
            return c.type if c else None
        if isinstance(e, exp.Cast):
            return self.cast_type(e.to)
        if isinstance(e, exp.Convert):
            return self.cast_type(e.this)
        if isinstance(e, exp.Literal):
            if e.is_string:
                return SqlType("varchar", length=max(len(e.this), 1))
            text = e.this
            if "." in text or "e" in text.lower():
                digits = text.replace(".", "").lstrip("-").lstrip("0") or "0"
                scale = len(text.split(".")[1]) if "." in text else 0
                return SqlType("numeric", precision=max(len(digits), scale, 1), scale=scale)
            v = int(text)
            return INT if -2**31 <= v < 2**31 else SqlType("numeric", precision=len(text), scale=0)
        if isinstance(e, exp.National):
            return SqlType("nvarchar", length=max(len(e.this), 1))
        if isinstance(e, exp.HexString):
            return SqlType("varbinary", length=max(len(e.this) // 2, 1))
        if isinstance(e, exp.Null):
            return INT
        if isinstance(e, exp.Boolean):
            return BIT
        if isinstance(e, exp.Count):
            return BIGINT if e.args.get("big_int") else INT
        if isinstance(e, (exp.Min, exp.Max)):
            return self.type_of(e.this)
        if isinstance(e, exp.Sum):
            t = self.type_of(e.this)
            if t and t.name in ("decimal", "numeric"):
                return SqlType("decimal", precision=38, scale=t.scale)
            if t and t.name in ("tinyint", "smallint"):
                return INT
            return t
        if isinstance(e, exp.Avg):
            t = self.type_of(e.this)
            if t and t.name in ("decimal", "numeric"):
                return SqlType("decimal", precision=38, scale=max(t.scale or 0, 6))
            return t
        if isinstance(e, exp.Coalesce):
            for a in [e.this] + list(e.expressions or []):
                if not isinstance(a, exp.Null):
                    return self.type_of(a)
            return INT
        if isinstance(e, (exp.Upper, exp.Lower, exp.Trim)):
            return self.type_of(e.this)
        if isinstance(e, (exp.Year, exp.Month, exp.Day, exp.Extract)):
            return INT
        if isinstance(e, exp.Round):
            return self.type_of(e.this)
        if isinstance(e, (exp.Floor, exp.Ceil)):
            t = self.type_of(e.this)
            if t and t.name in ("decimal", "numeric"):
                return SqlType(t.name, precision=t.precision, scale=0)
            return t
        if isinstance(e, exp.Abs):
            return self.type_of(e.this)
        if isinstance(e, exp.CurrentTimestampLTZ):
            return DTO
        if isinstance(e, exp.CurrentTimestamp):
            return DATETIME
        if isinstance(e, (exp.Uuid,)):
            return SqlType("uniqueidentifier")
        if isinstance(e, (exp.Length,)):
            return INT
        if isinstance(e, (exp.Case, exp.If)):
            ifs = e.args.get("ifs") or []
            if ifs:
                return self.type_of(ifs[0].args.get("true"))
            if isinstance(e, exp.If):
                return self.type_of(e.args.get("true"))
            return None
        if isinstance(e, exp.Parameter):
            if isinstance(e.this, exp.Parameter):
                g = e.this.name.lower()
                return {"rowcount": INT, "trancount": INT, "identity": IDENT, "spid": SqlType("smallint"),
                        "version": SqlType("nvarchar", length=300), "servername": SYSNAME,
                        "error": INT}.get(g)
            v = self.ctx.variables.get("@" + e.name.lower())
            return v[0] if v else None
        if isinstance(e, exp.Dot) and isinstance(e.expression, exp.Anonymous):
            return CDC_FUNCS.get(e.expression.name.lower())
        if isinstance(e, exp.Anonymous):
            n = e.name.upper()
            return {"GETUTCDATE": DATETIME, "SYSDATETIME": DT2, "SYSUTCDATETIME": DT2,
                    "SYSDATETIMEOFFSET": DTO, "SCOPE_IDENTITY": IDENT, "DB_ID": INT,
                    "DB_NAME": SYSNAME, "OBJECT_SCHEMA_NAME": SYSNAME, "LEN": INT, "DATALENGTH": INT, "NEWID": SqlType("uniqueidentifier"),
                    "SUSER_NAME": SYSNAME, "SUSER_SNAME": SYSNAME, "USER_NAME": SYSNAME,
                    "SCHEMA_NAME": SYSNAME, "OBJECT_NAME": SYSNAME, "HOST_NAME": SYSNAME,
                    "APP_NAME": SYSNAME, "DATEDIFF": INT}.get(n)
        if isinstance(e, exp.ObjectId):
            return INT
        if isinstance(e, exp.DateAdd):
            return self.type_of(e.this)
        if isinstance(e, exp.DateDiff):
            return INT
        if isinstance(e, (exp.Add, exp.Sub, exp.Mul)):
            a, b = self.type_of(e.this), self.type_of(e.expression)
            if isinstance(e, exp.Add) and ((a and is_string(a)) or (b and is_string(b))):
                la = a.length if a and is_string(a) else 30
                lb = b.length if b and is_string(b) else 30
                n = "nvarchar" if any(t and t.name.startswith("n") for t in (a, b)) else "varchar"
                return SqlType(n, length=-1 if -1 in (la, lb) else min(la + lb, 4000 if n == "nvarchar" else 8000))
            if a == b and a and a.name in ("int", "bigint", "smallint"):
                return a
            dec = {"int": (10, 0), "bigint": (19, 0), "smallint": (5, 0), "tinyint": (3, 0)}
            if a and b and (a.name in ("decimal", "numeric") or b.name in ("decimal", "numeric")):
                pa = (a.precision, a.scale) if a.name in ("decimal", "numeric") else dec.get(a.name)
                pb = (b.precision, b.scale) if b.name in ("decimal", "numeric") else dec.get(b.name)
                if pa and pb:
                    (p1, s1), (p2, s2) = pa, pb
                    if isinstance(e, exp.Mul):
                        p, sc = p1 + p2 + 1, s1 + s2
                    else:
                        sc = max(s1, s2)
                        p = max(p1 - s1, p2 - s2) + sc + 1
                    if p > 38:
                        sc = max(min(sc, 6), sc - (p - 38))
                        p = 38
                    return SqlType("decimal", precision=p, scale=sc)
            if a and b and "float" in (a.name, b.name):
                return SqlType("float")
            return None
        return None

    def cast_type(self, to: exp.DataType) -> SqlType:
        text = to.sql(dialect="tsql")
        if to.this == exp.DataType.Type.FLOAT and getattr(to, "_mssql_real", False):
            return SqlType("real")
        t = parse_type(text, cast=True)
        if t.name == "numeric":  # sqlglot spells DECIMAL and NUMERIC alike; SQL Server treats them alike
            t = SqlType("decimal", t.length, t.precision, t.scale)
        return t

    # ------------------------------------------------------------------ virtual tables
    def virtual_catalog_table(self, schema: str | None, name: str) -> TableInfo | None:
        key = ((schema or "").lower(), name.lower())
        cols = VIRTUAL_TABLES.get(key)
        if cols is None:
            return None
        return TableInfo(schema or "", name, [ColumnInfo(n, t, True, False, i + 1) for i, (n, t) in enumerate(cols)])

    def virtual_rows(self, schema: str, name: str) -> list[tuple]:
        key = (schema.lower(), name.lower())
        db = self.ctx.db
        if key == ("sys", "databases"):
            return [(d.name, d.database_id, d.database_id == 1 and False or d.cdc_enabled,
                     "Latin1_General_100_CI_AS_SC_UTF8", 0, "ONLINE", 160,
                     1 if d.allow_snapshot_isolation else 0, "ON" if d.allow_snapshot_isolation else "OFF",
                     d.read_committed_snapshot, 1 if d.user_access == "SINGLE_USER" else 0, d.user_access)
                    for d in self.ctx.databases()]
        if key == ("sys", "schemas"):
            return [(declared, i + 1, 1) for i, (low, declared) in enumerate(sorted(db.schemas.items()))]
        if key in (("sys", "tables"), ("sys", "objects")):
            sids = {low: i + 1 for i, low in enumerate(sorted(db.schemas))}
            tracked = getattr(db, "tracked_tables", set())
            return [(t.name, t.object_id, sids.get(t.schema.lower(), 1), "U", "USER_TABLE",
                     t.key in tracked, t.system) for t in db.tables.values()]
        if key == ("sys", "dm_server_services"):
            # The emulated SQL Server Agent always runs; a database's capture job is stopped and
            # started with sys.sp_cdc_stop_job / sys.sp_cdc_start_job.
            return [("SQL Server (MSSQLSERVER)", "Automatic", 4, "Running", 1),
                    ("SQL Server Agent (MSSQLSERVER)", "Automatic", 4, "Running", 2)]
        if key == ("information_schema", "tables"):
            return [(db.name, t.schema, t.name, "BASE TABLE") for t in db.tables.values()]
        if key == ("information_schema", "columns"):
            rows = []
            for t in db.tables.values():
                for i, c in enumerate(t.columns):
                    rows.append((db.name, t.schema, t.name, c.name, i + 1, None, "YES" if c.nullable else "NO")
                                + information_schema_type(c.type))
            return rows
        return []

    def virtual_function_table(self, node: exp.Table) -> TableInfo | None:
        fn = node.this.name.lower()
        schema = _ident_name(node.args.get("db")).lower()
        if schema != "cdc":
            return None
        for prefix in ("fn_cdc_get_all_changes_", "fn_cdc_get_net_changes_"):
            if fn.startswith(prefix):
                ci = fn[len(prefix):]
                inst = getattr(self.ctx.db, "cdc_instances", {}).get(ci)
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

    # ------------------------------------------------------------------ the walk
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
                q = [qi(_ident_name(p)) for p in parts[:-1]] if len(parts) > 1 else []
                tbl = n.args.get("table")
                return raw(".".join([qi(_ident_name(tbl))] + ["*"])) if tbl is not None else n
            if len(parts) == 1 and parts[0].name.upper() == "DEFAULT" and not parts[0].quoted:
                return raw("DEFAULT")
            if len(parts) == 1 and parts[0].name.lower() == "0x":
                return raw("'\\x'::bytea")  # the empty binary literal
            return raw(".".join(qi(_ident_name(p)) for p in parts))
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
            schema = _ident_name(n.this).lower()
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

    def _object_id_elsewhere(self, a: exp.Expression) -> str | None:
        """OBJECT_ID('db.schema.name') naming another database (a literal or a variable): looked up in
        that database's catalog (NULL when it or the object does not exist)."""
        value = None
        if isinstance(a, (exp.Literal, exp.National)) and (isinstance(a, exp.National) or a.is_string):
            value = a.this
        elif isinstance(a, exp.Parameter) and not isinstance(a.this, exp.Parameter):
            t_v = self.ctx.variables.get("@" + a.name.lower())
            value = t_v[1] if t_v is not None and isinstance(t_v[1], str) else None
        if value is None:
            return None
        parts = [p.strip().strip("[]") for p in value.split(".")]
        if len(parts) != 3 or not parts[0] or parts[0].lower() == self.ctx.db.name.lower():
            return None
        db = self.ctx.database_lookup(parts[0])
        t = db.table(parts[1] or "dbo", parts[2]) if db is not None else None
        return str(t.object_id) if t is not None and t.object_id else "CAST(NULL AS integer)"

    # ------------------------------------------------------------------ HASHBYTES, FOR JSON
    def _hashbytes(self, n: exp.Expression) -> str:
        """HASHBYTES('MD5' | 'SHA2_256' | 'SHA2_512', input): the hash of the input's bytes (nvarchar as
        UTF-16LE, varchar as UTF-8 under the server's UTF-8 collation, varbinary as is)."""
        if isinstance(n, exp.SHA2):
            bits = int(n.args["length"].this) if n.args.get("length") is not None else 256
            fn = {256: "sha256", 512: "sha512"}.get(bits)
            if fn is None:
                raise unsupported(f"HASHBYTES('SHA2_{bits}')")
        elif isinstance(n, exp.MD5):
            fn = "md5"
        else:
            raise unsupported("HASHBYTES('SHA1') / HASHBYTES('SHA')")
        arg = n.this
        inner = self.translate_expr(arg).sql(dialect="postgres")
        inner_arg = arg.this if isinstance(arg, exp.Paren) else arg
        if isinstance(inner_arg, exp.Subquery) and isinstance(inner_arg.this, exp.Select) \
                and inner_arg.this.args.get("for_"):
            t = SqlType("nvarchar", length=-1)
        else:
            t = self.type_of(arg)
        if t is None or t.name in ("nvarchar", "nchar"):
            data = f"_mssql.utf16le(CAST({inner} AS text))"
        elif t.name in ("varchar", "char"):
            data = f"convert_to(CAST({inner} AS text), 'UTF8')"
        elif t.name in ("varbinary", "binary"):
            data = f"CAST({inner} AS bytea)"
        else:
            raise unsupported(f"HASHBYTES of a {t.name} value")
        if fn == "md5":
            return f"decode(md5({data}), 'hex')"
        return f"{fn}({data})"

    def for_json_sql(self, sel: exp.Select, split: bool = False) -> str:
        """SELECT … FOR JSON PATH|AUTO [, ROOT('name')] [, INCLUDE_NULL_VALUES] [, WITHOUT_ARRAY_WRAPPER]
        as a Postgres expression yielding the JSON text SQL Server produces (data types converted as in
        "How FOR JSON converts SQL Server data types to JSON data types", characters escaped as in "How
        FOR JSON escapes special characters and control characters")."""
        fc = sel.args["for_"]
        kind = str(fc.args.get("kind") or "").upper()
        if kind != "JSON":
            raise unsupported(f"FOR {kind or 'BROWSE'}")
        mode, root, nulls, wrapper = None, None, False, True
        for opt in fc.expressions:
            o = opt.this if isinstance(opt, exp.QueryOption) else opt
            if isinstance(o, exp.XMLKeyValueOption) and o.this.name.upper() == "ROOT":
                root = o.expression.this if o.expression is not None else "root"
                continue
            word = o.name.upper() if hasattr(o, "name") else str(o).upper()
            if word in ("PATH", "AUTO"):
                mode = word
            elif word == "ROOT":
                root = "root"
            elif word == "INCLUDE_NULL_VALUES":
                nulls = True
            elif word == "WITHOUT_ARRAY_WRAPPER":
                wrapper = False
            else:
                raise unsupported(f"FOR JSON option {word}")
        if mode is None:
            raise SqlError(102, "Incorrect syntax near 'JSON'.", severity=15)
        if root is not None and not wrapper:
            raise SqlError(13620, "ROOT option and WITHOUT_ARRAY_WRAPPER option cannot be used together in "
                           "FOR JSON. Remove one of these options.")
        inner = sel.copy()
        inner.set("for_", None)
        if mode == "AUTO" and inner.args.get("joins"):
            raise unsupported("FOR JSON AUTO over joins (nested arrays)")
        self.expand_stars(inner)
        outs = self.outputs_for(inner.expressions)
        if outs is None or any(not o.name for o in outs):
            raise SqlError(13605, "Column expressions and data sources without names or aliases cannot be "
                           "formatted as JSON text using FOR JSON clause. Add alias to the unnamed column or table.")
        if mode == "PATH" and any("." in o.name for o in outs):
            raise unsupported("FOR JSON PATH with dotted column names (nested objects)")
        cols = [f"c{i + 1}" for i in range(len(outs))]
        parts = []
        for c, o in zip(cols, outs):
            key = json.dumps(o.name, ensure_ascii=False).replace("/", "\\/")
            member = f"{literal(key + ':')} || {_json_value('j.' + c, o.type)}"
            absent = literal(key + ":null") if nulls else "NULL"
            parts.append(f"CASE WHEN j.{c} IS NULL THEN {absent} ELSE {member} END")
        obj = "'{' || array_to_string(ARRAY[" + ", ".join(parts) + "]::text[], ',') || '}'"
        body = f"string_agg({obj}, ',')"
        if wrapper:
            body = f"'[' || {body} || ']'"
        if root is not None:
            rkey = json.dumps(root, ensure_ascii=False).replace("/", "\\/")
            body = f"{literal('{' + rkey + ':')} || {body} || '}}'"
        inner_sql = self.translate_expr(inner).sql(dialect="postgres")
        return f"SELECT {body} FROM ({inner_sql}) AS j({', '.join(cols)})"

    def _like(self, n: exp.Like, escape: str | None) -> str:
        left = self.translate_expr(n.this).sql(dialect="postgres")
        right = self.translate_expr(n.expression).sql(dialect="postgres")
        esc = f" ESCAPE {escape}" if escape is not None else ""
        op = "NOT ILIKE" if n.args.get("negate") else "ILIKE"
        return f'(CAST({left} AS text) COLLATE "default" {op} CAST({right} AS text){esc})'

    def _datepart(self, n: exp.Extract) -> str:
        """DATEPART(part, x) as SQL Server defines each part (DATEFIRST 7, us_english)."""
        part = n.this.name.lower()
        t = self.type_of(n.expression)
        x = self.translate_expr(n.expression).sql(dialect="postgres")
        if part in ("timezone_minute", "tzoffset", "tz"):
            if t is not None and t.name == "datetimeoffset":
                return f"CAST(({x}).off AS integer)"
            return "0"
        if t is not None and t.name == "datetimeoffset":
            ts = f"_mssql.dto_local({x})"
        else:
            ts = f"CAST({x} AS timestamp)" if not (t and t.name == "time") else f"CAST({x} AS time)"
        simple = {"year": "year", "yy": "year", "yyyy": "year", "quarter": "quarter", "qq": "quarter",
                  "q": "quarter", "month": "month", "mm": "month", "m": "month", "day": "day", "dd": "day",
                  "d": "day", "dayofyear": "doy", "dy": "doy", "y": "doy", "doy": "doy", "hour": "hour",
                  "hh": "hour", "minute": "minute", "mi": "minute", "n": "minute", "iso_week": "week",
                  "isowk": "week", "isoww": "week", "week_iso": "week"}
        if part in simple:
            return f"CAST(extract({simple[part]} FROM {ts}) AS integer)"
        if part in ("second", "ss", "s"):
            return f"CAST(floor(extract(second FROM {ts})) AS integer)"
        if part in ("millisecond", "ms"):
            return f"CAST(floor(extract(milliseconds FROM {ts})) AS integer) % 1000"
        if part in ("microsecond", "mcs"):
            return f"CAST(extract(microseconds FROM {ts}) AS integer) % 1000000"
        if part in ("nanosecond", "ns"):
            return f"(CAST(extract(microseconds FROM {ts}) AS integer) % 1000000) * 1000"
        if part in ("dayofweek", "weekday", "dw", "w"):
            return f"(CAST(extract(dow FROM {ts}) AS integer) + 1)"
        if part in ("week", "wk", "ww"):
            return (f"(CAST((extract(doy FROM {ts}) + extract(dow FROM date_trunc('year', {ts})) - 1) AS integer) / 7 + 1)")
        raise unsupported(f"DATEPART({part})")

    def _parameter(self, n: exp.Parameter) -> str:
        if isinstance(n.this, exp.Parameter):
            g = n.this.name.lower()
            gl = self.ctx.globals
            if g == "rowcount":
                return str(gl.get("rowcount", 0))
            if g == "trancount":
                return str(gl.get("trancount", 0))
            if g == "identity":
                v = gl.get("identity")
                return "CAST(NULL AS numeric(38,0))" if v is None else f"CAST({v} AS numeric(38,0))"
            if g == "spid":
                return str(gl.get("spid", 51))
            if g == "version":
                return literal(gl.get("version", ""))
            if g == "servername":
                return literal(self.ctx.server_name)
            if g == "error":
                return str(gl.get("error", 0))
            raise unsupported(f"@@{n.this.name}")
        name = "@" + n.name.lower()
        if name not in self.ctx.variables:
            raise SqlError(137, f'Must declare the scalar variable "@{n.name}".', severity=15)
        t, v = self.ctx.variables[name]
        return literal(v, t)

    def _function(self, n: exp.Anonymous) -> exp.Expression:
        name = n.name.upper()
        args = [self.translate_expr(a).sql(dialect="postgres") for a in n.expressions]
        gl = self.ctx.globals

        def nargs(lo: int, hi: int) -> None:
            if len(args) < lo or len(args) > hi:
                if len(args) > hi:
                    raise SqlError(174, f"The {n.name.lower()} function requires {hi} argument(s).", severity=15)
                raise SqlError(174, f"The {n.name.lower()} function requires {lo} argument(s).", severity=15)

        if name == "GETUTCDATE":
            nargs(0, 0)
            return raw("_mssql.dt(statement_timestamp() AT TIME ZONE 'UTC')")
        if name == "SYSDATETIME":
            nargs(0, 0)
            return raw("CAST(statement_timestamp() AS timestamp(6))")
        if name == "SYSUTCDATETIME":
            nargs(0, 0)
            return raw("CAST(statement_timestamp() AT TIME ZONE 'UTC' AS timestamp(6))")
        if name == "SYSDATETIMEOFFSET":
            nargs(0, 0)
            return raw("_mssql.to_dto(statement_timestamp())")
        if name == "NEWID":
            return raw("gen_random_uuid()")
        if name == "SCOPE_IDENTITY":
            v = gl.get("scope_identity")
            return raw("CAST(NULL AS numeric(38,0))" if v is None else f"CAST({v} AS numeric(38,0))")
        if name == "DB_ID":
            nargs(0, 1)
            if not n.expressions:
                return raw(str(self.ctx.db.database_id))
            a = n.expressions[0]
            if isinstance(a, (exp.Literal, exp.National)) and a.is_string or isinstance(a, exp.National):
                d = self.ctx.database_lookup(a.this)
                return raw(str(d.database_id) if d else "CAST(NULL AS integer)")
            # any expression (a variable, a parameter, a column): looked up among the databases
            whens = " ".join(f"WHEN {literal(d.name.lower())} THEN {d.database_id}" for d in self.ctx.databases())
            return raw(f"(CASE lower(replace(replace(CAST({args[0]} AS text), '[', ''), ']', '')) "
                       f"{whens} ELSE CAST(NULL AS integer) END)")
        if name == "DB_NAME":
            nargs(0, 1)
            if not n.expressions:
                return raw(literal(self.ctx.db.name))
            a = n.expressions[0]
            if isinstance(a, exp.Literal) and not a.is_string:
                for d in self.ctx.databases():
                    if d.database_id == int(a.this):
                        return raw(literal(d.name))
                return raw("CAST(NULL AS text)")
            whens = " ".join(f"WHEN {d.database_id} THEN {literal(d.name)}" for d in self.ctx.databases())
            return raw(f"(CASE CAST({args[0]} AS integer) {whens} ELSE CAST(NULL AS text) END)")
        if name in ("OBJECT_NAME", "OBJECT_SCHEMA_NAME"):
            nargs(1, 2)
            if len(n.expressions) == 2:
                d = n.expressions[1]
                if not (isinstance(d, exp.Literal) and not d.is_string and int(d.this) == self.ctx.db.database_id):
                    raise unsupported(f"{name} with a database_id other than the current database's")
            tables = [t for t in self.ctx.db.tables.values() if t.object_id]
            if not tables:
                return raw("CAST(NULL AS text)")
            whens = " ".join(f"WHEN {t.object_id} THEN {literal(t.name if name == 'OBJECT_NAME' else t.schema)}"
                             for t in tables)
            return raw(f"(CASE CAST({args[0]} AS integer) {whens} ELSE CAST(NULL AS text) END)")
        if name in ("SUSER_NAME", "SUSER_SNAME", "USER_NAME", "CURRENT_USER", "SYSTEM_USER"):
            return raw(literal(gl.get("login", "dbo") if name.startswith("SUSER") else "dbo"))
        if name == "APP_NAME":
            return raw(literal(gl.get("app_name", "")))
        if name == "HOST_NAME":
            return raw(literal("localhost"))
        if name == "DATALENGTH":
            nargs(1, 1)
            t = self.type_of(n.expressions[0])
            if t is not None and t.name in ("nvarchar", "nchar"):
                return raw(f"(2 * length(CAST({args[0]} AS text)))")  # UTF-16 bytes
            return raw(f"octet_length({args[0]})")
        if name == "LEN":
            nargs(1, 1)
            return raw(f"length(rtrim(CAST({args[0]} AS text)))")
        if name == "ISNULL":
            nargs(2, 2)
            return raw(f"COALESCE({args[0]}, {args[1]})")
        if name in ("LTRIM", "RTRIM", "REVERSE", "ABS", "FLOOR", "CEILING", "SIGN", "SQRT", "EXP",
                    "LOG10", "SQUARE"):
            nargs(1, 1)
            pg = {"CEILING": "ceil", "SQUARE": "(%s)^2"}.get(name, name.lower())
            return raw(pg % args[0] if "%s" in pg else f"{pg}({args[0]})")
        if name in ("ROUND",):
            nargs(2, 3)
            return raw(f"round({args[0]}, {args[1]})")
        if name in ("REPLACE",):
            nargs(3, 3)
            return raw(_replace_ci(*args))
        if name in ("REPLICATE",):
            nargs(2, 2)
            return raw(f"repeat({args[0]}, {args[1]})")
        if name in ("SUBSTRING",):
            nargs(3, 3)
            return raw(f"substr({args[0]}, {args[1]}, {args[2]})")
        if name in ("SPACE",):
            nargs(1, 1)
            return raw(f"repeat(' ', {args[0]})")
        if name in ("YEAR", "MONTH", "DAY"):
            nargs(1, 1)
            return raw(f"CAST(extract({name.lower()} FROM {args[0]}) AS integer)")
        if name == "EOMONTH":
            nargs(1, 1)
            return raw(f"CAST(date_trunc('month', {args[0]}) + INTERVAL '1 month - 1 day' AS date)")
        if name == "SERVERPROPERTY":
            nargs(1, 1)
            a = n.expressions[0]
            prop = a.this.lower() if isinstance(a, (exp.Literal, exp.National)) else None
            values = {"productversion": "16.0.1000.6", "productmajorversion": "16", "productminorversion": "0",
                      "productlevel": "RTM", "edition": "Developer Edition (64-bit)", "engineedition": 3,
                      "servername": self.ctx.server_name, "machinename": self.ctx.server_name,
                      "instancename": None, "collation": "Latin1_General_100_CI_AS_SC_UTF8",
                      "isintegratedsecurityonly": 0, "isclustered": 0, "ishadrenabled": 0}
            if prop not in values:
                raise unsupported(f"SERVERPROPERTY({a.sql(dialect='tsql')})")
            v = values[prop]
            return raw("CAST(NULL AS text)" if v is None else literal(v))
        if name == "DATEFROMPARTS":
            nargs(3, 3)
            return raw(f"make_date({args[0]}, {args[1]}, {args[2]})")
        if name in KNOWN_BUILTINS:
            raise unsupported(f"{name}()")
        if name == "FORMAT":
            raise unsupported("FORMAT()")
        if name == "ERROR_MESSAGE" or name == "ERROR_NUMBER":
            raise unsupported(f"{name}()")
        raise SqlError(195, f"'{n.name}' is not a recognized built-in function name.", severity=15)

    def _table(self, n: exp.Table) -> exp.Expression:
        self._check_catalog(n)
        extra = [k for k, v in n.args.items() if v and k not in ("this", "db", "catalog", "alias", "hints", "pivots")]
        if extra:
            raise unsupported(f"This table reference ({', '.join(extra)})")
        if n.args.get("pivots"):
            raise unsupported("PIVOT / UNPIVOT")
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
            return raw(self._table_function(n) + (alias_sql or f' AS {qi(n.this.name)}'))
        schema = _ident_name(n.args.get("db")) or None
        name = n.name
        if name.startswith("#") or (isinstance(n.this, exp.Identifier) and n.this.args.get("temporary")) \
                or n.args.get("temporary"):
            raise unsupported("Temporary tables (#name)")
        if not schema and name.lower() in self.ctes:
            return raw(qi(name) + alias_sql)
        t = self.ctx.db.table(schema, name)
        if t is None:
            vt = self.virtual_catalog_table(schema, name)
            if vt is not None:
                rows = self.virtual_rows(schema or "", name)
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

    def _table_function(self, n: exp.Table) -> str:
        fn = n.this.name.lower()
        schema = _ident_name(n.args.get("db")).lower()
        args = [self.translate_expr(a).sql(dialect="postgres") for a in n.this.expressions]
        if schema == "cdc" and fn.startswith("fn_cdc_get_all_changes_"):
            ci = fn[len("fn_cdc_get_all_changes_"):]
            inst = getattr(self.ctx.db, "cdc_instances", {}).get(ci)
            if inst is None:
                raise SqlError(208, f"Invalid object name 'cdc.{n.this.name}'.")
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
            inst = getattr(self.ctx.db, "cdc_instances", {}).get(ci)
            if inst is None or not inst.get("net"):
                raise SqlError(208, f"Invalid object name 'cdc.{n.this.name}'.")
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
        raise unsupported(f"The table-valued function {n.this.name}")

    # ------------------------------------------------------------------ statements
    def outputs_for(self, projections: list[exp.Expression]) -> list[Output] | None:
        """Names and SQL Server types of a projection list (None when a star cannot be expanded)."""
        outs: list[Output] = []
        for p in projections:
            if isinstance(p, exp.Star) or (isinstance(p, exp.Column) and isinstance(p.this, exp.Star)):
                q = p.table.lower() if isinstance(p, exp.Column) else None
                srcs = [s for s in self.sources if q is None or s.alias == q or (s.table and s.table.name.lower() == q)]
                if not srcs:
                    return None
                for s in srcs:
                    outs.extend(Output(c.name, c.type, c.nullable, c.identity) for c in s.columns)
                continue
            inner = p.this if isinstance(p, exp.Alias) else p
            col = self.find_column(inner.name, inner.table or None) if isinstance(inner, exp.Column) else None
            nullable = col.nullable if col is not None else True
            ident = col.identity if col is not None else False
            if isinstance(p, exp.Alias):
                outs.append(Output(p.alias, self.type_of(p.this), nullable, ident))
            elif isinstance(p, exp.Column):
                outs.append(Output("" if p.name.lower() == "0x" else p.name, self.type_of(p), nullable, ident))
            else:
                outs.append(Output("", self.type_of(p)))
        return outs

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


# Virtual catalog views answered from the emulator's own catalog.
VIRTUAL_TABLES: dict[tuple[str, str], list[tuple[str, SqlType]]] = {
    ("sys", "databases"): [("name", SYSNAME), ("database_id", INT), ("is_cdc_enabled", BIT),
                           ("collation_name", SYSNAME), ("state", SqlType("tinyint")),
                           ("state_desc", SqlType("nvarchar", length=60)), ("compatibility_level", SqlType("tinyint")),
                           ("snapshot_isolation_state", SqlType("tinyint")),
                           ("snapshot_isolation_state_desc", SqlType("nvarchar", length=60)),
                           ("is_read_committed_snapshot_on", BIT), ("user_access", SqlType("tinyint")),
                           ("user_access_desc", SqlType("nvarchar", length=60))],
    ("sys", "schemas"): [("name", SYSNAME), ("schema_id", INT), ("principal_id", INT)],
    ("sys", "tables"): [("name", SYSNAME), ("object_id", INT), ("schema_id", INT),
                        ("type", SqlType("char", length=2)), ("type_desc", SqlType("nvarchar", length=60)),
                        ("is_tracked_by_cdc", BIT), ("is_ms_shipped", BIT)],
    ("information_schema", "tables"): [("TABLE_CATALOG", SYSNAME), ("TABLE_SCHEMA", SYSNAME),
                                       ("TABLE_NAME", SYSNAME), ("TABLE_TYPE", SqlType("varchar", length=10))],
    ("information_schema", "columns"): [
        ("TABLE_CATALOG", SYSNAME), ("TABLE_SCHEMA", SYSNAME), ("TABLE_NAME", SYSNAME), ("COLUMN_NAME", SYSNAME),
        ("ORDINAL_POSITION", INT), ("COLUMN_DEFAULT", SqlType("nvarchar", length=4000)),
        ("IS_NULLABLE", SqlType("varchar", length=3)), ("DATA_TYPE", SYSNAME), ("CHARACTER_MAXIMUM_LENGTH", INT),
        ("CHARACTER_OCTET_LENGTH", INT), ("NUMERIC_PRECISION", SqlType("tinyint")),
        ("NUMERIC_PRECISION_RADIX", SqlType("smallint")), ("NUMERIC_SCALE", INT),
        ("DATETIME_PRECISION", SqlType("smallint")), ("CHARACTER_SET_NAME", SYSNAME), ("COLLATION_NAME", SYSNAME)],
}
VIRTUAL_TABLES[("sys", "objects")] = VIRTUAL_TABLES[("sys", "tables")]
VIRTUAL_TABLES[("sys", "dm_server_services")] = [
    ("servicename", SqlType("nvarchar", length=256)), ("startup_type_desc", SqlType("nvarchar", length=256)),
    ("status", INT), ("status_desc", SqlType("nvarchar", length=256)), ("process_id", INT)]


def _json_value(ref: str, t: SqlType | None) -> str:
    """A non-NULL value as FOR JSON writes it (numbers and bit bare, others JSON strings)."""
    n = t.name if t is not None else "nvarchar"
    if n in ("tinyint", "smallint", "int", "bigint", "decimal", "numeric", "real", "float"):
        return f"CAST({ref} AS text)"
    if n == "bit":
        return f"(CASE WHEN CAST({ref} AS integer) <> 0 THEN 'true' ELSE 'false' END)"
    if n in ("binary", "varbinary"):
        return f"_mssql.json_str(translate(encode({ref}, 'base64'), E'\\n', ''))"
    if n == "date":
        return f"_mssql.json_str(to_char({ref}, 'YYYY-MM-DD'))"
    if n in ("datetime", "datetime2", "smalldatetime"):
        digits = {"datetime": 3, "smalldatetime": 0}.get(n, t.scale if t.scale is not None else 7)
        return (f"_mssql.json_str(to_char({ref}, 'YYYY-MM-DD\"T\"HH24:MI:SS') "
                f"|| _mssql.iso_fraction(CAST({ref} AS timestamp), {digits}))")
    if n == "time":
        digits = t.scale if t.scale is not None else 7
        return (f"_mssql.json_str(to_char({ref}, 'HH24:MI:SS') "
                f"|| _mssql.iso_fraction(CAST('2000-01-01' AS date) + {ref}, {digits}))")
    if n == "datetimeoffset":
        digits = t.scale if t.scale is not None else 7
        return (f"_mssql.json_str(to_char(_mssql.dto_local({ref}), 'YYYY-MM-DD\"T\"HH24:MI:SS') "
                f"|| _mssql.iso_fraction(_mssql.dto_local({ref}), {digits}) "
                f"|| CASE WHEN ({ref}).off < 0 THEN '-' ELSE '+' END "
                f"|| lpad((abs(({ref}).off) / 60)::text, 2, '0') || ':' || lpad((abs(({ref}).off) % 60)::text, 2, '0'))")
    return f"_mssql.json_str(CAST({ref} AS text))"


def information_schema_type(t: SqlType) -> tuple:
    """(DATA_TYPE, CHARACTER_MAXIMUM_LENGTH, CHARACTER_OCTET_LENGTH, NUMERIC_PRECISION,
    NUMERIC_PRECISION_RADIX, NUMERIC_SCALE, DATETIME_PRECISION, CHARACTER_SET_NAME, COLLATION_NAME)
    as SQL Server's INFORMATION_SCHEMA.COLUMNS reports them."""
    n = t.name
    if n in ("char", "varchar", "nchar", "nvarchar"):
        octets = -1 if t.length == -1 else (t.length * 2 if n.startswith("n") else t.length)
        return (n, t.length, octets, None, None, None, None, "UNICODE" if n.startswith("n") else "iso_1",
                "Latin1_General_100_CI_AS_SC_UTF8")
    if n in ("binary", "varbinary"):
        return (n, t.length, t.length, None, None, None, None, None, None)
    if n == "xml":
        return (n, -1, -1, None, None, None, None, None, None)
    ints = {"tinyint": 3, "smallint": 5, "int": 10, "bigint": 19}
    if n in ints:
        return (n, None, None, ints[n], 10, 0, None, None, None)
    if n in ("decimal", "numeric"):
        return (n, None, None, t.precision, 10, t.scale, None, None, None)
    if n in ("money", "smallmoney"):
        return (n, None, None, 19 if n == "money" else 10, 10, 4, None, None, None)
    if n in ("real", "float"):
        return (n, None, None, 24 if n == "real" else 53, 2, None, None, None, None)
    if n == "bit":
        return (n, None, None, None, None, None, None, None, None)
    if n in ("date", "smalldatetime"):
        return (n, None, None, None, None, None, 0, None, None)
    if n == "datetime":
        return (n, None, None, None, None, None, 3, None, None)
    if n in ("time", "datetime2", "datetimeoffset"):
        return (n, None, None, None, None, None, t.scale, None, None)
    return (n, None, None, None, None, None, None, None, None)


def coerce_sql(t: SqlType, value_sql: str, node: exp.Expression | None = None) -> str:
    """A value written into a column of type t: datetimeoffset values go through _mssql.to_dto."""
    if t.name != "datetimeoffset":
        return value_sql
    if node is not None and (isinstance(node, exp.Null) or (
            isinstance(node, exp.Column) and node.name.upper() == "DEFAULT" and not node.table)):
        return value_sql
    return f"_mssql.to_dto({value_sql})"


def _replace_ci(haystack: str, needle: str, replacement: str) -> str:
    """REPLACE with SQL Server's case-insensitive matching (the default collation), literal patterns."""
    pattern = rf"regexp_replace(CAST({needle} AS text), '([.^$*+?()\[\]{{}}|\-])', '\\\1', 'g')"
    repl = rf"replace(CAST({replacement} AS text), '\', '\\')"
    return rf"""regexp_replace(CAST({haystack} AS text) COLLATE "default", {pattern}, {repl}, 'gi')"""
