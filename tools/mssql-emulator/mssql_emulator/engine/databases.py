"""ALTER DATABASE … SET of a session (user access, snapshot isolation settings) and the KILL of the
sessions that stand in its way (TEST FIXTURE)."""

from __future__ import annotations

import asyncio
import logging
import re
from typing import TYPE_CHECKING, AsyncIterator

from ..api import Done, ResultItem, SqlError
from .catalog import Database
from .ddl import syntax
from .flow import BatchStop
from .types import unsupported

if TYPE_CHECKING:
    from .session import EngineSession

log = logging.getLogger("mssql_emulator.engine")


class DatabaseOptionsMixin:
    """ALTER DATABASE … SET and ending other sessions (KILL, ROLLBACK IMMEDIATE)."""

    async def _alter_database(self, text: str) -> AsyncIterator[ResultItem]:
        """ALTER DATABASE name|CURRENT SET option [, …] [WITH ROLLBACK IMMEDIATE | ROLLBACK AFTER n
        [SECONDS] | NO_WAIT] for SINGLE_USER, MULTI_USER, ALLOW_SNAPSHOT_ISOLATION and
        READ_COMMITTED_SNAPSHOT (ALTER DATABASE SET Options, SQL Server 2022)."""
        m = re.match(r"(?is)^\s*ALTER\s+DATABASE\s+(\[[^\]]+\]|\"[^\"]+\"|[\w$#@]+)\s+(\w+)\s*(.*?)\s*;?\s*$", text)
        if not m:
            raise syntax("DATABASE")
        name, action, rest = m.group(1).strip("[]\""), m.group(2).upper(), m.group(3)
        if action != "SET":
            raise unsupported(f"ALTER DATABASE … {action}")
        term = re.search(r"(?is)\bWITH\s+(ROLLBACK\s+IMMEDIATE|ROLLBACK\s+AFTER\s+(\d+)(?:\s+SECONDS)?|NO_WAIT)\s*$", rest)
        termination, after = None, None
        if term:
            termination = " ".join(term.group(1).upper().split()[:2])
            after = int(term.group(2)) if term.group(2) else None
            rest = rest[:term.start()]
        options = []
        for part in rest.split(","):
            words = part.upper().split()
            if words in (["SINGLE_USER"], ["MULTI_USER"]):
                options.append((words[0], None))
            elif len(words) == 2 and words[0] in ("ALLOW_SNAPSHOT_ISOLATION", "READ_COMMITTED_SNAPSHOT") \
                    and words[1] in ("ON", "OFF"):
                options.append((words[0], words[1] == "ON"))
            elif not words:
                raise syntax("SET")
            else:
                raise unsupported(f"ALTER DATABASE … SET {' '.join(part.split())}")
        db = self.db if name.upper() == "CURRENT" else self.server.database(name)
        if db is None:
            raise SqlError(5011, f"User does not have permission to alter database '{name}', the database does "
                           "not exist, or the database is not in a state that allows access checks.", severity=14,
                           ).with_followup(_alter_failed())
        if self.trancount > 0:
            raise SqlError(226, "ALTER DATABASE statement not allowed within multi-statement transaction.")
        if db.database_id <= 4:
            raise unsupported("ALTER DATABASE … SET on a system database")
        for option, value in options:
            if option == "SINGLE_USER" or (option == "READ_COMMITTED_SNAPSHOT" and value != db.read_committed_snapshot):
                # only the connection running ALTER DATABASE may stay in the database
                await self._make_room(db, termination, after, lambda s: s.db is db or s.tx_db is db)
            if option == "ALLOW_SNAPSHOT_ISOLATION" and value != db.allow_snapshot_isolation:
                # ALTER DATABASE returns when the transactions open in the database have ended
                await self._make_room(db, termination, after,
                                      lambda s: s.trancount > 0 and (s.tx_db or s.db) is db)
            if option == "MULTI_USER" and db.user_access == "SINGLE_USER":
                others = await self._others(lambda s: s.db is db)
                if others and termination != "ROLLBACK IMMEDIATE" and termination != "ROLLBACK AFTER":
                    raise SqlError(5064, f"Changes to the state or options of database '{db.name}' cannot be made "
                                   "at this time. The database is in single-user mode, and a user is currently "
                                   "connected to it.").with_followup(_alter_failed())
                for s in others:
                    await self._kill(s)
            key, stored = {
                "SINGLE_USER": ("user_access", "SINGLE_USER"), "MULTI_USER": ("user_access", "MULTI_USER"),
                "ALLOW_SNAPSHOT_ISOLATION": ("allow_snapshot_isolation", "1" if value else "0"),
                "READ_COMMITTED_SNAPSHOT": ("read_committed_snapshot", "1" if value else "0")}[option]
            conn = await self.conn(db)
            await conn.execute("INSERT INTO _mssql.meta(key, value) VALUES ($1, $2) "
                               "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value", key, stored)
            if key == "user_access":
                db.user_access = stored
            elif key == "allow_snapshot_isolation":
                db.allow_snapshot_isolation = bool(value)
            else:
                db.read_committed_snapshot = bool(value)
        yield Done(None)

    async def _make_room(self, db: Database, termination: str | None, after: int | None, blocks) -> None:
        """Wait until no other session blocks the change (no termination clause: indefinitely, as SQL
        Server does, until the client cancels), fail at once (NO_WAIT: 5070), or disconnect those
        sessions, rolling back their transactions (ROLLBACK IMMEDIATE, ROLLBACK AFTER n after n s)."""
        loop = asyncio.get_running_loop()
        deadline = None if termination != "ROLLBACK AFTER" else loop.time() + (after or 0)
        while True:
            others = [s for s in list(self.server.sessions) if s is not self and not s.closed and blocks(s)]
            if not others:
                return
            if termination == "NO_WAIT" and await self._others(blocks, grace=0.5):
                raise SqlError(5070, f"Database state cannot be changed while other users are using the database "
                               f"'{db.name}'", state=2).with_followup(_alter_failed())
            if termination == "ROLLBACK IMMEDIATE" or (deadline is not None and loop.time() >= deadline):
                for s in others:
                    await self._kill(s)
                return
            if self._cancelled:
                raise BatchStop()
            await asyncio.sleep(0.05)

    async def _others(self, blocks, grace: float = 2.0) -> list:
        """Other sessions that match ``blocks``, after giving a client that just closed its connection a
        moment to be gone."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        while True:
            others = [s for s in list(self.server.sessions) if s is not self and not s.closed and blocks(s)]
            if not others or loop.time() >= deadline:
                return others
            await asyncio.sleep(0.05)

    async def _kill(self, victim: "EngineSession") -> None:
        """End another session as KILL does: its Postgres backends end (Postgres rolls back their open
        transactions), then its client connection is closed."""
        conn = await self.conn()
        for c in list(victim.conns.values()):
            try:
                pid = c.get_server_pid()
                await conn.fetchval("SELECT pg_terminate_backend($1, 10000)", pid)
            except Exception:  # noqa: BLE001 - already gone
                pass
        await victim.killed_by_server()

    async def killed_by_server(self) -> None:
        self.killed = True
        self._cancelled = True
        self.closed = True
        self.trancount = 0
        self.tx_db = None
        for c in list(self.conns.values()):
            c.terminate()
        self.conns.clear()
        self.server.forget(self)
        if self.on_kill is not None:
            try:
                self.on_kill()
            except Exception:  # noqa: BLE001
                log.exception("closing a killed session's connection failed")


def _alter_failed() -> SqlError:
    return SqlError(5069, "ALTER DATABASE statement failed.")
