"""EXEC and user stored procedures of a session: CREATE/ALTER PROCEDURE, argument binding, the
body run in its own variable scope, RETURN and OUTPUT parameters (TEST FIXTURE)."""

from __future__ import annotations

import json
import re
from typing import Any, AsyncIterator

from sqlglot.tokens import TokenType

from ..api import Done, Param, ResultItem, ReturnStatus, ReturnValue, SqlError, SqlType, StatementError
from . import procs
from .ddl import Cursor, syntax
from .flow import BatchReturn, DeferredArg
from .pgsql import literal
from .splitter import split_batch
from .types import parse_type, unsupported


PROC_DDL = re.compile(r"(?is)^\s*(?:(?:--[^\n]*(?:\n|$)|/\*.*?\*/)\s*)*(CREATE\s+OR\s+ALTER|CREATE|ALTER)\s+PROC(?:EDURE)?\b")


class ProceduresMixin:
    """EXEC of system and user procedures, CREATE/ALTER PROCEDURE."""

    def _parse_exec(self, text: str, implicit: bool = False):
        c = Cursor(text)
        if not implicit:
            c.i += 1
        if c.peek() is not None and c.peek().token_type == TokenType.PARAMETER:
            raise unsupported("EXEC @return_status = procedure")
        if c.peek() is not None and c.peek().token_type == TokenType.L_PAREN:
            raise unsupported("EXEC (dynamic SQL string)")
        parts = c.qualified()
        name = ".".join(parts)
        args: dict[str, Any] = {}
        positional: list[Any] = []
        while not c.at_end():
            tok = c.peek()
            pname = None
            if tok.token_type == TokenType.PARAMETER and c.peek(2) is not None and c.peek(2).token_type == TokenType.EQ:
                pname = "@" + c.peek(1).text.lower()
                c.i += 3
            start = c.peek()
            if start is None:
                raise syntax(name)
            depth = 0
            while not c.at_end():
                t = c.peek()
                if t.token_type == TokenType.L_PAREN:
                    depth += 1
                elif t.token_type == TokenType.R_PAREN:
                    depth -= 1
                elif t.token_type == TokenType.COMMA and depth == 0:
                    break
                c.i += 1
            end = c.toks[c.i - 1]
            vtext = c.sql[start.start:end.end + 1].strip()
            if vtext.upper().endswith(" OUTPUT") or vtext.upper().endswith(" OUT"):
                raise unsupported("OUTPUT parameters in EXEC")
            value = DeferredArg(vtext)
            if pname:
                args[pname] = value
            else:
                if args:
                    raise SqlError(119, "Must pass parameter number 2 and subsequent parameters as '@name = value'. "
                                   "After the form '@name = value' has been used, all subsequent parameters must "
                                   "be passed in the form '@name = value'.", severity=15)
                positional.append(value)
            if not c.accept_type(TokenType.COMMA):
                break
        if not c.at_end():
            raise syntax(c.peek().text)
        return name, args, positional

    async def _call_proc(self, name: str, args: dict, positional: list) -> AsyncIterator[ResultItem]:
        for k, v in list(args.items()):
            if isinstance(v, DeferredArg):
                args[k] = await self._eval_arg(v.text)
        positional = [await self._eval_arg(v.text) if isinstance(v, DeferredArg) else v for v in positional]
        proc = self._user_procedure(name)
        if proc is not None:
            async for item in self._run_procedure(proc, args, positional, outputs={}, nested=True):
                yield item
            return
        async for item in procs.call(self, name, args, positional):
            yield item

    def _user_procedure(self, name: str) -> dict | None:
        parts = [p.strip().strip("[]\"") for p in name.split(".")]
        if len(parts) == 3:
            if parts[0].lower() != self.db.name.lower():
                return None
            parts = parts[1:]
        schema = parts[0] if len(parts) == 2 else "dbo"
        return getattr(self.db, "procedures", {}).get((schema.lower(), parts[-1].lower()))

    async def _create_procedure(self, sql: str) -> AsyncIterator[ResultItem]:
        m = PROC_DDL.match(sql)
        verb = " ".join(m.group(1).upper().split())
        rest = sql[m.end():]
        c = Cursor(rest)
        parts = c.qualified()
        if len(parts) > 2:
            raise unsupported("A procedure name with a database part")
        schema = parts[0] if len(parts) == 2 else "dbo"
        pname = parts[-1]
        if schema.lower() not in self.db.schemas:
            raise SqlError(2760, f'The specified schema name "{schema}" either does not exist or you do not '
                           "have permission to use it.")
        # parameters up to AS
        asm = re.search(r"(?is)\bAS\b", rest[c.toks[c.i - 1].end + 1:]) if c.toks else None
        if asm is None:
            raise syntax(pname)
        head = rest[c.toks[c.i - 1].end + 1:][:asm.start()].strip()
        after_as = rest[c.toks[c.i - 1].end + 1:][asm.end():]
        body = after_as.strip()
        # errors in the body report lines counted from the start of the CREATE batch, as SQL Server's do
        body_pos = m.end() + c.toks[c.i - 1].end + 1 + asm.end() + (len(after_as) - len(after_as.lstrip()))
        body_line = sql[:body_pos].count("\n") + 1
        if head.startswith("(") and head.endswith(")"):
            head = head[1:-1]
        if re.search(r"(?i)\bWITH\b", head):
            raise unsupported("CREATE PROCEDURE ... WITH options")
        params = []
        for item in [x for x in re.split(r",(?![^(]*\))", head) if x.strip()]:
            pm = re.match(r"(?is)^\s*(@\w+)\s+(?:AS\s+)?([A-Za-z_][\w ]*?(?:\([^)]*\))?)\s*(?:=\s*(.+?))?"
                          r"\s*(OUTPUT|OUT)?\s*(READONLY)?\s*$", item)
            if not pm or pm.group(5):
                raise syntax(item.strip().split()[0] if item.strip() else pname)
            t = parse_type(pm.group(2).strip(), cast=True)
            params.append({"name": pm.group(1), "type": [t.name, t.length, t.precision, t.scale],
                           "default": pm.group(3), "output": bool(pm.group(4))})
        split_batch(body)  # syntax check now, as SQL Server compiles the body at CREATE
        key = (schema.lower(), pname.lower())
        procs_ = self.db.__dict__.setdefault("procedures", {})
        exists = key in procs_
        if verb == "CREATE" and exists:
            raise SqlError(2714, f"There is already an object named '{pname}' in the database.")
        if verb == "ALTER" and not exists:
            raise SqlError(208, f"Invalid object name '{pname}'.")
        info = {"schema": self.db.schemas[schema.lower()], "name": pname, "params": params, "body": body,
                "body_line": body_line}
        await self.execute_ddl(
            "CREATE TABLE IF NOT EXISTS _mssql.procedures(schema_name text, name text, info jsonb, "
            "PRIMARY KEY (schema_name, name)); "
            f"INSERT INTO _mssql.procedures VALUES ({literal(key[0])}, {literal(key[1])}, {literal(json.dumps(info))}::jsonb) "
            "ON CONFLICT (schema_name, name) DO UPDATE SET info = EXCLUDED.info")
        procs_[key] = info
        yield Done(None)

    async def _run_procedure(self, proc: dict, args: dict, positional: list, outputs: dict,
                             nested: bool = False) -> AsyncIterator[ResultItem]:
        pdefs = proc["params"]
        if len(positional) > len(pdefs):
            raise SqlError(8144, f"Procedure or function {proc['name']} has too many arguments specified.")
        saved_vars, saved_scope = self.variables, self.scope_identity
        # SET TRANSACTION ISOLATION LEVEL in a procedure lasts until it returns (SQL Server docs)
        saved_isolation = self.options.get("ISOLATION")
        self.variables = {}
        self.scope_identity = None
        status = 0
        try:
            given = {}
            for i, v in enumerate(positional):
                given[pdefs[i]["name"].lower()] = v
            names = {d["name"].lower() for d in pdefs}
            for k, v in args.items():
                if k not in names:
                    raise SqlError(8145, f"{k} is not a parameter for procedure {proc['name']}.")
                given[k] = v
            for d in pdefs:
                n, ln, pr, sc = d["type"]
                t = SqlType(n, ln, pr, sc)
                key = d["name"].lower()
                if key in given and given[key] is not procs.DEFAULT:
                    v = given[key]
                elif d["default"] is not None:
                    v = await self._scalar(d["default"], t)
                elif d["output"]:
                    v = None
                else:
                    raise SqlError(201, f"Procedure or function '{proc['name']}' expects parameter "
                                   f"'{d['name']}', which was not supplied.")
                self.variables[key] = (t, v)
            try:
                for node in split_batch(proc["body"]):
                    async for item in self._run_node(node):
                        if isinstance(item, StatementError):
                            _in_procedure(item.error, proc)
                        yield item
            except BatchReturn as r:
                status = r.value
            except SqlError as e:
                _in_procedure(e, proc)
                raise
            values = {d["name"].lower(): self.variables.get(d["name"].lower()) for d in pdefs if d["output"]}
        finally:
            self.variables, self.scope_identity = saved_vars, saved_scope
            if saved_isolation is None:
                self.options.pop("ISOLATION", None)
            else:
                self.options["ISOLATION"] = saved_isolation
        yield ReturnStatus(status)
        for d in pdefs:
            key = d["name"].lower()
            if d["output"] and key in outputs and values.get(key) is not None:
                t, v = values[key]
                yield ReturnValue(Param(outputs[key], t, v, output=True))

    async def _eval_arg(self, text: str) -> Any:
        if text.upper() == "DEFAULT":
            return procs.DEFAULT
        if re.fullmatch(r"(?i)0x[0-9a-f]*", text):
            return bytes.fromhex(text[2:])
        if re.fullmatch(r"[A-Za-z_]\w*", text) and text.upper() not in ("NULL",):
            return text  # T-SQL allows unquoted identifiers as string arguments
        return await self._scalar(text)


def _in_procedure(e: SqlError, proc: dict) -> None:
    """An error raised in a procedure's body: its name and the line within its CREATE batch."""
    if getattr(e, "_proc_set", False):
        return  # a nested procedure's
    e._proc_set = True
    e.procedure = proc["name"]
    e.line = max(e.line, 1) + proc.get("body_line", 1) - 1
