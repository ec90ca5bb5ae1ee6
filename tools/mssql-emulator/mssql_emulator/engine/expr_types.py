"""The SQL Server type of a T-SQL expression and of a projection list (TEST FIXTURE): a mixin of
Translator, used for result metadata and implicit conversions."""

from __future__ import annotations

from sqlglot import exp

from ..api import SqlType
from .cdc import CDC_FUNCS
from .scope import Output
from .types import BIGINT, BIT, DATETIME, DT2, DTO, IDENT, INT, SYSNAME, is_string, parse_type


class ExpressionTypesMixin:
    """type_of, cast_type and outputs_for of Translator."""

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
