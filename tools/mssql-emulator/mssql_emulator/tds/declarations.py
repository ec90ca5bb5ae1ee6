"""The parameter declaration list of ``sp_executesql`` / ``sp_prepare`` / ``sp_prepexec``.

TEST FIXTURE: part of the SQL Server emulator.

SQL Server binds the values a client sends to the parameters *declared* in ``@params``
(e.g. ``N'@id int, @name nvarchar(50) OUTPUT'``): the declared type is the parameter's type inside the
statement, and the sent value is converted to it. This module parses that list (a small, closed
grammar: ``@name type[(n|max|p[,s])] [= default] [OUT|OUTPUT] [READONLY]``), binds sent parameters to
it by name or position, and does the implicit conversions SQL Server does for values whose family
differs from the declared type. Conversions it does not know fail with error 8114, as SQL Server's
failed conversions do.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from mssql_emulator.api import Param, SqlError, SqlType
from mssql_emulator.tds.requests import RpcParam

_DECL = re.compile(
    r"""^\s*(?P<name>@[\w@#$]+)\s+(?:AS\s+)?
        (?P<type>(?:\[?\w+\]?\.)?\[?[a-zA-Z_]\w*\]?(?:\s+(?:varying|precision))?)\s*
        (?:\(\s*(?P<a>max|\d+)\s*(?:,\s*(?P<b>\d+)\s*)?\))?
        (?P<rest>.*)$""", re.IGNORECASE | re.VERBOSE | re.DOTALL)
_REST = re.compile(r"^\s*(?:=\s*(?P<default>N?'(?:[^']|'')*'|[-+]?[\w.]+))?\s*"
                   r"(?P<out>\bOUT(?:PUT)?\b)?\s*(?P<ro>\bREADONLY\b)?\s*$", re.IGNORECASE)

_ALIASES = {"integer": "int", "dec": "decimal", "double precision": "float", "character": "char",
            "char varying": "varchar", "character varying": "varchar", "national": "nchar",
            "sysname": "nvarchar", "rowversion": "binary", "timestamp": "binary"}
_KNOWN = {"bit", "tinyint", "smallint", "int", "bigint", "decimal", "numeric", "money", "smallmoney",
          "real", "float", "char", "varchar", "nchar", "nvarchar", "binary", "varbinary", "date",
          "time", "smalldatetime", "datetime", "datetime2", "datetimeoffset", "uniqueidentifier"}


@dataclass(frozen=True)
class Declaration:
    name: str
    type: SqlType
    output: bool
    default: Any
    has_default: bool


def _split_top_level(text: str) -> list[str]:
    parts, depth, cur, quote = [], 0, [], False
    for ch in text:
        if ch == "'":
            quote = not quote
        elif not quote and ch == "(":
            depth += 1
        elif not quote and ch == ")":
            depth -= 1
        if ch == "," and depth == 0 and not quote:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    if "".join(cur).strip():
        parts.append("".join(cur))
    return parts


def _declared_type(raw: str, a: str | None, b: str | None) -> SqlType:
    name = re.sub(r"\s+", " ", raw.replace("[", "").replace("]", "").lower())
    if name.startswith("sys."):
        name = name[4:]
    if name == "sysname":
        return SqlType("nvarchar", length=128)
    name = _ALIASES.get(name, name)
    if name == "timestamp" or name == "rowversion":
        return SqlType("binary", length=8)
    if name not in _KNOWN:
        raise SqlError(2715, f"Column, parameter, or variable #1: Cannot find data type {raw}.",
                       state=3)
    if name in ("char", "varchar", "nchar", "nvarchar", "binary", "varbinary"):
        if a is None:
            return SqlType(name, length=1)
        return SqlType(name, length=-1 if a.lower() == "max" else int(a))
    if name in ("decimal", "numeric"):
        return SqlType(name, precision=int(a) if a else 18, scale=int(b) if b else 0)
    if name in ("time", "datetime2", "datetimeoffset"):
        return SqlType(name, scale=int(a) if a else 7)
    if name == "float" and a is not None:
        return SqlType("real" if int(a) <= 24 else "float")
    return SqlType(name)


def _literal(text: str) -> Any:
    if text.upper() == "NULL":
        return None
    if text[:1] in ("'", "N", "n") and text.endswith("'"):
        return text[text.index("'") + 1:-1].replace("''", "'")
    try:
        return int(text)
    except ValueError:
        try:
            return Decimal(text)
        except InvalidOperation:
            raise SqlError(102, f"Incorrect syntax near '{text}'.") from None


def parse_declarations(text: str | None) -> list[Declaration]:
    """Parse ``@params``. Syntax errors raise SqlError 102 like SQL Server's parser."""
    if not text or not text.strip():
        return []
    out: list[Declaration] = []
    for part in _split_top_level(text):
        m = _DECL.match(part)
        rest = _REST.match(m.group("rest")) if m else None
        if not m or not rest:
            raise SqlError(102, f"Incorrect syntax near '{part.strip()[:40]}'.")
        has_default = rest.group("default") is not None
        out.append(Declaration(
            name=m.group("name"),
            type=_declared_type(m.group("type"), m.group("a"), m.group("b")),
            output=rest.group("out") is not None,
            default=_literal(rest.group("default")) if has_default else None,
            has_default=has_default))
    names = [d.name.lower() for d in out]
    for i, n in enumerate(names):
        if n in names[:i]:
            raise SqlError(134, f"The variable name '{out[i].name}' has already been declared. "
                                "Variable names must be unique within a query batch or stored procedure.")
    return out


def bind(declarations: list[Declaration], sent: list[RpcParam], statement: str,
         declaration_text: str, procedure: str = "sp_executesql") -> list[Param]:
    """Bind sent parameters to declarations (named ones by name, the others by position) and
    convert each value to its declared type."""
    by_name = {d.name.lower(): i for i, d in enumerate(declarations)}
    values: dict[int, RpcParam] = {}
    position = 0
    for p in sent:
        if p.name:
            idx = by_name.get(p.name.lower())
            if idx is None:
                if len(sent) > len(declarations):
                    raise SqlError(8144, f"Procedure or function {procedure} has too many arguments "
                                         "specified.", severity=16, state=2, procedure=procedure)
                raise SqlError(8145, f"{p.name} is not a parameter for procedure {procedure}.",
                               severity=16, state=1, procedure=procedure)
        else:
            if position >= len(declarations):
                raise SqlError(8144, f"Procedure or function {procedure} has too many arguments "
                                     "specified.", severity=16, state=2, procedure=procedure)
            idx = position
        position += 1
        values[idx] = p
    params: list[Param] = []
    for i, d in enumerate(declarations):
        p = values.get(i)
        if p is None or p.default:
            if not d.has_default:
                raise SqlError(8178, f"The parameterized query '({declaration_text}){statement[:64]}' "
                                     f"expects the parameter '{d.name}', which was not supplied.",
                               severity=16, state=1)
            params.append(Param(d.name, d.type, d.default, output=d.output and bool(p and p.byref)))
            continue
        value = convert(p.value, p.type_info.sql_type(), d.type)
        params.append(Param(d.name, d.type, value, output=d.output and p.byref))
    return params


_NUMERIC = {"bit", "tinyint", "smallint", "int", "bigint", "decimal", "numeric", "money",
            "smallmoney", "real", "float"}
_INTS = {"tinyint", "smallint", "int", "bigint"}
_STRINGS = {"char", "varchar", "nchar", "nvarchar"}
_BINARY = {"binary", "varbinary"}


def _conversion_error(value: Any, source: SqlType, target: SqlType) -> SqlError:
    return SqlError(8114, f"Error converting data type {source.name} to {target.name}.", state=5)


def convert(value: Any, source: SqlType, target: SqlType) -> Any:
    """Implicit conversion of a sent value to the declared type (the subset of SQL Server's implicit
    conversions clients rely on when the sent TYPE_INFO differs from the declaration)."""
    if value is None:
        return None
    t = target.name
    try:
        if t in _INTS:
            if isinstance(value, bool):
                return int(value)
            if isinstance(value, (int, Decimal, float)):
                return int(value)
            if isinstance(value, str):
                return int(value.strip())
        elif t == "bit":
            if isinstance(value, (bool, int, Decimal, float)):
                return bool(value)
            if isinstance(value, str):
                v = value.strip().lower()
                if v in ("true", "false"):
                    return v == "true"
                return bool(int(v))
        elif t in ("decimal", "numeric", "money", "smallmoney"):
            if isinstance(value, (int, Decimal, bool)):
                return Decimal(int(value) if isinstance(value, bool) else value)
            if isinstance(value, float):
                return Decimal(repr(value))
            if isinstance(value, str):
                return Decimal(value.strip())
        elif t in ("real", "float"):
            if isinstance(value, (int, float, Decimal, bool)):
                return float(value)
            if isinstance(value, str):
                return float(value.strip())
        elif t in _STRINGS:
            if isinstance(value, str):
                return value
            if isinstance(value, bool):
                return "1" if value else "0"
            if isinstance(value, (int, Decimal)):
                return str(value)
            if isinstance(value, uuid.UUID):
                return str(value).upper()
            if isinstance(value, (dt.date, dt.time)):
                return value.isoformat(sep=" ") if isinstance(value, dt.datetime) else value.isoformat()
        elif t in _BINARY:
            if isinstance(value, (bytes, bytearray)):
                return bytes(value)
        elif t == "uniqueidentifier":
            if isinstance(value, uuid.UUID):
                return value
            if isinstance(value, str):
                return uuid.UUID(value.strip())
            if isinstance(value, bytes) and len(value) == 16:
                return uuid.UUID(bytes_le=value)
        elif t == "date":
            if isinstance(value, dt.datetime):
                return value.date()
            if isinstance(value, dt.date):
                return value
            if isinstance(value, str):
                return dt.date.fromisoformat(value.strip()[:10])
        elif t == "time":
            if isinstance(value, dt.datetime):
                return value.time().replace(tzinfo=None)
            if isinstance(value, dt.time):
                return value
            if isinstance(value, str):
                return dt.time.fromisoformat(value.strip())
        elif t in ("datetime", "smalldatetime", "datetime2"):
            if isinstance(value, dt.datetime):
                return value.replace(tzinfo=None) if value.tzinfo else value
            if isinstance(value, dt.date):
                return dt.datetime(value.year, value.month, value.day)
            if isinstance(value, str):
                return dt.datetime.fromisoformat(value.strip())
        elif t == "datetimeoffset":
            if isinstance(value, dt.datetime):
                return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
            if isinstance(value, dt.date):
                return dt.datetime(value.year, value.month, value.day, tzinfo=dt.timezone.utc)
            if isinstance(value, str):
                v = dt.datetime.fromisoformat(value.strip())
                return v if v.tzinfo else v.replace(tzinfo=dt.timezone.utc)
    except (ValueError, InvalidOperation, ArithmeticError):
        raise _conversion_error(value, source, target) from None
    raise _conversion_error(value, source, target)
