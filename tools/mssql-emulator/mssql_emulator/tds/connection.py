"""One client connection (MS-TDS 3.3 server role) — TEST FIXTURE: part of the SQL Server emulator.

Lifecycle: PRELOGIN → LOGIN7 → login response → request loop. Requests (SQL batch, RPC) run one at a
time in a task; a reader task keeps reading so that an ATTENTION (2.2.1.7) can cancel the running
request. The cancelled response ends on a token boundary, followed by DONE with DONE_ATTN; an
ATTENTION that arrives when nothing runs is answered with a response holding only that DONE.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from mssql_emulator.api import Param, Server, Session, SqlError, SqlType
from mssql_emulator.tds import tokens
from mssql_emulator.tds.collation import SERVER_COLLATION
from mssql_emulator.tds.constants import (
    DEFAULT_PACKET_SIZE, DONE_ERROR, MAX_PACKET_SIZE, MAX_SUPPORTED_TDS, MIN_PACKET_SIZE,
    MIN_SUPPORTED_TDS, RETVAL_OUTPUT, STATUS_RESETCONNECTION, STATUS_RESETCONNECTIONSKIPTRAN,
    TDS73A, CMD_EXECUTE, EnvChangeType, FeatureId, PacketType, ProcId, Token,
)
from mssql_emulator.tds.datatypes import ValueEncodingError, column_codec
from mssql_emulator.tds.declarations import Declaration, bind, parse_declarations
from mssql_emulator.tds.errors import ProtocolError
from mssql_emulator.tds.login import Login7, parse_login7
from mssql_emulator.tds.packets import Message, PacketReader, PacketWriter
from mssql_emulator.tds.prelogin import build_prelogin_response, parse_prelogin
from mssql_emulator.tds.requests import (
    ISOLATION_LEVELS, TM_BEGIN_XACT, TM_COMMIT_XACT, TM_ROLLBACK_XACT, TM_SAVE_XACT, RpcCall,
    RpcParam, parse_rpc, parse_sql_batch, parse_transaction_request,
)
from mssql_emulator.tds.response import INTERNAL_ERROR, Outcome, ResponseStream, stream_items

log = logging.getLogger("mssql_emulator.tds")

_ATTENTION = object()
_CLOSED = object()

LANGUAGE = "us_english"
_CURSOR_PROCS = {ProcId.SP_CURSOR, ProcId.SP_CURSOROPEN, ProcId.SP_CURSORPREPARE,
                 ProcId.SP_CURSOREXECUTE, ProcId.SP_CURSORPREPEXEC, ProcId.SP_CURSORUNPREPARE,
                 ProcId.SP_CURSORFETCH, ProcId.SP_CURSOROPTION, ProcId.SP_CURSORCLOSE,
                 ProcId.SP_PREPEXECRPC}
_NAMED_PROCS = {"sp_executesql": ProcId.SP_EXECUTESQL, "sp_prepare": ProcId.SP_PREPARE,
                "sp_execute": ProcId.SP_EXECUTE, "sp_prepexec": ProcId.SP_PREPEXEC,
                "sp_unprepare": ProcId.SP_UNPREPARE}


def _not_supported(what: str) -> SqlError:
    return SqlError(INTERNAL_ERROR, f"{what} is not supported by the SQL Server emulator.")


def _system_proc_id(call: RpcCall) -> int | None:
    """The well-known id of an RPC, also when it is called by name (sp_executesql, sys.sp_executesql,
    master..sp_executesql, [sys].[sp_executesql])."""
    if call.proc_id is not None:
        return call.proc_id
    name = call.name.replace("[", "").replace("]", "").lower()
    for prefix in ("master.sys.", "master..", "master.dbo.", "sys.", "dbo."):
        if name.startswith(prefix):
            name = name[len(prefix):]
            break
    return _NAMED_PROCS.get(name)


# Errors of a login that found the credentials good but could not open the session's database.
LOGIN_FOLLOWED_BY_18456 = {4060, 924}


class Prepared:
    __slots__ = ("statement", "declaration_text", "declarations")

    def __init__(self, statement: str, declaration_text: str, declarations: list[Declaration]):
        self.statement = statement
        self.declaration_text = declaration_text
        self.declarations = declarations


class Connection:
    def __init__(self, server: Server, server_name: str, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter, spid: int) -> None:
        self.server = server
        self.server_name = server_name
        self.spid = spid
        self.peer = writer.get_extra_info("peername")
        self._reader = PacketReader(reader)
        self._writer = writer
        self.out = PacketWriter(writer, DEFAULT_PACKET_SIZE, spid)
        self.stream = ResponseStream(self.out, server_name, nbcrow=False)
        self.session: Session | None = None
        self.login: Login7 | None = None
        self.tds_version = 0
        self.requests = 0
        self.outcome = "closed before login"
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._current: asyncio.Task | None = None
        self._attention = False
        self._prepared: dict[int, Prepared] = {}
        self._next_handle = 1

    # ---------------------------------------------------------------------------------------------
    async def run(self) -> None:
        started = time.monotonic()
        reader_task: asyncio.Task | None = None
        try:
            msg = await self._reader.read_message()
            if msg.type == PacketType.PRELOGIN:
                parse_prelogin(msg.payload)
                self.out.append(build_prelogin_response(parse_prelogin(msg.payload)))
                await self.out.end_message()
                msg = await self._reader.read_message()
            if msg.type == PacketType.PRE_TDS7_LOGIN:
                raise ProtocolError("TDS 4.2/5.0 login: the emulator speaks TDS 7.2-7.4 only")
            if msg.type != PacketType.LOGIN7:
                raise ProtocolError(f"expected LOGIN7, got packet type {msg.type}")
            if not await self._login(msg.payload):
                return
            reader_task = asyncio.create_task(self._read_loop())
            await self._process_loop()
        except EOFError:
            pass
        except ProtocolError as e:
            self.outcome = f"protocol error: {e}"
            log.warning("spid %d from %s: %s", self.spid, self.peer, e)
        except (ConnectionError, asyncio.IncompleteReadError):
            self.outcome = "connection lost"
        finally:
            if reader_task is not None:
                reader_task.cancel()
            if self._current is not None:
                self._current.cancel()
            if self.session is not None:
                try:
                    await self.session.close()
                except Exception:  # noqa: BLE001 - closing must not mask the connection's outcome
                    log.exception("spid %d: session.close() failed", self.spid)
            self._writer.close()
            lg = self.login
            log.info("spid=%d peer=%s user=%s app=%r db=%s tds=%s requests=%d duration=%.1fs: %s",
                     self.spid, _peer(self.peer), lg.username if lg else "-",
                     lg.app_name if lg else "", self.session.database if self.session else "-",
                     _version_text(self.tds_version) if self.tds_version else "-", self.requests,
                     time.monotonic() - started, self.outcome)

    # ---------------------------------------------------------------------------------------------
    async def _login(self, payload: bytes) -> bool:
        """LOGIN7 → login response (2.2.6.4, 2.2.7.14). Returns False after a failed login."""
        login = parse_login7(payload)
        self.login = login
        stream = self.stream
        if login.tds_version < MIN_SUPPORTED_TDS:
            return await self._login_failed(SqlError(
                INTERNAL_ERROR, f"The client requested TDS version {_version_text(login.tds_version)}; "
                                "the SQL Server emulator supports TDS 7.2, 7.3 and 7.4.",
                severity=20))
        self.tds_version = min(login.tds_version, MAX_SUPPORTED_TDS)
        stream.nbcrow = self.tds_version >= TDS73A
        if login.integrated_security:
            return await self._login_failed(SqlError(
                18452, "Login failed. The login is from an untrusted domain and cannot be used with "
                       "Integrated authentication. (The SQL Server emulator supports SQL logins only.)",
                severity=14))
        if FeatureId.FEDAUTH in login.features:
            return await self._login_failed(_not_supported("Federated authentication"))
        if login.change_password:
            return await self._login_failed(_not_supported("Changing the password at login"))
        try:
            self.session = await self.server.authenticate(
                login.username, login.password, login.database or None, login.app_name)
        except SqlError as e:
            return await self._login_failed(e)
        except Exception as e:  # noqa: BLE001 - reported to the client, logged with traceback
            log.exception("spid %d: authenticate failed", self.spid)
            return await self._login_failed(SqlError(INTERNAL_ERROR, f"emulator internal error: {e}",
                                                     severity=20))
        self._watch_kill()
        size = login.packet_size or DEFAULT_PACKET_SIZE
        size = max(MIN_PACKET_SIZE, min(MAX_PACKET_SIZE, size))
        db = self.session.database
        stream.token(tokens.envchange_text(EnvChangeType.DATABASE, db, "master"))
        stream.token(tokens.info(5701, f"Changed database context to '{db}'.", state=2,
                                 server=self.server_name))
        stream.token(tokens.envchange_bytes(EnvChangeType.SQL_COLLATION, SERVER_COLLATION, b""))
        stream.token(tokens.envchange_text(EnvChangeType.LANGUAGE, LANGUAGE, ""))
        stream.token(tokens.info(5703, f"Changed language setting to {LANGUAGE}.", state=1,
                                 server=self.server_name))
        stream.token(tokens.loginack(self.tds_version))
        if login.features:
            acks: dict[int, bytes] = {}
            if FeatureId.UTF8_SUPPORT in login.features:
                acks[FeatureId.UTF8_SUPPORT] = b"\x01"
            stream.token(tokens.featureextack(acks))
        stream.token(tokens.envchange_text(EnvChangeType.PACKET_SIZE, str(size), str(size)))
        stream.done(Token.DONE, 0)
        stream.finish()
        await self.out.end_message()
        self.out.packet_size = size
        self.outcome = "closed"
        return True

    def _watch_kill(self) -> None:
        """A session the engine ends (ALTER DATABASE … WITH ROLLBACK IMMEDIATE, KILL) loses its
        connection, as with SQL Server: the socket is closed without a response."""
        if self.session is not None and hasattr(self.session, "on_kill"):
            def killed() -> None:
                self.outcome = "killed by the server"
                self._writer.transport.abort()
            self.session.on_kill = killed

    async def _login_failed(self, e: SqlError) -> bool:
        if e.number in LOGIN_FOLLOWED_BY_18456 and not any(p.number == 18456 for p in e.preceding):
            # SQL Server follows "cannot open database" errors with 18456 in the same login response
            # (clients such as pytds retry a login until they see 18456)
            user = self.login.username if self.login else ""
            e = e.with_followup(SqlError(18456, f"Login failed for user '{user}'.", severity=14))
        self.outcome = f"login failed: {e.number} {e.message}"
        self.stream.error(e)
        self.stream.done(Token.DONE, DONE_ERROR)
        self.stream.finish()
        await self.out.end_message()
        return False

    # ---------------------------------------------------------------------------------------------
    async def _read_loop(self) -> None:
        """Reads requests into the queue; handles ATTENTION immediately."""
        try:
            while True:
                msg = await self._reader.read_message()
                if msg.type == PacketType.ATTENTION:
                    current = self._current
                    if current is not None and not current.done():
                        self._attention = True
                        current.cancel()
                    else:
                        self._queue.put_nowait(_ATTENTION)
                else:
                    self._queue.put_nowait(msg)
        except (EOFError, ConnectionError, asyncio.IncompleteReadError):
            pass
        except ProtocolError as e:
            self.outcome = f"protocol error: {e}"
            log.warning("spid %d from %s: %s", self.spid, self.peer, e)
        finally:
            current = self._current
            if current is not None and not current.done():
                current.cancel()
            self._queue.put_nowait(_CLOSED)

    async def _process_loop(self) -> None:
        while True:
            item = await self._queue.get()
            if item is _CLOSED:
                return
            if item is _ATTENTION:
                await self._ack_attention()
                continue
            self.requests += 1
            self._attention = False
            task = asyncio.create_task(self._handle(item))
            self._current = task
            try:
                await asyncio.wait({task})
            finally:
                self._current = None
            if self._attention:
                self._attention = False
                if not task.cancelled() and task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
                await self._ack_attention()
            elif task.cancelled():
                return  # the client went away
            elif task.exception() is not None:
                raise task.exception()  # type: ignore[misc]

    async def _ack_attention(self) -> None:
        """Stop what the engine was doing, then end the (possibly half-sent) response with
        DONE(DONE_ATTN)."""
        if self.session is not None:
            try:
                await self.session.cancel()
            except Exception:  # noqa: BLE001
                log.exception("spid %d: session.cancel() failed", self.spid)
        self.stream.attention_ack()
        await self.out.end_message()

    # ---------------------------------------------------------------------------------------------
    async def _handle(self, msg: Message) -> None:
        """One request → one response message."""
        stream = self.stream
        stream.reset()
        try:
            if msg.status & (STATUS_RESETCONNECTION | STATUS_RESETCONNECTIONSKIPTRAN):
                await self._reset_connection()
                stream.token(tokens.envchange_bytes(EnvChangeType.RESET_CONNECTION_ACK, b"", b""))
            if msg.type == PacketType.SQL_BATCH:
                batch = parse_sql_batch(msg.payload)
                await self._run_batch(batch.text)
            elif msg.type == PacketType.RPC:
                req = parse_rpc(msg.payload)
                for call in req.calls:
                    await self._run_rpc(call)
            elif msg.type == PacketType.TRANSACTION_MANAGER:
                await self._run_transaction_request(msg.payload)
            elif msg.type == PacketType.BULK_LOAD:
                raise _not_supported("Bulk load (BCP in / INSERT BULK)")
            else:
                raise ProtocolError(f"unexpected packet type {msg.type} after login")
        except ProtocolError as e:
            if msg.type not in (PacketType.SQL_BATCH, PacketType.RPC, PacketType.TRANSACTION_MANAGER):
                raise
            # A malformed or unsupported request body; framing is intact, so answer it.
            stream.error(SqlError(INTERNAL_ERROR, f"The SQL Server emulator cannot process the "
                                                  f"request: {e}", severity=16))
            stream.done(Token.DONE, DONE_ERROR)
        except SqlError as e:
            stream.error(e)
            stream.done(Token.DONE, DONE_ERROR)
        stream.finish()
        await self.out.end_message()

    async def _reset_connection(self) -> None:
        """RESETCONNECTION (2.2.3.1.2): reset the session as sp_reset_connection would — a new
        session with the login's credentials and initial database."""
        if self.session is not None:
            await self.session.close()
            self.session = None
        lg = self.login
        assert lg is not None
        self.session = await self.server.authenticate(lg.username, lg.password, lg.database or None,
                                                      lg.app_name)
        self._watch_kill()
        self._prepared.clear()
        self.stream.in_transaction = False

    async def _run_batch(self, text: str) -> None:
        assert self.session is not None
        stream = self.stream
        try:
            await stream_items(stream, self.session.execute(text, None), in_proc=False,
                               capture_status=False)
        except SqlError as e:
            stream.error(e)
            stream.done(Token.DONE, DONE_ERROR)
        except (asyncio.CancelledError, ConnectionError):
            raise
        except Exception as e:  # noqa: BLE001 - an engine bug: tell the client, keep the connection
            log.exception("spid %d: the engine failed on a batch", self.spid)
            stream.error(SqlError(INTERNAL_ERROR, f"emulator internal error: {type(e).__name__}: {e}"))
            stream.done(Token.DONE, DONE_ERROR)

    async def _run_transaction_request(self, payload: bytes) -> None:
        """Transaction manager request (2.2.6.9): local transactions only, run as the equivalent
        T-SQL through the engine so that it produces the transaction ENVCHANGEs."""
        req = parse_transaction_request(payload)

        def quoted(name: str) -> str:
            return " [" + name.replace("]", "]]") + "]" if name else ""

        def begin(level: int, name: str) -> list[str]:
            out = []
            if level:
                if level not in ISOLATION_LEVELS:
                    raise ProtocolError(f"unknown isolation level {level} in a transaction request")
                out.append(f"SET TRANSACTION ISOLATION LEVEL {ISOLATION_LEVELS[level]}")
            out.append("BEGIN TRANSACTION" + quoted(name))
            return out

        if req.request_type == TM_BEGIN_XACT:
            statements = begin(req.isolation_level, req.name)
        elif req.request_type in (TM_COMMIT_XACT, TM_ROLLBACK_XACT):
            verb = "COMMIT" if req.request_type == TM_COMMIT_XACT else "ROLLBACK"
            statements = [f"{verb} TRANSACTION" + quoted(req.name)]
            if req.begin_after:
                statements += begin(req.new_isolation_level, req.new_name)
        elif req.request_type == TM_SAVE_XACT:
            statements = ["SAVE TRANSACTION" + quoted(req.name)]
        else:
            raise _not_supported(f"Distributed transactions (transaction manager request type "
                                 f"{req.request_type})")
        for sql in statements:
            await self._run_batch(sql)

    # ---------------------------------------------------------------------------------------------
    async def _run_rpc(self, call: RpcCall) -> None:
        """One RPC: results with DONEINPROC, then RETURNSTATUS, RETURNVALUEs, DONEPROC (2.2.2.5-6)."""
        assert self.session is not None
        stream = self.stream
        pid = _system_proc_id(call)
        outputs: list[tuple[int, RpcParam, SqlType, str]] = []  # ordinal, sent param, type, name
        outcome = Outcome()
        terminated = False
        extra_values: dict[str, tuple[SqlType, Any]] = {}
        try:
            if pid in _CURSOR_PROCS:
                raise _not_supported(f"The API server cursor procedure {call.display_name}")
            if pid == ProcId.SP_EXECUTESQL:
                stmt, decl_text = self._statement_params(call, 0, 1, "sp_executesql")
                decls = parse_declarations(decl_text)
                outcome = await self._execute(stmt, decl_text, decls, call, 2, outputs)
            elif pid == ProcId.SP_PREPARE or pid == ProcId.SP_PREPEXEC:
                name = "sp_prepare" if pid == ProcId.SP_PREPARE else "sp_prepexec"
                if not call.params:
                    raise SqlError(201, f"Procedure or function '{name}' expects parameter "
                                        "'@handle', which was not supplied.", state=4)
                decl_text, stmt = self._statement_params(call, 2, 1, name)
                decls = parse_declarations(decl_text)
                handle = self._next_handle
                self._next_handle += 1
                self._prepared[handle] = Prepared(stmt, decl_text, decls)
                extra_values[call.params[0].name or "@handle"] = (SqlType("int"), handle)
                outputs.append((0, call.params[0], SqlType("int"), call.params[0].name))
                if pid == ProcId.SP_PREPEXEC:
                    outcome = await self._execute(stmt, decl_text, decls, call, 3, outputs)
            elif pid == ProcId.SP_EXECUTE:
                prepared = self._prepared_for(call, "sp_execute")
                outcome = await self._execute(prepared.statement, prepared.declaration_text,
                                              prepared.declarations, call, 1, outputs)
            elif pid == ProcId.SP_UNPREPARE:
                prepared = self._prepared_for(call, "sp_unprepare")
                self._prepared = {k: v for k, v in self._prepared.items() if v is not prepared}
            elif pid is not None:
                raise _not_supported(f"The RPC procedure id {pid}")
            else:
                params = [Param(p.name, p.type_info.sql_type(), p.value, output=p.byref)
                          for p in call.params]
                for i, p in enumerate(call.params):
                    if p.byref:
                        outputs.append((i, p, p.type_info.sql_type(), p.name))
                outcome = await stream_items(stream, self.session.call(call.name, params),
                                             in_proc=True, capture_status=True)
        except SqlError as e:
            stream.error(e)
            outcome.had_error = True
            terminated = True
        except (asyncio.CancelledError, ConnectionError):
            raise
        except Exception as e:  # noqa: BLE001 - an engine bug: tell the client, keep the connection
            log.exception("spid %d: the engine failed on RPC %s", self.spid, call.display_name)
            stream.error(SqlError(INTERNAL_ERROR, f"emulator internal error: {type(e).__name__}: {e}"))
            outcome.had_error = True
            terminated = True
        if not terminated:
            stream.token(tokens.returnstatus(outcome.return_status or 0))
            # Engine return values match output parameters by name, unnamed ones in order.
            returned = {rv.param.name.lower(): rv.param for rv in outcome.return_values
                        if rv.param.name}
            unnamed = [rv.param for rv in outcome.return_values if not rv.param.name]
            for ordinal, sent, typ, name in outputs:
                key = (name or "").lower()
                try:
                    p = returned.get(key) if key else (unnamed.pop(0) if unnamed else None)
                    if p is not None:
                        codec = column_codec(p.type, nullable=True)
                        value = p.value
                    elif name in extra_values:
                        typ, value = extra_values[name]
                        codec = column_codec(typ, nullable=True)
                    else:
                        codec = column_codec(typ, nullable=True)
                        value = sent.value
                    stream.token(tokens.returnvalue(ordinal, name, RETVAL_OUTPUT, codec, value))
                except ValueEncodingError as e:
                    stream.error(SqlError(INTERNAL_ERROR, f"emulator: cannot encode output "
                                                          f"parameter {name}: {e}"))
                    outcome.had_error = True
        stream.done(Token.DONEPROC, DONE_ERROR if outcome.had_error else 0, CMD_EXECUTE)

    def _statement_params(self, call: RpcCall, stmt_idx: int, decl_idx: int,
                          proc: str) -> tuple[str, str]:
        """(statement, declaration list) of sp_executesql (0, 1) or sp_prepare (2, 1) — returned in
        the order (first, second) of the two indexes given."""
        params = call.params
        if len(params) <= stmt_idx or params[stmt_idx].value is None:
            raise SqlError(201, f"Procedure or function '{proc}' expects parameter '@statement', "
                                "which was not supplied.", state=4, procedure=proc)
        stmt_p = params[stmt_idx]
        if not isinstance(stmt_p.value, str) or stmt_p.type_info.sql_type().name not in ("nvarchar", "nchar"):
            raise SqlError(214, f"Procedure expects parameter '@statement' of type "
                                "'ntext/nchar/nvarchar'.", state=2, procedure=proc)
        decl = ""
        if len(params) > decl_idx and params[decl_idx].value is not None:
            dp = params[decl_idx]
            if not isinstance(dp.value, str) or dp.type_info.sql_type().name not in ("nvarchar", "nchar"):
                raise SqlError(214, f"Procedure expects parameter '@parameters' of type "
                                    "'ntext/nchar/nvarchar'.", state=3, procedure=proc)
            decl = dp.value
        if stmt_idx < decl_idx:
            return stmt_p.value, decl
        return decl, stmt_p.value

    def _prepared_for(self, call: RpcCall, proc: str) -> Prepared:
        if not call.params or not isinstance(call.params[0].value, int):
            raise SqlError(201, f"Procedure or function '{proc}' expects parameter '@handle', "
                                "which was not supplied.", state=4, procedure=proc)
        handle = call.params[0].value
        prepared = self._prepared.get(handle)
        if prepared is None:
            raise SqlError(8179, f"Could not find prepared statement with handle {handle}.",
                           state=4, procedure=proc)
        return prepared

    async def _execute(self, stmt: str, decl_text: str, decls: list[Declaration], call: RpcCall,
                       first: int, outputs: list[tuple[int, RpcParam, SqlType, str]]) -> Outcome:
        """Bind call.params[first:] to the declarations and run the statement."""
        assert self.session is not None
        sent = call.params[first:]
        params = bind(decls, sent, stmt, decl_text)
        by_name = {d.name.lower(): (i, d) for i, d in enumerate(decls)}
        for offset, p in enumerate(sent):
            if not p.byref:
                continue
            if p.name:
                _, d = by_name[p.name.lower()]
            else:
                d = decls[offset]
            outputs.append((first + offset, p, d.type, p.name or d.name))
        return await stream_items(self.stream, self.session.execute(stmt, params), in_proc=True,
                                  capture_status=False)


def _peer(peer: Any) -> str:
    if isinstance(peer, tuple) and len(peer) >= 2:
        return f"{peer[0]}:{peer[1]}"
    return str(peer)


def _version_text(v: int) -> str:
    return {0x72090002: "7.2", 0x730A0003: "7.3A", 0x730B0003: "7.3B", 0x74000004: "7.4"}.get(
        v, f"0x{v:08X}")
