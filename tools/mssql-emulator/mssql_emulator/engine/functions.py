"""T-SQL built-in functions, @@globals, variables, LIKE, DATEPART and HASHBYTES translated onto
Postgres (TEST FIXTURE): a mixin of Translator."""

from __future__ import annotations

from sqlglot import exp

from ..api import SqlError, SqlType
from .pgsql import literal, raw
from .types import unsupported


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

# The niladic date/time functions (of the statement's start, as SQL Server evaluates them once per statement).
CLOCK_FUNCTIONS = {
    "GETUTCDATE": "_mssql.dt(statement_timestamp() AT TIME ZONE 'UTC')",
    "SYSDATETIME": "CAST(statement_timestamp() AS timestamp(6))",
    "SYSUTCDATETIME": "CAST(statement_timestamp() AT TIME ZONE 'UTC' AS timestamp(6))",
    "SYSDATETIMEOFFSET": "_mssql.to_dto(statement_timestamp())",
}

# Functions translated by a template: name -> (fewest arguments, most arguments, Postgres SQL of {0}, {1}, …).
TEMPLATE_FUNCTIONS = {
    "LEN": (1, 1, "length(rtrim(CAST({0} AS text)))"),
    "ISNULL": (2, 2, "COALESCE({0}, {1})"),
    "ROUND": (2, 3, "round({0}, {1})"),
    "REPLICATE": (2, 2, "repeat({0}, {1})"),
    "SUBSTRING": (3, 3, "substr({0}, {1}, {2})"),
    "SPACE": (1, 1, "repeat(' ', {0})"),
    "EOMONTH": (1, 1, "CAST(date_trunc('month', {0}) + INTERVAL '1 month - 1 day' AS date)"),
}


class FunctionsMixin:
    """Function calls and scalar leaves of Translator's walk."""

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

        if name in CLOCK_FUNCTIONS:
            nargs(0, 0)
            return raw(CLOCK_FUNCTIONS[name])
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
        if name in TEMPLATE_FUNCTIONS:
            lo, hi, template = TEMPLATE_FUNCTIONS[name]
            nargs(lo, hi)
            return raw(template.format(*args))
        if name in ("LTRIM", "RTRIM", "REVERSE", "ABS", "FLOOR", "CEILING", "SIGN", "SQRT", "EXP",
                    "LOG10", "SQUARE"):
            nargs(1, 1)
            pg = {"CEILING": "ceil", "SQUARE": "(%s)^2"}.get(name, name.lower())
            return raw(pg % args[0] if "%s" in pg else f"{pg}({args[0]})")
        if name in ("REPLACE",):
            nargs(3, 3)
            return raw(_replace_ci(*args))
        if name in ("YEAR", "MONTH", "DAY"):
            nargs(1, 1)
            return raw(f"CAST(extract({name.lower()} FROM {args[0]}) AS integer)")
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


def _replace_ci(haystack: str, needle: str, replacement: str) -> str:
    """REPLACE with SQL Server's case-insensitive matching (the default collation), literal patterns."""
    pattern = rf"regexp_replace(CAST({needle} AS text), '([.^$*+?()\[\]{{}}|\-])', '\\\1', 'g')"
    repl = rf"replace(CAST({replacement} AS text), '\', '\\')"
    return rf"""regexp_replace(CAST({haystack} AS text) COLLATE "default", {pattern}, {repl}, 'gi')"""
