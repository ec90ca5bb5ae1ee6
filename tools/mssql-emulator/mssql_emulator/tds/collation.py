"""The collation the emulator advertises (MS-TDS 2.2.5.1.2) — TEST FIXTURE.

Latin1_General_100_CI_AS_SC_UTF8, the SQL Server 2019+ UTF-8 collation: LCID 0x0409 (en-US),
case-insensitive, accent-sensitive, kana- and width-insensitive (Windows collation defaults), UTF-8
for char/varchar, collation version 2 (the _100 family), SortId 0 (a Windows collation).

Bit layout of the first four bytes (a little-endian DWORD): LCID bits 0-19, fIgnoreCase 20,
fIgnoreAccent 21, fIgnoreKana 22, fIgnoreWidth 23, fBinary 24, fBinary2 25, fUTF8 26, reserved 27,
Version 28-31; then the SortId byte.

varchar data travels as UTF-8 under this collation, which is why FreeTDS can send non-Latin text in
varchar parameters.
"""

from __future__ import annotations

import struct

COLLATION_NAME = "Latin1_General_100_CI_AS_SC_UTF8"

LCID_EN_US = 0x0409
F_IGNORE_CASE = 1 << 20
F_IGNORE_ACCENT = 1 << 21
F_IGNORE_KANA = 1 << 22
F_IGNORE_WIDTH = 1 << 23
F_BINARY = 1 << 24
F_BINARY2 = 1 << 25
F_UTF8 = 1 << 26
VERSION_100 = 2 << 28


def encode_collation(lcid: int, flags: int, sort_id: int = 0) -> bytes:
    return struct.pack("<IB", (lcid & 0xFFFFF) | flags, sort_id)


SERVER_COLLATION: bytes = encode_collation(
    LCID_EN_US, F_IGNORE_CASE | F_IGNORE_KANA | F_IGNORE_WIDTH | F_UTF8 | VERSION_100)


def codec_of(collation: bytes) -> str:
    """The Python codec for char/varchar bytes under a collation a client sent (RPC parameters).

    UTF-8 when fUTF8 is set; otherwise the ANSI code page of the collation. The emulator maps the
    common cases (SQL_Latin1_General_CP1_* sort ids and Latin1_General LCIDs → cp1252) and falls back
    to cp1252, the code page of every collation a Western client is likely to send.
    """
    if len(collation) != 5:
        return "cp1252"
    info, sort_id = struct.unpack("<IB", collation)
    if info & F_UTF8:
        return "utf-8"
    lcid = info & 0xFFFFF
    if sort_id in (30, 31, 32, 33, 34, 51, 52, 53, 54, 183, 184, 185, 186):
        return "cp1252"
    return _LCID_CODEPAGES.get(lcid, "cp1252")


_LCID_CODEPAGES = {
    0x0409: "cp1252", 0x0407: "cp1252", 0x040C: "cp1252", 0x0410: "cp1252", 0x0C0A: "cp1252",
    0x0405: "cp1250", 0x0415: "cp1250", 0x040E: "cp1250",
    0x0419: "cp1251", 0x0422: "cp1251",
    0x0408: "cp1253", 0x041F: "cp1254", 0x040D: "cp1255", 0x0401: "cp1256",
    0x0411: "cp932", 0x0804: "cp936", 0x0412: "cp949", 0x0404: "cp950",
}
