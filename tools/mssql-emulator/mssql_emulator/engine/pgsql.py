"""Postgres SQL text: verbatim nodes, quoted identifiers and literals of Python values (TEST FIXTURE)."""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from typing import Any

from sqlglot import exp

from ..api import SqlType
from .types import pg_type, unsupported


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
