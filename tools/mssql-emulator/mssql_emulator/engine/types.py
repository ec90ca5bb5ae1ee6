"""SQL Server types: parsing, defaults, and their Postgres representation (TEST FIXTURE)."""

from __future__ import annotations

import re

from ..api import SqlError, SqlType

_TYPE_RE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_ ]*?)\s*(?:\(\s*([^)]*)\s*\))?\s*$")

# SQL Server type names understood by the emulator.
_STRINGS = {"char", "varchar", "nchar", "nvarchar"}
_BINARIES = {"binary", "varbinary"}
_SIMPLE = {"bit", "tinyint", "smallint", "int", "bigint", "money", "smallmoney", "real", "date",
           "datetime", "smalldatetime", "uniqueidentifier", "xml"}
_SCALED_TIME = {"time", "datetime2", "datetimeoffset"}
_ALIASES = {"integer": "int", "dec": "decimal", "double precision": "float", "text": "varchar",
            "ntext": "nvarchar", "sysname": "nvarchar", "character": "char",
            "character varying": "varchar", "national character varying": "nvarchar",
            "national character": "nchar", "image": "varbinary"}


def unsupported(what: str) -> SqlError:
    return SqlError(40000, f"{what} is not supported by the SQL Server emulator (TEST FIXTURE)",
                    severity=16)


def parse_type(text: str, *, cast: bool = False) -> SqlType:
    """Parse a T-SQL type as written ('nvarchar(200)', 'DECIMAL(18, 2)', 'varbinary(max)')."""
    m = _TYPE_RE.match(text)
    if not m:
        raise unsupported(f"The type {text!r}")
    raw_name = " ".join(m.group(1).lower().split())
    args = [a.strip().lower() for a in m.group(2).split(",")] if m.group(2) else []
    name = _ALIASES.get(raw_name, raw_name)
    if raw_name in ("text", "ntext", "image"):
        return SqlType(name, length=-1)
    if raw_name == "sysname":
        return SqlType("nvarchar", length=128)
    if name in _STRINGS or name in _BINARIES:
        if not args:
            length = 30 if cast else 1
        elif args[0] == "max":
            length = -1
        else:
            length = int(args[0])
            limit = 4000 if name.startswith("n") else 8000
            if length < 1 or length > limit:
                raise SqlError(131, f"The size ({length}) given to the type '{name}' exceeds the "
                               f"maximum allowed for any data type ({limit}).", severity=15)
        return SqlType(name, length=length)
    if name in ("decimal", "numeric"):
        p = int(args[0]) if args else 18
        s = int(args[1]) if len(args) > 1 else 0
        if not 1 <= p <= 38 or not 0 <= s <= p:
            raise SqlError(2750, f"Column or parameter has specified a precision of {p}. "
                           "The maximum precision is 38.", severity=16)
        return SqlType(name, precision=p, scale=s)
    if name == "float":
        n = int(args[0]) if args else 53
        return SqlType("real") if n <= 24 else SqlType("float")
    if name in _SCALED_TIME:
        s = int(args[0]) if args else 7
        if not 0 <= s <= 7:
            raise SqlError(1002, f"Specified scale {s} is invalid.", severity=16)
        return SqlType(name, scale=s)
    if name in _SIMPLE:
        if args:
            raise SqlError(2716, f"Column, parameter, or variable : Cannot specify a column width "
                           f"on data type {name}.", severity=16)
        return SqlType(name)
    raise unsupported(f"The data type '{raw_name}'")


# SQL Server types whose Postgres type does not depend on length, precision or scale.
_PG_FIXED = {
    "bit": "smallint",  # 0/1, so T-SQL's `bit_column = 1` works as written
    "tinyint": "smallint", "smallint": "smallint", "int": "integer", "bigint": "bigint",
    "money": "numeric(19,4)", "smallmoney": "numeric(10,4)", "real": "real", "float": "double precision",
    "date": "date", "datetime": "timestamp(3)", "smalldatetime": "timestamp(0)",
    "datetimeoffset": "_mssql.dto",  # (instant, offset minutes): SQL Server keeps the offset a value was written with
    "uniqueidentifier": "uuid",
    "xml": "xml",  # untyped xml (no schema collection): well-formed content, as SQL Server checks
}


def pg_type(t: SqlType) -> str:
    """The Postgres type storing a SQL Server type (collation excluded)."""
    n = t.name
    if n in _PG_FIXED:
        return _PG_FIXED[n]
    if n in ("varchar", "nvarchar"):
        return "text" if t.length == -1 else f"varchar({t.length})"
    if n in ("char", "nchar"):
        return f"char({t.length})"
    if n in _BINARIES:
        return "bytea"
    if n in ("decimal", "numeric"):
        return f"numeric({t.precision},{t.scale})"
    if n == "time":
        return f"time({min(t.scale, 6)})"
    if n == "datetime2":
        return f"timestamp({min(t.scale, 6)})"
    raise unsupported(f"The data type '{n}'")


def is_string(t: SqlType) -> bool:
    return t.name in _STRINGS


def sql_text(t: SqlType) -> str:
    """The T-SQL spelling of a type ('nvarchar(200)', 'decimal(18,2)')."""
    if t.name in _STRINGS or t.name in _BINARIES:
        return f"{t.name}({'max' if t.length == -1 else t.length})"
    if t.name in ("decimal", "numeric"):
        return f"{t.name}({t.precision},{t.scale})"
    if t.name in _SCALED_TIME:
        return f"{t.name}({t.scale})"
    return t.name


# Postgres type name (asyncpg Type.name) -> SQL Server type, for expressions whose origin is unknown.
PG_FALLBACK = {
    "bool": SqlType("bit"), "int2": SqlType("smallint"), "int4": SqlType("int"),
    "int8": SqlType("bigint"), "numeric": SqlType("decimal", precision=38, scale=6),
    "float4": SqlType("real"), "float8": SqlType("float"),
    "text": SqlType("nvarchar", length=4000), "varchar": SqlType("nvarchar", length=4000),
    "bpchar": SqlType("nchar", length=4000), "name": SqlType("nvarchar", length=128),
    "bytea": SqlType("varbinary", length=8000), "date": SqlType("date"),
    "time": SqlType("time", scale=6), "timestamp": SqlType("datetime2", scale=6),
    "timestamptz": SqlType("datetimeoffset", scale=6), "dto": SqlType("datetimeoffset", scale=7),
    "uuid": SqlType("uniqueidentifier"),
    "unknown": SqlType("varchar", length=8000), "oid": SqlType("int"),
    "xid8": SqlType("bigint"), "interval": SqlType("nvarchar", length=100),
}


def fix_real(text: str) -> str:
    """sqlglot reads REAL as FLOAT(53); spell it float(24) (the same type in SQL Server)."""
    return re.sub(r"(?i)(?<![\w\[\"@.])real(?![\w\]\"])", "float(24)", text)


# SQL Server types the translator and the catalog views name often
INT = SqlType("int")
BIGINT = SqlType("bigint")
BIT = SqlType("bit")
LSN = SqlType("binary", length=10)
DATETIME = SqlType("datetime")
DT2 = SqlType("datetime2", scale=7)
DTO = SqlType("datetimeoffset", scale=7)
SYSNAME = SqlType("nvarchar", length=128)
IDENT = SqlType("numeric", precision=38, scale=0)
