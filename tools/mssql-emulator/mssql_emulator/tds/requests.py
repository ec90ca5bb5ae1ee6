"""Client requests: SQL batch (MS-TDS 2.2.6.7), RPC (2.2.6.6) and ALL_HEADERS (2.2.5.3).

TEST FIXTURE: part of the SQL Server emulator.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mssql_emulator.tds.buffer import Reader
from mssql_emulator.tds.constants import (
    PARAM_BYREF, PARAM_DEFAULT, PARAM_ENCRYPTED, RPC_BATCH_FLAG, RPC_NOEXEC_FLAG,
    ProcId,
)
from mssql_emulator.tds.datatypes import TypeInfo, read_type_info, read_value
from mssql_emulator.tds.errors import ProtocolError

HEADER_QUERY_NOTIFICATIONS = 1
HEADER_TRANSACTION_DESCRIPTOR = 2
HEADER_TRACE_ACTIVITY = 3


@dataclass
class AllHeaders:
    transaction_descriptor: bytes = b""
    outstanding_requests: int = 1


def read_all_headers(r: Reader) -> AllHeaders:
    """ALL_HEADERS: TotalLength DWORD (itself included), then (HeaderLength DWORD, HeaderType USHORT,
    data)*. Mandatory in SQL batch and RPC requests since TDS 7.2."""
    start = r.pos
    total = r.u32()
    if total < 4 or start + total > len(r.data):
        raise ProtocolError(f"ALL_HEADERS TotalLength {total} is invalid")
    headers = AllHeaders()
    end = start + total
    while r.pos < end:
        hlen = r.u32()
        if hlen < 6 or r.pos - 4 + hlen > end:
            raise ProtocolError(f"ALL_HEADERS header length {hlen} is invalid")
        htype = r.u16()
        data = r.take(hlen - 6)
        if htype == HEADER_TRANSACTION_DESCRIPTOR and len(data) >= 12:
            headers.transaction_descriptor = data[:8]
            headers.outstanding_requests = int.from_bytes(data[8:12], "little")
    r.pos = end
    return headers


@dataclass
class SqlBatch:
    headers: AllHeaders
    text: str


def parse_sql_batch(payload: bytes) -> SqlBatch:
    r = Reader(payload)
    headers = read_all_headers(r)
    raw = payload[r.pos:]
    if len(raw) % 2:
        raise ProtocolError("SQL batch text has an odd number of bytes (not UCS-2)")
    return SqlBatch(headers, raw.decode("utf-16-le", "surrogatepass"))


@dataclass
class RpcParam:
    """One parameter as sent: name ('' when positional), status flags, TYPE_INFO and value."""

    name: str
    status: int
    type_info: TypeInfo
    value: Any

    @property
    def byref(self) -> bool:
        return bool(self.status & PARAM_BYREF)

    @property
    def default(self) -> bool:
        return bool(self.status & PARAM_DEFAULT)


@dataclass
class RpcCall:
    """One RPCReqBatch: a procedure named by ``name`` or by well-known ``proc_id``."""

    name: str
    proc_id: int | None
    option_flags: int
    params: list[RpcParam] = field(default_factory=list)

    @property
    def display_name(self) -> str:
        if self.proc_id is not None:
            try:
                return ProcId(self.proc_id).name.lower()
            except ValueError:
                return f"procedure id {self.proc_id}"
        return self.name


@dataclass
class RpcRequest:
    headers: AllHeaders
    calls: list[RpcCall]


def parse_rpc(payload: bytes) -> RpcRequest:
    """RPCRequest = ALL_HEADERS RPCReqBatch *((BatchFlag / NoExecFlag) RPCReqBatch)."""
    r = Reader(payload)
    headers = read_all_headers(r)
    calls: list[RpcCall] = []
    while not r.at_end():
        name_len = r.u16()
        if name_len == 0xFFFF:
            proc_id: int | None = r.u16()
            name = ""
        else:
            proc_id = None
            name = r.take(2 * name_len).decode("utf-16-le", "surrogatepass")
        call = RpcCall(name, proc_id, r.u16())
        while not r.at_end():
            b = r.peek_u8()
            # 0x80 (the pre-7.2 separator) is a valid name length now, so only 0xFF / 0xFE separate.
            if b in (RPC_BATCH_FLAG, RPC_NOEXEC_FLAG):
                if b == RPC_NOEXEC_FLAG:
                    raise ProtocolError("RPC NoExecFlag is not supported by the emulator")
                r.u8()
                break
            pname = r.b_varchar()
            status = r.u8()
            if status & PARAM_ENCRYPTED:
                raise ProtocolError("Always Encrypted parameters are not supported by the emulator")
            ti = read_type_info(r)
            call.params.append(RpcParam(pname, status, ti, read_value(r, ti)))
        calls.append(call)
    if not calls:
        raise ProtocolError("RPC request without a procedure")
    return RpcRequest(headers, calls)


# Transaction manager request types (2.2.6.9).
TM_GET_DTC_ADDRESS = 0
TM_PROPAGATE_XACT = 1
TM_BEGIN_XACT = 5
TM_PROMOTE_XACT = 6
TM_COMMIT_XACT = 7
TM_ROLLBACK_XACT = 8
TM_SAVE_XACT = 9

ISOLATION_LEVELS = {1: "READ UNCOMMITTED", 2: "READ COMMITTED", 3: "REPEATABLE READ",
                    4: "SERIALIZABLE", 5: "SNAPSHOT"}


@dataclass
class TransactionRequest:
    """A transaction manager request (what pytds sends for BEGIN / COMMIT / ROLLBACK in TDS 7.2+).
    ``begin_after``: fBeginXact of COMMIT/ROLLBACK — start a new transaction right after."""

    request_type: int
    name: str = ""
    isolation_level: int = 0
    begin_after: bool = False
    new_name: str = ""
    new_isolation_level: int = 0


def parse_transaction_request(payload: bytes) -> TransactionRequest:
    r = Reader(payload)
    read_all_headers(r)
    req = TransactionRequest(r.u16())
    if req.request_type == TM_BEGIN_XACT:
        req.isolation_level = r.u8()
        req.name = r.b_varchar()
    elif req.request_type in (TM_COMMIT_XACT, TM_ROLLBACK_XACT):
        req.name = r.b_varchar()
        if not r.at_end():
            req.begin_after = bool(r.u8() & 0x01)
            if req.begin_after:
                req.new_isolation_level = r.u8()
                req.new_name = r.b_varchar()
    elif req.request_type == TM_SAVE_XACT:
        req.name = r.b_varchar()
    return req
