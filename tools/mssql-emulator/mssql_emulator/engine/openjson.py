"""OPENJSON(expr [, path]) [WITH (...)] as a table source, translated onto Postgres's json functions
(TEST FIXTURE).

What it follows (Microsoft's "OPENJSON (Transact-SQL)" and "JSON Path Expressions"):
- the default schema: one row per array element (key = its index) or object property (key = its name),
  columns key nvarchar(4000) NOT NULL, value nvarchar(max) (strings unescaped, numbers and true/false as
  written, arrays and objects as their JSON text, JSON null as NULL), type int NOT NULL (0 null, 1 string,
  2 number, 3 true/false, 4 array, 5 object); document order; NULL input is an empty set;
- path: `[lax|strict] $` followed by `.key`, `."quoted key"` and `[n]` steps (case-sensitive, BIN2);
  lax (the default) returns an empty set where the path finds nothing, strict raises 13608; a path that
  reaches a scalar raises 13611; text that is not a JSON object or array raises 13609;
- the explicit schema `WITH (colName type [column_path] [AS JSON], ...)`: column_path defaults to
  `$.colName`; a scalar converted to the column type as CAST does (true/false to bit as 1/0); a missing
  property, JSON null, or (without AS JSON) an object or array is NULL in lax mode, and in strict mode
  anything but a present value of the right kind raises 13608; AS JSON returns the fragment's text and
  needs nvarchar(max) (13618).
- Not emulated (refused as outside the subset): binary/varbinary columns in WITH (the documentation
  does not say how a JSON string converts to binary), a variable as the path, CROSS/OUTER APPLY.

The JSON text travels as a bound Postgres parameter ($n) when it is a variable or an sp_executesql
parameter (`Translator.bind`, numbered by `bind_statement` when the statement runs), never spliced
into the SQL text.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

from ..api import SqlError, SqlType
from .catalog import ColumnInfo
from .pgsql import literal, qi, raw
from .scope import Source
from .types import pg_type, unsupported

# Errors raised inside Postgres carry SQLSTATE 'MJ' + the last three digits of SQL Server's number
# (13608 -> MJ608); errors.py maps them back.
OPENJSON_SQL = r"""
CREATE OR REPLACE FUNCTION _mssql.oj_parse(js text) RETURNS json LANGUAGE plpgsql IMMUTABLE AS $f$
DECLARE d json; detail text; tok text;
BEGIN
  BEGIN
    d := js::json;
  EXCEPTION WHEN invalid_text_representation THEN
    GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
    tok := coalesce(substring(detail FROM 'Token "(.*)" is invalid'), '');
    RAISE EXCEPTION 'JSON text is not properly formatted. Unexpected character ''%'' is found at position %.',
      left(tok, 1), greatest(strpos(js, tok) - 1, 0) USING ERRCODE = 'MJ609';
  END;
  IF json_typeof(d) NOT IN ('object', 'array') THEN
    RAISE EXCEPTION 'JSON text is not properly formatted. Unexpected character ''%'' is found at position 0.',
      left(btrim(js), 1) USING ERRCODE = 'MJ609';
  END IF;
  RETURN d;
END $f$;
CREATE OR REPLACE FUNCTION _mssql.oj_walk(d json, steps text[]) RETURNS json LANGUAGE plpgsql IMMUTABLE AS $f$
-- steps: 'k<name>' (object property) or 'i<index>' (array element); SQL NULL where nothing is found
DECLARE cur json := d; s text;
BEGIN
  FOREACH s IN ARRAY steps LOOP
    IF cur IS NULL THEN RETURN NULL; END IF;
    IF left(s, 1) = 'k' THEN
      IF json_typeof(cur) <> 'object' THEN RETURN NULL; END IF;
      cur := cur -> substr(s, 2);
    ELSE
      IF json_typeof(cur) <> 'array' THEN RETURN NULL; END IF;
      cur := cur -> substr(s, 2)::int;
    END IF;
  END LOOP;
  RETURN cur;
END $f$;
CREATE OR REPLACE FUNCTION _mssql.oj_type(v json) RETURNS integer LANGUAGE sql IMMUTABLE AS $f$
  SELECT CASE json_typeof(v) WHEN 'null' THEN 0 WHEN 'string' THEN 1 WHEN 'number' THEN 2
                             WHEN 'boolean' THEN 3 WHEN 'array' THEN 4 ELSE 5 END $f$;
CREATE OR REPLACE FUNCTION _mssql.openjson(js text, strict boolean, steps text[])
RETURNS TABLE(k text, v json, t integer) LANGUAGE plpgsql IMMUTABLE AS $f$
DECLARE d json;
BEGIN
  IF js IS NULL THEN RETURN; END IF;
  d := _mssql.oj_walk(_mssql.oj_parse(js), steps);
  IF d IS NULL THEN
    IF strict THEN
      RAISE EXCEPTION 'Property cannot be found on the specified JSON path.' USING ERRCODE = 'MJ608';
    END IF;
    RETURN;
  END IF;
  IF json_typeof(d) = 'array' THEN
    RETURN QUERY SELECT (a.o - 1)::text, a.e, _mssql.oj_type(a.e) FROM json_array_elements(d) WITH ORDINALITY AS a(e, o);
  ELSIF json_typeof(d) = 'object' THEN
    RETURN QUERY SELECT p.key, p.value, _mssql.oj_type(p.value) FROM json_each(d) AS p;
  ELSIF json_typeof(d) = 'null' AND NOT strict THEN
    RETURN;
  ELSE
    RAISE EXCEPTION 'Value referenced by JSON path is not an array or object and cannot be opened with OPENJSON.'
      USING ERRCODE = 'MJ611';
  END IF;
END $f$;
CREATE OR REPLACE FUNCTION _mssql.oj_value(v json) RETURNS text LANGUAGE sql IMMUTABLE AS $f$
  SELECT CASE WHEN json_typeof(v) IN ('object', 'array') THEN NULL ELSE v #>> '{}' END $f$;
CREATE OR REPLACE FUNCTION _mssql.oj_fragment(v json) RETURNS text LANGUAGE sql IMMUTABLE AS $f$
  SELECT CASE WHEN json_typeof(v) IN ('object', 'array') THEN v::text END $f$;
CREATE OR REPLACE FUNCTION _mssql.oj_strict(v json, as_json boolean) RETURNS text LANGUAGE plpgsql IMMUTABLE AS $f$
BEGIN
  IF v IS NULL OR (as_json AND json_typeof(v) NOT IN ('object', 'array'))
     OR (NOT as_json AND json_typeof(v) IN ('object', 'array')) THEN
    RAISE EXCEPTION 'Property cannot be found on the specified JSON path.' USING ERRCODE = 'MJ608';
  END IF;
  RETURN CASE WHEN as_json THEN v::text ELSE v #>> '{}' END;
END $f$;
"""

DEFAULT_COLUMNS = [ColumnInfo("key", SqlType("nvarchar", length=4000), False, False, 1),
                   ColumnInfo("value", SqlType("nvarchar", length=-1), True, False, 2),
                   ColumnInfo("type", SqlType("int"), False, False, 3)]


@dataclass
class JsonPath:
    strict: bool
    steps: list[tuple[str, str | int]]  # ("k", name) or ("i", index)

    def steps_sql(self) -> str:
        items = [literal(("k" + v) if k == "k" else f"i{v}") for k, v in self.steps]
        return f"ARRAY[{', '.join(items)}]::text[]" if items else "ARRAY[]::text[]"


def _path_error(ch: str, pos: int) -> SqlError:
    return SqlError(13607, f"JSON path is not properly formatted. Unexpected character '{ch}' is found at position {pos}.")


def parse_path(text: str) -> JsonPath:
    """A JSON path expression as SQL Server documents it ("JSON Path Expressions")."""
    i, n = 0, len(text)
    strict = False
    low = text.lower()
    for mode in ("lax", "strict"):
        if low.startswith(mode) and n > len(mode) and text[len(mode)].isspace():
            strict = mode == "strict"
            i = len(mode)
            while i < n and text[i].isspace():
                i += 1
            break
    if i >= n or text[i] != "$":
        raise _path_error(text[i] if i < n else "", i)
    i += 1
    steps: list[tuple[str, str | int]] = []
    while i < n:
        c = text[i]
        if c == ".":
            i += 1
            if i < n and text[i] == '"':
                j = i + 1
                out = []
                while j < n and text[j] != '"':
                    if text[j] == "\\" and j + 1 < n:
                        esc = text[j + 1]
                        if esc == "u" and j + 5 < n:
                            out.append(chr(int(text[j + 2:j + 6], 16)))
                            j += 6
                            continue
                        out.append({"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f"}.get(esc, esc))
                        j += 2
                        continue
                    out.append(text[j])
                    j += 1
                if j >= n:
                    raise _path_error(text[i], i)
                steps.append(("k", "".join(out)))
                i = j + 1
            else:
                j = i
                while j < n and (text[j].isalnum() or text[j] == "_"):
                    j += 1
                if j == i or text[i].isdigit():
                    raise _path_error(text[i] if i < n else "", i)
                steps.append(("k", text[i:j]))
                i = j
        elif c == "[":
            j = text.find("]", i)
            inner = text[i + 1:j].strip() if j > 0 else ""
            if j < 0 or not inner.isdigit():
                raise _path_error(c, i)
            steps.append(("i", int(inner)))
            i = j + 1
        else:
            raise _path_error(c, i)
    return JsonPath(strict, steps)


def _as_text(value_sql: str, t: SqlType) -> str:
    """A JSON scalar's text converted to the column type as SQL Server's CAST does."""
    if t.name == "bit":
        return (f"(CASE WHEN ({value_sql}) IS NULL THEN NULL WHEN lower({value_sql}) = 'true' THEN 1 "
                f"WHEN lower({value_sql}) = 'false' THEN 0 WHEN CAST({value_sql} AS numeric) <> 0 THEN 1 ELSE 0 END)::smallint")
    if t.name == "datetimeoffset":
        return f"_mssql.to_dto({value_sql})"
    return f"CAST({value_sql} AS {pg_type(t)})"


class OpenJsonMixin:
    """The Translator's OPENJSON: its typed columns (for the statement's sources) and its SQL."""

    def openjson_columns(self, fn: exp.OpenJSON) -> list[ColumnInfo]:
        defs = fn.expressions or []
        if not defs:
            return list(DEFAULT_COLUMNS)
        cols = []
        for i, d in enumerate(defs):
            t = self.cast_type(d.args["kind"])
            if t.name in ("binary", "varbinary", "image", "timestamp", "rowversion"):
                raise unsupported("A binary column in OPENJSON ... WITH (how SQL Server converts a JSON string to "
                                  "binary is not documented)")
            if d.args.get("as_json") and not (t.name == "nvarchar" and t.length == -1):
                raise SqlError(13618, "AS JSON option can be specified only for column of nvarchar(max) type in WITH clause.")
            cols.append(ColumnInfo(d.this.name, t, True, False, i + 1))
        return cols

    def openjson_source(self, node: exp.Table) -> Source:
        return Source((node.alias or "openjson").lower(), self.openjson_columns(node.this), None)

    def openjson_sql(self, node: exp.Table) -> str:
        fn: exp.OpenJSON = node.this
        arg = fn.this
        if isinstance(arg, exp.Parameter) and not isinstance(arg.this, exp.Parameter):
            name = "@" + arg.name.lower()
            if name not in self.ctx.variables:
                raise SqlError(137, f'Must declare the scalar variable "@{arg.name}".', severity=15)
            js = f"CAST({self.bind(name, self.ctx.variables[name][1])} AS text)"
        else:
            js = f"CAST({self.translate_expr(arg).sql(dialect='postgres')} AS text)"
        path_node = fn.args.get("path")
        if path_node is None or path_node is False:
            path = JsonPath(False, [])
        elif isinstance(path_node, exp.Literal) and path_node.is_string or isinstance(path_node, exp.National):
            path = parse_path(path_node.this if isinstance(path_node, exp.National) else path_node.name)
        else:
            raise unsupported("A path of OPENJSON that is not a string literal")
        rows = f"_mssql.openjson({js}, {'true' if path.strict else 'false'}, {path.steps_sql()}) AS _oj"
        cols = self.openjson_columns(fn)
        if not fn.expressions:
            body = (f'SELECT _oj.k AS "key", (CASE WHEN _oj.t IN (4, 5) THEN _oj.v::text ELSE _oj.v #>> \'{{}}\' END) '
                    f'AS "value", _oj.t AS "type" FROM {rows}')
        else:
            projections = []
            for d, c in zip(fn.expressions, cols):
                cp = d.args.get("path")
                cpath = parse_path(cp.name) if cp is not None else JsonPath(False, [("k", d.this.name)])
                walk = "_oj.v" + "".join(f" -> {literal(v)}" if k == "k" else f" -> {int(v)}" for k, v in cpath.steps)
                as_json = bool(d.args.get("as_json"))
                if cpath.strict:
                    text = f"_mssql.oj_strict({walk}, {'true' if as_json else 'false'})"
                else:
                    text = f"_mssql.oj_{'fragment' if as_json else 'value'}({walk})"
                projections.append(f"{_as_text(text, c.type)} AS {qi(c.name)}")
            body = f"SELECT {', '.join(projections)} FROM {rows}"
        alias = node.args.get("alias")
        alias_sql = self.translate_expr(alias).sql(dialect="postgres") if alias is not None else qi("openjson")
        lateral = "LATERAL " if isinstance(node.parent, exp.Join) else ""
        return raw(f"{lateral}({body}) AS {alias_sql}")
