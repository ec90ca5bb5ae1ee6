"""PRELOGIN (MS-TDS 2.2.6.5) — TEST FIXTURE: part of the SQL Server emulator.

The emulator never encrypts: it answers ENCRYPTION with ENCRYPT_NOT_SUP whatever the client asked.
A client that requires encryption (ENCRYPT_ON / ENCRYPT_REQ) then ends the connection itself, as
section 2.2.6.5 prescribes.
"""

from __future__ import annotations

import struct

from mssql_emulator.tds.constants import ENCRYPT_NOT_SUP, SERVER_VERSION, PreloginOption
from mssql_emulator.tds.errors import ProtocolError


def parse_prelogin(payload: bytes) -> dict[int, bytes]:
    """Option token -> option data. The option table is (token, offset BE USHORT, length BE USHORT)
    entries ending with 0xFF; offsets count from the start of the payload."""
    options: dict[int, bytes] = {}
    pos = 0
    while True:
        if pos >= len(payload):
            raise ProtocolError("PRELOGIN option table has no terminator")
        token = payload[pos]
        if token == PreloginOption.TERMINATOR:
            return options
        if pos + 5 > len(payload):
            raise ProtocolError("PRELOGIN option table truncated")
        offset, length = struct.unpack_from(">HH", payload, pos + 1)
        if offset + length > len(payload):
            raise ProtocolError(f"PRELOGIN option {token} points outside the message")
        options[token] = payload[offset:offset + length]
        pos += 5


def build_prelogin_response(client_options: dict[int, bytes]) -> bytes:
    """The server's PRELOGIN: VERSION (UL_VERSION big-endian + US_SUBBUILD), ENCRYPTION
    (ENCRYPT_NOT_SUP), INSTOPT (0: instance name matched), THREADID (empty from a server), MARS (0: off),
    and FEDAUTHREQUIRED only if the client sent it (0: not required)."""
    major, minor, build, sub = SERVER_VERSION
    entries: list[tuple[int, bytes]] = [
        (PreloginOption.VERSION, bytes([major, minor]) + struct.pack(">H", build) + struct.pack(">H", sub)),
        (PreloginOption.ENCRYPTION, bytes([ENCRYPT_NOT_SUP])),
        (PreloginOption.INSTOPT, b"\x00"),
        (PreloginOption.THREADID, b""),
        (PreloginOption.MARS, b"\x00"),
    ]
    if PreloginOption.FEDAUTHREQUIRED in client_options:
        entries.append((PreloginOption.FEDAUTHREQUIRED, b"\x00"))
    table_len = 5 * len(entries) + 1
    table = bytearray()
    data = bytearray()
    for token, value in entries:
        table += struct.pack(">BHH", token, table_len + len(data), len(value))
        data += value
    table.append(PreloginOption.TERMINATOR)
    return bytes(table + data)
