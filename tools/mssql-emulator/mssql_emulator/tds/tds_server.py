"""The TDS listener (asyncio) — TEST FIXTURE: part of the SQL Server emulator.

Serves any object implementing :class:`mssql_emulator.api.Server`. Each accepted socket becomes a
:class:`~mssql_emulator.tds.connection.Connection` with its own SPID.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import socket

from mssql_emulator.api import Server
from mssql_emulator.tds.connection import Connection

log = logging.getLogger("mssql_emulator.tds")

FIRST_SPID = 51  # SQL Server numbers user sessions from 51


class TdsServer:
    def __init__(self, server: Server, server_name: str, host: str, port: int) -> None:
        self.server = server
        self.server_name = server_name
        self.host = host
        self.port = port
        self._spids = itertools.count(FIRST_SPID)
        self._listener: asyncio.base_events.Server | None = None
        self._connections: set[asyncio.Task] = set()

    async def start(self) -> None:
        self._listener = await asyncio.start_server(self._accept, self.host, self.port,
                                                    reuse_address=True)
        sock = self._listener.sockets[0]
        self.port = sock.getsockname()[1]
        log.info("listening on %s:%d as server %r (TDS 7.2-7.4, no TLS)", self.host, self.port,
                 self.server_name)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        spid = next(self._spids)
        if spid > 32767:
            self._spids = itertools.count(FIRST_SPID)
            spid = next(self._spids)
        conn = Connection(self.server, self.server_name, reader, writer, spid)
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            await conn.run()
        except Exception:  # noqa: BLE001 - one connection's failure must not stop the server
            log.exception("spid %d: connection failed", spid)
        finally:
            self._connections.discard(task)

    async def close(self) -> None:
        """Stop listening and end every connection (their sessions are closed)."""
        if self._listener is not None:
            self._listener.close()
        for task in list(self._connections):
            task.cancel()
        if self._connections:
            await asyncio.gather(*self._connections, return_exceptions=True)
        if self._listener is not None:
            await self._listener.wait_closed()
