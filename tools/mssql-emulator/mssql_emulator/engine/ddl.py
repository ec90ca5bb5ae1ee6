"""A small token parser for the T-SQL DDL subset (CREATE/ALTER/DROP TABLE, CREATE INDEX, ...).

sqlglot's T-SQL DDL support misses common forms (e.g. ``PRIMARY KEY CLUSTERED`` inline), so the
emulator parses DDL itself and uses sqlglot only for the expressions inside (DEFAULT, CHECK).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlglot.dialects.tsql import TSQL
from sqlglot.tokens import TokenType

from ..api import SqlError, SqlType
from .types import parse_type, unsupported


def syntax(near: str) -> SqlError:
    return SqlError(102, f"Incorrect syntax near '{near}'.", severity=15)


class _Tok:
    __slots__ = ("token_type", "text", "start", "end", "line")

    def __init__(self, token_type, text, start, end, line) -> None:
        self.token_type, self.text, self.start, self.end, self.line = token_type, text, start, end, line


def tokenize(sql: str) -> list:
    """sqlglot's T-SQL tokens, with multi-word keywords ('PRIMARY KEY') split into words."""
    out = []
    for t in TSQL().tokenize(sql):
        if (t.token_type not in (TokenType.STRING, TokenType.NATIONAL_STRING, TokenType.IDENTIFIER)
                and " " in t.text.strip()):
            pos = t.start
            for w in t.text.split():
                k = sql.find(w, pos)
                if k < 0:
                    k = pos
                out.append(_Tok(TokenType.VAR, w, k, k + len(w) - 1, t.line))
                pos = k + len(w)
        else:
            out.append(t)
    return out


class Cursor:
    def __init__(self, sql: str) -> None:
        self.sql = sql
        self.toks = tokenize(sql)
        self.i = 0

    def peek(self, k: int = 0):
        j = self.i + k
        return self.toks[j] if j < len(self.toks) else None

    def word(self, k: int = 0) -> str:
        t = self.peek(k)
        if t is None or t.token_type in (TokenType.STRING, TokenType.NATIONAL_STRING, TokenType.IDENTIFIER):
            return ""
        return t.text.upper()

    def at_end(self) -> bool:
        return self.i >= len(self.toks) or self.toks[self.i].token_type == TokenType.SEMICOLON

    def accept(self, *words: str) -> bool:
        if self.word() in words:
            self.i += 1
            return True
        return False

    def expect(self, *words: str) -> str:
        w = self.word()
        if w not in words:
            raise syntax(self.peek().text if self.peek() else "")
        self.i += 1
        return w

    def accept_if_exists(self) -> bool:
        """Consume an optional IF EXISTS (DROP … IF EXISTS name)."""
        if self.word() != "IF":
            return False
        self.i += 1
        self.expect("EXISTS")
        return True

    def accept_type(self, tt) -> bool:
        t = self.peek()
        if t is not None and t.token_type == tt:
            self.i += 1
            return True
        return False

    def expect_type(self, tt) -> None:
        if not self.accept_type(tt):
            t = self.peek()
            raise syntax(t.text if t else "")

    def name(self) -> str:
        t = self.peek()
        if t is not None and t.token_type == TokenType.HASH:
            raise unsupported("Temporary tables (#name)")
        if t is None or t.token_type in (TokenType.STRING, TokenType.NATIONAL_STRING, TokenType.L_PAREN,
                                         TokenType.R_PAREN, TokenType.COMMA, TokenType.SEMICOLON):
            raise syntax(t.text if t else "")
        self.i += 1
        return t.text

    def qualified(self) -> list[str]:
        parts = [self.name()]
        while self.accept_type(TokenType.DOT):
            parts.append(self.name())
        return parts

    def balanced(self) -> str:
        """Text of a parenthesised group, parentheses excluded."""
        self.expect_type(TokenType.L_PAREN)
        start = self.peek()
        depth = 1
        last = None
        while self.peek() is not None:
            t = self.peek()
            if t.token_type == TokenType.L_PAREN:
                depth += 1
            elif t.token_type == TokenType.R_PAREN:
                depth -= 1
                if depth == 0:
                    self.i += 1
                    if last is None:
                        return ""
                    return self.sql[start.start:last.end + 1]
            last = t
            self.i += 1
        raise syntax(")")

    def name_list(self) -> list[tuple[str, bool]]:
        self.expect_type(TokenType.L_PAREN)
        out = []
        while True:
            n = self.name()
            desc = False
            if self.accept("ASC"):
                pass
            elif self.accept("DESC"):
                desc = True
            out.append((n, desc))
            if self.accept_type(TokenType.COMMA):
                continue
            self.expect_type(TokenType.R_PAREN)
            return out

    def type_text(self) -> str:
        parts = [self.name()]
        if self.word() in ("VARYING", "PRECISION"):
            parts.append(self.name())
        text = " ".join(parts)
        if self.peek() is not None and self.peek().token_type == TokenType.L_PAREN:
            text += "(" + self.balanced() + ")"
        return text


@dataclass
class Constraint:
    kind: str  # 'pk' | 'unique' | 'fk' | 'check' | 'default'
    name: str | None = None
    columns: list[tuple[str, bool]] = field(default_factory=list)
    ref_table: list[str] = field(default_factory=list)
    ref_columns: list[str] = field(default_factory=list)
    on_delete: str | None = None
    on_update: str | None = None
    expr: str | None = None  # CHECK / DEFAULT text


@dataclass
class ColumnDef:
    name: str
    type: SqlType
    nullable: bool | None = None
    identity: tuple[int, int] | None = None
    constraints: list[Constraint] = field(default_factory=list)


def _ref_action(c: Cursor) -> str:
    if c.accept("CASCADE"):
        return "CASCADE"
    if c.accept("NO"):
        c.expect("ACTION")
        return "NO ACTION"
    if c.accept("SET"):
        w = c.expect("NULL", "DEFAULT")
        return "SET " + w
    raise syntax(c.peek().text if c.peek() else "")


def parse_constraint_body(c: Cursor, name: str | None, column: str | None) -> Constraint:
    if c.accept("PRIMARY"):
        c.expect("KEY")
        c.accept("CLUSTERED", "NONCLUSTERED")
        cols = c.name_list() if column is None else [(column, False)]
        _index_options(c)
        return Constraint("pk", name, cols)
    if c.accept("UNIQUE"):
        c.accept("CLUSTERED", "NONCLUSTERED")
        cols = c.name_list() if column is None else [(column, False)]
        _index_options(c)
        return Constraint("unique", name, cols)
    if c.word() in ("FOREIGN", "REFERENCES"):
        cols = [(column, False)] if column else []
        if c.accept("FOREIGN"):
            c.expect("KEY")
            if c.peek() is not None and c.peek().token_type == TokenType.L_PAREN:
                cols = c.name_list()
        c.expect("REFERENCES")
        ref = c.qualified()
        ref_cols = []
        if c.peek() is not None and c.peek().token_type == TokenType.L_PAREN:
            ref_cols = [n for n, _ in c.name_list()]
        con = Constraint("fk", name, cols, ref, ref_cols)
        while c.word() == "ON":
            c.i += 1
            which = c.expect("DELETE", "UPDATE")
            act = _ref_action(c)
            if which == "DELETE":
                con.on_delete = act
            else:
                con.on_update = act
        if c.accept("NOT"):
            c.expect("FOR")
            c.expect("REPLICATION")
        return con
    if c.accept("CHECK"):
        if c.accept("NOT"):
            c.expect("FOR")
            c.expect("REPLICATION")
        return Constraint("check", name, [(column, False)] if column else [], expr=c.balanced())
    if c.accept("DEFAULT"):
        return Constraint("default", name, [(column, False)] if column else [], expr=_default_expr(c))
    raise syntax(c.peek().text if c.peek() else "")


def _index_options(c: Cursor) -> None:
    if c.word() == "WITH" and c.peek(1) is not None and c.peek(1).token_type == TokenType.L_PAREN:
        c.i += 1
        c.balanced()
    if c.accept("ON"):
        c.name()


def _default_expr(c: Cursor) -> str:
    start = c.peek()
    if start is None:
        raise syntax("DEFAULT")
    if start.token_type == TokenType.L_PAREN:
        return "(" + c.balanced() + ")"
    if start.token_type == TokenType.DASH:
        c.i += 1
    c.i += 1
    end = c.toks[c.i - 1]
    if c.peek() is not None and c.peek().token_type == TokenType.L_PAREN:
        c.balanced()
        end = c.toks[c.i - 1]
    return c.sql[start.start:end.end + 1]


COLUMN_STOP = {"NULL", "NOT", "CONSTRAINT", "PRIMARY", "UNIQUE", "FOREIGN", "REFERENCES", "CHECK",
               "DEFAULT", "IDENTITY", "COLLATE", "CLUSTERED", "NONCLUSTERED", "ROWGUIDCOL", "SPARSE"}


def parse_column_def(c: Cursor) -> ColumnDef:
    name = c.name()
    if c.word() == "AS":
        raise unsupported("Computed columns")
    ttext = c.type_text()
    col = ColumnDef(name, parse_type(ttext))
    while not c.at_end() and c.peek().token_type not in (TokenType.COMMA, TokenType.R_PAREN):
        w = c.word()
        if w == "NULL":
            c.i += 1
            col.nullable = True
        elif w == "NOT":
            c.i += 1
            c.expect("NULL")
            col.nullable = False
        elif w == "IDENTITY":
            c.i += 1
            seed, inc = 1, 1
            if c.peek() is not None and c.peek().token_type == TokenType.L_PAREN:
                parts = [p.strip() for p in c.balanced().split(",")]
                seed, inc = int(parts[0]), int(parts[1])
            col.identity = (seed, inc)
        elif w == "COLLATE":
            c.i += 1
            coll = c.name()
            if "_CI_" not in coll.upper():
                raise unsupported(f"The collation {coll}")
        elif w in ("ROWGUIDCOL", "SPARSE"):
            raise unsupported(w)
        elif w == "CONSTRAINT":
            c.i += 1
            cname = c.name()
            col.constraints.append(parse_constraint_body(c, cname, name))
        else:
            col.constraints.append(parse_constraint_body(c, None, name))
    return col


def parse_table_item(c: Cursor):
    if c.accept("CONSTRAINT"):
        cname = c.name()
        return parse_constraint_body(c, cname, None)
    if c.word() in ("PRIMARY", "UNIQUE", "FOREIGN", "CHECK") and not (
            c.peek(1) is not None and c.peek(1).token_type == TokenType.VAR and c.word() == "CHECK" and False):
        if c.word() == "UNIQUE" or c.word() == "PRIMARY" or c.word() == "FOREIGN" or c.word() == "CHECK":
            return parse_constraint_body(c, None, None)
    if c.word() == "INDEX":
        raise unsupported("Inline INDEX definitions in CREATE TABLE")
    return parse_column_def(c)
