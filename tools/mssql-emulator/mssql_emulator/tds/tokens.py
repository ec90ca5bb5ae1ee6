"""Token encoders of the tabular result stream (MS-TDS 2.2.7) — TEST FIXTURE.

Every function returns the complete bytes of one token so that the response writer can append
tokens atomically (a cancelled response still ends on a token boundary).
"""

from __future__ import annotations

import struct
from typing import Any, Sequence

from mssql_emulator.api import Column
from mssql_emulator.tds.buffer import b_varbyte, b_varchar, us_varchar
from mssql_emulator.tds.constants import (
    SERVER_PROGRAM_NAME, SERVER_VERSION, EnvChangeType, FeatureId, Token,
)
from mssql_emulator.tds.datatypes import ColumnCodec, ValueEncodingError

# COLMETADATA Flags (2.2.7.4).
COL_NULLABLE = 0x0001
COL_UPDATEABLE_UNKNOWN = 0x0008  # fUpdateable = 2 (unknown), bits 2-3
COL_IDENTITY = 0x0010

_DONE = struct.Struct("<BHHQ")


def done(token: int, status: int, cur_cmd: int = 0, rowcount: int = 0) -> bytes:
    """DONE / DONEPROC / DONEINPROC (2.2.7.6-8); DoneRowCount is a ULONGLONG since TDS 7.2."""
    return _DONE.pack(token, status, cur_cmd, rowcount)


def colmetadata(columns: Sequence[Column], codecs: Sequence[ColumnCodec]) -> bytes:
    """COLMETADATA (2.2.7.4): Count, then per column UserType (ULONG since 7.2), Flags, TYPE_INFO,
    ColName. The emulator never sends TEXT/NTEXT/IMAGE, so no TableName part."""
    out = bytearray([Token.COLMETADATA])
    out += struct.pack("<H", len(columns))
    for col, codec in zip(columns, codecs):
        flags = COL_UPDATEABLE_UNKNOWN
        if col.nullable:
            flags |= COL_NULLABLE
        if col.identity:
            flags |= COL_IDENTITY
        out += struct.pack("<IH", 0, flags)
        out += codec.type_info
        out += b_varchar(col.name)
    return bytes(out)


def row(values: Sequence[Any], codecs: Sequence[ColumnCodec], *, nbc: bool) -> bytes:
    """ROW (2.2.7.19) or, when ``nbc`` and the row has a NULL, NBCROW (2.2.7.15, TDS 7.3+):
    a null bitmap (bit i of byte i//8 set for NULL column i) followed by the non-NULL values."""
    if len(values) != len(codecs):
        raise ValueEncodingError(f"row has {len(values)} values for {len(codecs)} columns")
    has_null = any(v is None for v in values)
    if nbc and has_null:
        bitmap = bytearray((len(values) + 7) // 8)
        parts: list[bytes] = []
        for i, (v, c) in enumerate(zip(values, codecs)):
            if v is None:
                if c.null is None:
                    raise ValueEncodingError(f"NULL in NOT NULL column {i + 1}")
                bitmap[i // 8] |= 1 << (i % 8)
            else:
                parts.append(c.encode(v))
        return bytes([Token.NBCROW]) + bytes(bitmap) + b"".join(parts)
    parts = [bytes([Token.ROW])]
    for i, (v, c) in enumerate(zip(values, codecs)):
        if v is None:
            if c.null is None:
                raise ValueEncodingError(f"NULL in NOT NULL column {i + 1}")
            parts.append(c.null)
        else:
            parts.append(c.encode(v))
    return b"".join(parts)


def _message(token: int, number: int, state: int, severity: int, text: str, server: str,
             procedure: str, line: int) -> bytes:
    """ERROR (2.2.7.10) / INFO (2.2.7.13): Number, State, Class, MsgText, ServerName, ProcName,
    LineNumber (LONG since TDS 7.2)."""
    body = (struct.pack("<iBB", number, state & 0xFF, severity & 0xFF) + us_varchar(text)
            + b_varchar(server) + b_varchar(procedure) + struct.pack("<i", line))
    return struct.pack("<BH", token, len(body)) + body


def error(number: int, text: str, *, state: int = 1, severity: int = 16, server: str = "",
          procedure: str = "", line: int = 1) -> bytes:
    return _message(Token.ERROR, number, state, severity, text, server, procedure, line)


def info(number: int, text: str, *, state: int = 1, severity: int = 0, server: str = "",
         procedure: str = "", line: int = 1) -> bytes:
    return _message(Token.INFO, number, state, severity, text, server, procedure, line)


def _envchange(kind: int, new: bytes, old: bytes) -> bytes:
    body = bytes([kind]) + new + old
    return struct.pack("<BH", Token.ENVCHANGE, len(body)) + body


def envchange_text(kind: EnvChangeType, new: str, old: str) -> bytes:
    """ENVCHANGE with B_VARCHAR values: database (1), language (2), charset (3), packet size (4)."""
    return _envchange(kind, b_varchar(new), b_varchar(old))


def envchange_bytes(kind: EnvChangeType, new: bytes, old: bytes) -> bytes:
    """ENVCHANGE with B_VARBYTE values: collation (7), transactions (8, 9, 10, 17), reset ack (18)."""
    return _envchange(kind, b_varbyte(new), b_varbyte(old))


def loginack(tds_version: int) -> bytes:
    """LOGINACK (2.2.7.14): Interface 1 (SQL_TSQL), TDSVersion (big-endian on the wire, e.g.
    74 00 00 04), ProgName, ProgVersion (major, minor, build high, build low)."""
    major, minor, build, _sub = SERVER_VERSION
    body = (bytes([1]) + struct.pack(">I", tds_version) + b_varchar(SERVER_PROGRAM_NAME)
            + bytes([major, minor, build >> 8, build & 0xFF]))
    return struct.pack("<BH", Token.LOGINACK, len(body)) + body


def featureextack(features: dict[int, bytes]) -> bytes:
    """FEATUREEXTACK (2.2.7.11): (FeatureId, FeatureAckDataLen DWORD, data)*, 0xFF."""
    out = bytearray([Token.FEATUREEXTACK])
    for fid, data in features.items():
        out += struct.pack("<BI", fid, len(data)) + data
    out.append(FeatureId.TERMINATOR)
    return bytes(out)


def returnstatus(value: int) -> bytes:
    """RETURNSTATUS (2.2.7.18)."""
    return struct.pack("<Bi", Token.RETURNSTATUS, value)


def returnvalue(ordinal: int, name: str, status: int, codec: ColumnCodec, value: Any) -> bytes:
    """RETURNVALUE (2.2.7.19): ParamOrdinal, ParamName, Status, UserType (ULONG), Flags, TYPE_INFO,
    Value."""
    flags = COL_NULLABLE | COL_UPDATEABLE_UNKNOWN
    if value is None:
        if codec.null is None:
            raise ValueEncodingError(f"NULL return value {name} of a NOT NULL type")
        data = codec.null
    else:
        data = codec.encode(value)
    return (struct.pack("<BH", Token.RETURNVALUE, ordinal) + b_varchar(name)
            + struct.pack("<BIH", status, 0, flags) + codec.type_info + data)
