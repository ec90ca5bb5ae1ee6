"""A cursor over a received message (TEST FIXTURE: part of the SQL Server emulator).

TDS integers are little-endian unless a section says otherwise (MS-TDS 2.2.5.1.1 / 2.1).
"""

from __future__ import annotations

import struct

from mssql_emulator.tds.errors import ProtocolError

_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_I32 = struct.Struct("<i")
_U64 = struct.Struct("<Q")


class Reader:
    """Sequential little-endian reads from a bytes object; running past the end is a ProtocolError."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.data = data
        self.pos = pos

    @property
    def remaining(self) -> int:
        return len(self.data) - self.pos

    def at_end(self) -> bool:
        return self.pos >= len(self.data)

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise ProtocolError(f"message truncated: need {n} bytes at offset {self.pos}, "
                                f"have {len(self.data) - self.pos}")
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return bytes(b)

    def peek_u8(self) -> int:
        if self.pos >= len(self.data):
            raise ProtocolError("message truncated")
        return self.data[self.pos]

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return _U16.unpack(self.take(2))[0]

    def u32(self) -> int:
        return _U32.unpack(self.take(4))[0]

    def i32(self) -> int:
        return _I32.unpack(self.take(4))[0]

    def u64(self) -> int:
        return _U64.unpack(self.take(8))[0]

    def b_varchar(self) -> str:
        """B_VARCHAR: a 1-byte character count followed by UCS-2 text (2.2.5.1.3)."""
        n = self.u8()
        return self.take(2 * n).decode("utf-16-le", "surrogatepass")

    def us_varchar(self) -> str:
        """US_VARCHAR: a 2-byte character count followed by UCS-2 text (2.2.5.1.3)."""
        n = self.u16()
        return self.take(2 * n).decode("utf-16-le", "surrogatepass")


def b_varchar(text: str) -> bytes:
    """Encode B_VARCHAR (1-byte character count); names longer than 255 UCS-2 units are cut."""
    raw = text.encode("utf-16-le", "surrogatepass")[:510]
    return bytes([len(raw) // 2]) + raw


def us_varchar(text: str) -> bytes:
    """Encode US_VARCHAR (2-byte character count)."""
    raw = text.encode("utf-16-le", "surrogatepass")[:2 * 0xFFFF]
    return _U16.pack(len(raw) // 2) + raw


def b_varbyte(data: bytes) -> bytes:
    """Encode B_VARBYTE (1-byte length)."""
    return bytes([len(data)]) + data
