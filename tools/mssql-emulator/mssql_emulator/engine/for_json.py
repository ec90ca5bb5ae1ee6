"""SELECT … FOR JSON translated onto Postgres (TEST FIXTURE): a mixin of Translator."""

from __future__ import annotations

import json

from sqlglot import exp

from ..api import SqlError, SqlType
from .pgsql import literal
from .types import unsupported


class ForJsonMixin:
    """for_json_sql of Translator."""

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
