"""Split a T-SQL batch into statements and IF / BEGIN...END blocks (TEST FIXTURE).

T-SQL does not require semicolons between statements, so the batch is tokenised (sqlglot's T-SQL
tokenizer) and split where a new statement must begin.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlglot.dialects.tsql import TSQL
from sqlglot.errors import TokenError
from sqlglot.tokens import TokenType

from ..api import SqlError

_STARTERS = {"SELECT", "INSERT", "UPDATE", "DELETE", "MERGE", "CREATE", "ALTER", "DROP", "TRUNCATE",
             "BEGIN", "COMMIT", "ROLLBACK", "SAVE", "SET", "DECLARE", "EXEC", "EXECUTE", "USE", "IF",
             "ELSE", "PRINT", "WITH", "RETURN", "WHILE", "GRANT", "DENY", "REVOKE", "RAISERROR",
             "THROW", "WAITFOR", "END", "BREAK", "CONTINUE", "GOTO", "OPEN", "CLOSE", "FETCH",
             "DEALLOCATE", "BULK", "CHECKPOINT", "DBCC", "KILL", "BACKUP", "RESTORE", "SHUTDOWN"}
_NO_SPLIT_AFTER = {"UNION", "ALL", "EXCEPT", "INTERSECT", "THEN", "AS", "UPDATE", "DELETE",
                   "INSERT", "FOR", "NOT", "BY"}
_LITERALS = {TokenType.STRING, TokenType.NATIONAL_STRING, TokenType.IDENTIFIER}


@dataclass
class Stmt:
    text: str
    line: int
    first: str  # upper-case first keyword


@dataclass
class IfNode:
    condition: str
    then: object
    otherwise: object | None
    line: int


@dataclass
class Block:
    body: list = field(default_factory=list)


def _syntax(near: str, line: int = 1) -> SqlError:
    return SqlError(102, f"Incorrect syntax near '{near}'.", severity=15, line=line)


class _Parser:
    def __init__(self, sql: str) -> None:
        self.sql = sql
        try:
            self.toks = [t for t in TSQL().tokenize(sql)]
        except TokenError as e:
            raise SqlError(105, f"Unclosed quotation mark after the character string '{sql[-20:]}'.",
                           severity=15) from e
        self.i = 0

    def word(self, k: int) -> str:
        if k >= len(self.toks):
            return ""
        t = self.toks[k]
        if t.token_type in _LITERALS:
            return ""
        if k > 0 and self.toks[k - 1].token_type == TokenType.PARAMETER and t.token_type != TokenType.PARAMETER:
            return ""  # @name
        return t.text.upper()

    def line(self, k: int) -> int:
        return self.toks[k].line if k < len(self.toks) else 1

    def parse_list(self, in_block: bool) -> list:
        out = []
        while self.i < len(self.toks):
            w = self.word(self.i)
            if self.toks[self.i].token_type == TokenType.SEMICOLON:
                self.i += 1
                continue
            if w == "END" and in_block:
                return out
            if w == "ELSE":
                raise _syntax("ELSE", self.line(self.i))
            out.append(self.parse_statement(first_in_batch=not out and not in_block))
        if in_block:
            raise _syntax("END" if not self.toks else self.toks[-1].text, self.line(len(self.toks) - 1))
        return out

    def parse_statement(self, first_in_batch: bool = False):
        w = self.word(self.i)
        if w == "IF":
            line = self.line(self.i)
            self.i += 1
            start = self.i
            depth = 0
            case_depth = 0
            while self.i < len(self.toks):
                t = self.toks[self.i]
                w = self.word(self.i)
                if t.token_type == TokenType.L_PAREN:
                    depth += 1
                elif t.token_type == TokenType.R_PAREN:
                    depth -= 1
                elif depth == 0 and w == "CASE":
                    case_depth += 1
                elif depth == 0 and w == "END" and case_depth > 0:
                    case_depth -= 1
                elif depth == 0 and case_depth == 0 and self.i > start and w in _STARTERS:
                    break
                self.i += 1
            if self.i >= len(self.toks):
                raise _syntax(self.toks[-1].text, line)
            cond = self.sql[self.toks[start].start:self.toks[self.i - 1].end + 1]
            then = self.parse_statement()
            while self.i < len(self.toks) and self.toks[self.i].token_type == TokenType.SEMICOLON:
                self.i += 1
            otherwise = None
            if self.word(self.i) == "ELSE":
                self.i += 1
                otherwise = self.parse_statement()
            return IfNode(cond, then, otherwise, line)
        if w == "BEGIN" and self.word(self.i + 1) not in ("TRAN", "TRANSACTION", "DISTRIBUTED", "TRY", "CATCH"):
            self.i += 1
            body = self.parse_list(in_block=True)
            self.i += 1  # END
            return Block(body)
        return self.simple(first_in_batch)

    def simple(self, first_in_batch: bool) -> Stmt:
        start = self.i
        kind = self.word(start)
        if kind not in _STARTERS and not first_in_batch:
            raise _syntax(self.toks[start].text, self.line(start))
        depth = 0
        case_depth = 0
        seen_body = False  # INSERT: VALUES/SELECT seen; WITH: main statement seen; UPDATE: SET seen
        self.i += 1
        while self.i < len(self.toks):
            t = self.toks[self.i]
            if t.token_type == TokenType.SEMICOLON and depth == 0:
                break
            if t.token_type == TokenType.L_PAREN:
                depth += 1
            elif t.token_type == TokenType.R_PAREN:
                depth -= 1
            elif depth == 0:
                w = self.word(self.i)
                prev = self.word(self.i - 1)
                if w == "CASE":
                    case_depth += 1
                elif w == "END" and case_depth > 0:
                    case_depth -= 1
                elif case_depth > 0:
                    pass  # WHEN/THEN/ELSE/END of a CASE expression
                elif (w in _STARTERS and prev not in _NO_SPLIT_AFTER
                      and not (prev == "ON" and w in ("DELETE", "UPDATE"))
                      and self._splits(kind, w, seen_body)):
                    break
                if kind == "INSERT" and w in ("VALUES", "SELECT", "DEFAULT", "EXEC", "EXECUTE"):
                    seen_body = True
                elif kind == "WITH" and w in ("SELECT", "INSERT", "UPDATE", "DELETE", "MERGE"):
                    seen_body = True
                    kind = "WITH " + w
                elif kind == "UPDATE" and w == "SET":
                    seen_body = True
            self.i += 1
        end_tok = self.toks[self.i - 1]
        return Stmt(self.sql[self.toks[start].start:end_tok.end + 1], self.line(start), kind)

    def _splits(self, kind: str, w: str, seen_body: bool) -> bool:
        if w == "SELECT":
            if kind == "INSERT" and not seen_body:
                return False
            if kind == "WITH" or kind in ("CREATE", "ALTER"):
                return False
            return True
        if w in ("INSERT", "UPDATE", "DELETE"):
            return not (kind == "WITH" or kind == "MERGE")
        if w == "SET":
            if kind == "UPDATE" and not seen_body:
                return False
            if kind in ("ALTER", "MERGE", "WITH UPDATE"):
                return False
            return True
        if w in ("DROP", "ALTER"):
            return kind != "ALTER" or self.word(self.i + 1) in (
                "TABLE", "DATABASE", "INDEX", "SCHEMA", "VIEW", "PROCEDURE", "PROC", "FUNCTION",
                "TRIGGER", "LOGIN", "USER", "ROLE")
        if w == "WITH":
            nxt = self.toks[self.i + 1].token_type if self.i + 1 < len(self.toks) else None
            return nxt != TokenType.L_PAREN and kind not in ("CREATE", "ALTER", "MERGE") and kind in (
                "SELECT", "INSERT", "UPDATE", "DELETE", "SET", "DECLARE", "EXEC", "EXECUTE",
                "COMMIT", "ROLLBACK", "BEGIN", "USE", "PRINT", "TRUNCATE", "DROP") and self._cte_ahead()
        if w == "EXEC" or w == "EXECUTE":
            return not (kind == "INSERT" and not seen_body)
        if w == "ROLLBACK":
            return self.word(self.i - 1) != "WITH"  # ALTER DATABASE … WITH ROLLBACK IMMEDIATE | AFTER n
        if w == "FETCH":
            return False  # OFFSET ... FETCH NEXT
        if w == "CLOSE" or w == "OPEN":
            return kind not in ("SET", "ALTER")
        return True

    def _cte_ahead(self) -> bool:
        return self.i + 2 < len(self.toks) and (self.word(self.i + 2) == "AS" or
                                                 self.toks[self.i + 2].token_type == TokenType.L_PAREN)


def split_batch(sql: str) -> list:
    p = _Parser(sql)
    return p.parse_list(in_block=False)
