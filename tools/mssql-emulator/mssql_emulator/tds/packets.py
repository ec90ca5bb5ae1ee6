"""Packet framing (MS-TDS 2.2.3): 8-byte headers, messages split over packets, EOM, IGNORE.

TEST FIXTURE: part of the SQL Server emulator.

A message is the sequence of packets up to and including the one with the EOM status bit. The
writer holds at most one packet's worth of unsent bytes plus the token being appended, and awaits
``drain()`` after every full packet, so a large result set streams with flat memory and the client's
reading speed throttles the engine (flow control).
"""

from __future__ import annotations

import asyncio
import struct
from dataclasses import dataclass

from mssql_emulator.tds.constants import (
    HEADER_SIZE, STATUS_EOM, STATUS_IGNORE, PacketType,
)
from mssql_emulator.tds.errors import ProtocolError

_HEADER = struct.Struct(">BBHHBB")  # Type, Status, Length (big-endian), SPID (big-endian), PacketID, Window

# Guard against a client announcing an absurd message: requests are decoded in memory.
MAX_MESSAGE_BYTES = 256 * 1024 * 1024


@dataclass
class Message:
    """One client message: its packet type, the status of its first packet (RESETCONNECTION bits
    live there) and the concatenated payload."""

    type: int
    status: int
    payload: bytes


class PacketReader:
    """Reads whole messages from a stream."""

    def __init__(self, reader: asyncio.StreamReader) -> None:
        self._reader = reader

    async def read_packet(self) -> tuple[int, int, bytes]:
        """One packet: (type, status, payload). Raises EOFError when the peer closed cleanly."""
        try:
            header = await self._reader.readexactly(HEADER_SIZE)
        except asyncio.IncompleteReadError as e:
            if not e.partial:
                raise EOFError from None
            raise ProtocolError("connection closed inside a packet header") from None
        ptype, status, length, _spid, _pid, _window = _HEADER.unpack(header)
        if header[0] == 0x16:
            raise ProtocolError("the client started a TLS handshake (TDS 8.0 strict encryption); "
                                "the emulator supports TDS 7.2-7.4 without TLS only")
        if length < HEADER_SIZE:
            raise ProtocolError(f"packet length {length} is shorter than its header")
        try:
            payload = await self._reader.readexactly(length - HEADER_SIZE)
        except asyncio.IncompleteReadError:
            raise ProtocolError("connection closed inside a packet") from None
        return ptype, status, payload

    async def read_message(self) -> Message:
        """Packets up to EOM, concatenated. A message whose last packet carries IGNORE is dropped
        (2.2.3.1.2: the client abandoned it) and the next one is returned."""
        while True:
            ptype, status, payload = await self.read_packet()
            first_status = status
            parts = [payload]
            size = len(payload)
            while not status & STATUS_EOM:
                t, status, payload = await self.read_packet()
                if t != ptype:
                    raise ProtocolError(f"packet of type {t} inside a message of type {ptype}")
                parts.append(payload)
                size += len(payload)
                if size > MAX_MESSAGE_BYTES:
                    raise ProtocolError(f"message larger than {MAX_MESSAGE_BYTES} bytes")
            if status & STATUS_IGNORE:
                continue
            return Message(ptype, first_status, b"".join(parts))


class PacketWriter:
    """Writes one response message at a time as TABULAR_RESULT packets of at most ``packet_size``
    bytes. Tokens are appended whole (``append``) so a cancelled response always ends on a token
    boundary; ``flush_full`` sends complete packets and drains; ``end_message`` sends the rest with
    EOM."""

    def __init__(self, writer: asyncio.StreamWriter, packet_size: int, spid: int) -> None:
        self._writer = writer
        self.packet_size = packet_size
        self.spid = spid
        self._buf = bytearray()
        self._packet_id = 1
        self._open = False  # packets of the current message were sent without EOM

    @property
    def in_message(self) -> bool:
        """A response message has started (bytes buffered or packets sent) and has no EOM yet."""
        return self._open or bool(self._buf)

    def append(self, data: bytes) -> None:
        self._buf += data

    @property
    def buffered(self) -> int:
        return len(self._buf)

    def _send(self, payload: bytes | bytearray, eom: bool) -> None:
        header = _HEADER.pack(PacketType.TABULAR_RESULT, STATUS_EOM if eom else 0,
                              len(payload) + HEADER_SIZE, self.spid, self._packet_id, 0)
        self._packet_id = (self._packet_id + 1) % 256
        self._open = not eom
        self._writer.write(header + bytes(payload))

    async def flush_full(self) -> None:
        """Send every complete packet that is not the last of the message; await flow control."""
        room = self.packet_size - HEADER_SIZE
        if len(self._buf) <= room:
            return
        view = memoryview(self._buf)
        sent = 0
        # Keep at least one byte back: the final packet must carry EOM.
        while len(self._buf) - sent > room:
            self._send(view[sent:sent + room], eom=False)
            sent += room
        view.release()
        del self._buf[:sent]
        await self._writer.drain()
        # drain() does not suspend while the socket keeps up; yield anyway so that an ATTENTION
        # read by the connection's reader task can cancel a long-running response.
        await asyncio.sleep(0)

    async def end_message(self) -> None:
        """Send what is buffered as the last packet(s) of the message (EOM) and drain."""
        room = self.packet_size - HEADER_SIZE
        while len(self._buf) > room:
            self._send(self._buf[:room], eom=False)
            del self._buf[:room]
        self._send(self._buf, eom=True)
        self._buf = bytearray()
        self._packet_id = 1
        await self._writer.drain()
