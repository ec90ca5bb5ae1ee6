"""From engine items to a token stream (MS-TDS 2.2.4 token stream, 2.2.7.6 DONE status) — TEST FIXTURE.

Rules implemented here:
* every DONE / DONEPROC / DONEINPROC but the last of a response carries DONE_MORE (a DONE is held back
  until the next token shows whether more follows);
* DONE_COUNT when the statement reported a row count, DONE_ERROR after an error, DONE_INXACT while a
  transaction is open;
* inside an RPC, statements end with DONEINPROC and the call with DONEPROC;
* rows are encoded one at a time from the engine's (async) iterator and written in packets with flow
  control — a result set is never held in memory.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any, AsyncIterator

from mssql_emulator.api import (
    Done, EnvChange, Message, ResultItem, ResultSet, ReturnStatus, ReturnValue, SqlError,
    StatementError,
)
from mssql_emulator.tds import tokens
from mssql_emulator.tds.constants import (
    CMD_SELECT, DONE_ATTN, DONE_COUNT, DONE_ERROR, DONE_INXACT, DONE_MORE, EnvChangeType, Token,
)
from mssql_emulator.tds.datatypes import ValueEncodingError, column_codec
from mssql_emulator.tds.packets import PacketWriter

INTERNAL_ERROR = 50000  # number of errors the emulator itself raises (user-defined range)

_ENVCHANGE_KINDS = {
    "database": (EnvChangeType.DATABASE, True),
    "language": (EnvChangeType.LANGUAGE, True),
    "begin_tran": (EnvChangeType.BEGIN_TRANSACTION, False),
    "commit_tran": (EnvChangeType.COMMIT_TRANSACTION, False),
    "rollback_tran": (EnvChangeType.ROLLBACK_TRANSACTION, False),
}


class ResponseStream:
    """Writes the tokens of one response message, holding back the latest DONE-family token."""

    def __init__(self, out: PacketWriter, server_name: str, nbcrow: bool) -> None:
        self.out = out
        self.server_name = server_name
        self.nbcrow = nbcrow
        self.in_transaction = False
        self._pending: tuple[int, int, int, int] | None = None

    # -- tokens --------------------------------------------------------------------------------
    def _flush_pending(self) -> None:
        if self._pending is not None:
            token, status, cmd, count = self._pending
            self.out.append(tokens.done(token, status | DONE_MORE, cmd, count))
            self._pending = None

    def token(self, data: bytes) -> None:
        self._flush_pending()
        self.out.append(data)

    def done(self, token: int, status: int, cmd: int = 0, count: int = 0) -> None:
        self._flush_pending()
        if self.in_transaction:
            status |= DONE_INXACT
        self._pending = (token, status, cmd, count)

    def error(self, e: SqlError) -> None:
        for p in getattr(e, "preceding", ()):  # e.g. 5070 before 5069, 4060 before 18456
            self.token(tokens.error(p.number, p.message, state=p.state, severity=p.severity,
                                    server=self.server_name, procedure=p.procedure, line=p.line))
        self.token(tokens.error(e.number, e.message, state=e.state, severity=e.severity,
                                server=self.server_name, procedure=e.procedure, line=e.line))

    def finish(self) -> None:
        """End of the response: the held-back DONE goes out without DONE_MORE (a response always
        ends with a DONE-family token; a bare DONE is added if none was produced)."""
        if self._pending is None:
            self._pending = (Token.DONE, DONE_INXACT if self.in_transaction else 0, 0, 0)
        token, status, cmd, count = self._pending
        self.out.append(tokens.done(token, status, cmd, count))
        self._pending = None

    def attention_ack(self) -> None:
        """2.2.1.7: the response to an ATTENTION ends with a DONE whose status has DONE_ATTN."""
        self._flush_pending()
        self.out.append(tokens.done(Token.DONE, DONE_ATTN, 0, 0))

    def reset(self) -> None:
        self._pending = None

    async def maybe_flush(self) -> None:
        if self.out.buffered >= self.out.packet_size:
            await self.out.flush_full()

    def envchange(self, item: EnvChange) -> None:
        kind = _ENVCHANGE_KINDS.get(item.kind)
        if kind is None:
            raise SqlError(INTERNAL_ERROR, f"emulator: the engine produced an unknown ENVCHANGE kind "
                                           f"{item.kind!r}")
        etype, textual = kind
        if textual:
            self.token(tokens.envchange_text(etype, str(item.new or ""), str(item.old or "")))
        else:
            self.token(tokens.envchange_bytes(etype, bytes(item.new or b""), bytes(item.old or b"")))
        if item.kind == "begin_tran":
            self.in_transaction = True
        elif item.kind in ("commit_tran", "rollback_tran"):
            self.in_transaction = False


@dataclass
class Outcome:
    """What a statement stream left for the caller: errors seen, RPC return status and values."""

    had_error: bool = False
    return_status: int | None = None
    return_values: list[ReturnValue] = field(default_factory=list)


async def _aclose(obj: Any) -> None:
    close = getattr(obj, "aclose", None)
    if close is not None:
        with contextlib.suppress(Exception):
            await close()


async def send_result_set(stream: ResponseStream, rs: ResultSet) -> int:
    """COLMETADATA then one ROW/NBCROW per row, streamed. Returns the row count."""
    if not rs.columns:
        await _aclose(rs.rows)
        raise SqlError(INTERNAL_ERROR, "emulator: the engine produced a result set without columns")
    try:
        codecs = [column_codec(c.type, c.nullable) for c in rs.columns]
    except ValueEncodingError as e:
        await _aclose(rs.rows)
        raise SqlError(INTERNAL_ERROR, f"emulator: cannot describe result column: {e}") from e
    stream.token(tokens.colmetadata(rs.columns, codecs))
    count = 0
    try:
        if isinstance(rs.rows, list):
            for values in rs.rows:
                stream.token(tokens.row(values, codecs, nbc=stream.nbcrow))
                count += 1
                await stream.maybe_flush()
        else:
            async for values in rs.rows:
                stream.token(tokens.row(values, codecs, nbc=stream.nbcrow))
                count += 1
                await stream.maybe_flush()
    except ValueEncodingError as e:
        raise SqlError(INTERNAL_ERROR, f"emulator: cannot encode row {count + 1}: {e}") from e
    finally:
        if not isinstance(rs.rows, list):
            await _aclose(rs.rows)
    return count


async def stream_items(stream: ResponseStream, items: AsyncIterator[ResultItem], *, in_proc: bool,
                       capture_status: bool) -> Outcome:
    """Send what a batch or procedure yields. ``in_proc``: statements end with DONEINPROC.
    ``capture_status``: a ReturnStatus belongs to the RPC being answered (sent by the caller just
    before DONEPROC) rather than to an EXEC inside a batch (sent where it occurs).

    A SqlError raised by the engine propagates (batch-terminating); the caller sends it."""
    done_token = Token.DONEINPROC if in_proc else Token.DONE
    outcome = Outcome()
    error_pending = False
    select_rows: int | None = None
    try:
        async for item in items:
            if error_pending and not isinstance(item, Done):
                stream.done(done_token, DONE_ERROR)
                error_pending = False
            if select_rows is not None and not isinstance(item, Done):
                stream.done(done_token, DONE_COUNT, CMD_SELECT, select_rows)
                select_rows = None
            if isinstance(item, ResultSet):
                select_rows = await send_result_set(stream, item)
            elif isinstance(item, Done):
                status = 0
                if item.rowcount is not None:
                    status |= DONE_COUNT
                if error_pending:
                    status |= DONE_ERROR
                cmd = CMD_SELECT if select_rows is not None else 0
                stream.done(done_token, status, cmd, item.rowcount or 0)
                error_pending = False
                select_rows = None
            elif isinstance(item, Message):
                stream.token(tokens.info(item.number, item.text, state=item.state,
                                         severity=item.severity, server=stream.server_name,
                                         procedure=item.procedure, line=item.line))
            elif isinstance(item, StatementError):
                stream.error(item.error)
                outcome.had_error = True
                error_pending = True
            elif isinstance(item, EnvChange):
                stream.envchange(item)
            elif isinstance(item, ReturnStatus):
                if capture_status:
                    outcome.return_status = item.value
                else:
                    stream.token(tokens.returnstatus(item.value))
            elif isinstance(item, ReturnValue):
                outcome.return_values.append(item)
            else:
                raise SqlError(INTERNAL_ERROR, f"emulator: the engine yielded an unknown item "
                                               f"{type(item).__name__}")
            await stream.maybe_flush()
    finally:
        await _aclose(items)
    if select_rows is not None:
        stream.done(done_token, DONE_COUNT, CMD_SELECT, select_rows)
    if error_pending:
        stream.done(done_token, DONE_ERROR)
    return outcome


