"""Transactions of a session: BEGIN/COMMIT/ROLLBACK/SAVE, isolation levels, and the savepoint or
transaction each statement runs in (TEST FIXTURE)."""

from __future__ import annotations

import re
import struct
from contextlib import asynccontextmanager
from typing import AsyncIterator

import asyncpg

from ..api import Done, EnvChange, ResultItem, SqlError
from . import cdc
from .catalog import Database
from .ddl import syntax
from .types import unsupported


# SQL Server's isolation levels on Postgres. Postgres never reads uncommitted data, so READ UNCOMMITTED
# reads like READ COMMITTED; SNAPSHOT is one snapshot per transaction, which is REPEATABLE READ in
# Postgres; SQL Server's locking REPEATABLE READ / SERIALIZABLE map to Postgres' (snapshot-based) levels.
PG_ISOLATION = {"READ UNCOMMITTED": "READ COMMITTED", "READ COMMITTED": "READ COMMITTED",
                "REPEATABLE READ": "REPEATABLE READ", "SNAPSHOT": "REPEATABLE READ",
                "SERIALIZABLE": "SERIALIZABLE"}


class TransactionsMixin:
    """The transaction state of EngineSession (trancount, tx_db, tx_ddl, tx_id, savepoints, tx_isolation)."""

    def _tx_descriptor(self) -> bytes:
        return struct.pack("<q", self.tx_id)

    async def _pg_begin(self, conn: asyncpg.Connection) -> None:
        level = self.options.get("ISOLATION", "READ COMMITTED")
        self.tx_isolation = level
        await conn.execute(f"BEGIN ISOLATION LEVEL {PG_ISOLATION[level]}")

    def _check_snapshot_access(self) -> None:
        """A statement that accesses the database under SNAPSHOT isolation (errors 3951, 3952)."""
        level = self.options.get("ISOLATION", "READ COMMITTED")
        if level != "SNAPSHOT":
            return
        if self.trancount > 0 and self.tx_isolation != "SNAPSHOT":
            raise SqlError(3951, f"Transaction failed in database '{self.db.name}' because the statement was "
                           "run under snapshot isolation but the transaction did not start in snapshot "
                           "isolation. You cannot change the isolation level of the transaction to snapshot "
                           "after the transaction has started unless the transaction was originally started "
                           "under snapshot isolation level.")
        if not self.db.allow_snapshot_isolation:
            raise SqlError(3952, f"Snapshot isolation transaction failed accessing database '{self.db.name}' "
                           "because snapshot isolation is not allowed in this database. Use ALTER DATABASE "
                           "to allow snapshot isolation.")

    async def _pg_commit(self, conn: asyncpg.Connection, db: Database) -> None:
        try:
            if db.cdc_enabled:
                async with db.commit_lock:
                    await conn.execute(cdc.COMMIT_RECORD_SQL + "; COMMIT")
            else:
                await conn.execute("COMMIT")
        except asyncpg.PostgresError as e:
            if conn.is_in_transaction():
                await conn.execute("ROLLBACK")
            raise self.map_error(e, "COMMIT")

    async def _rollback_all(self) -> None:
        db = self.tx_db or self.db
        conn = await self.conn(db)
        if conn.is_in_transaction():
            await conn.execute("ROLLBACK")
        self.trancount = 0
        self.savepoints = []
        self.tx_db = None
        if self.tx_ddl:
            self.tx_ddl = False
            await self.server.load_catalog(db, conn)

    async def _transaction_stmt(self, text: str) -> AsyncIterator[ResultItem]:
        words = [w.upper() for w in re.findall(r"[\w@#$\[\]]+", text)]
        verb = words[0]
        rest = words[1:]
        if rest and rest[0] in ("TRAN", "TRANSACTION", "WORK"):
            rest = rest[1:]
        name = rest[0] if rest else None
        if verb == "BEGIN":
            if words[1] not in ("TRAN", "TRANSACTION"):
                raise unsupported(f"BEGIN {words[1]}")
            if self.trancount == 0:
                conn = await self.conn()
                await self._pg_begin(conn)
                self.tx_db = self.db
                self.tx_id += 1
                self.trancount = 1
                yield EnvChange("begin_tran", self._tx_descriptor(), b"")
            else:
                self.trancount += 1
            yield Done(None)
            return
        if verb == "COMMIT":
            if self.trancount == 0:
                raise SqlError(3902, "The COMMIT TRANSACTION request has no corresponding BEGIN TRANSACTION.")
            if self.trancount == 1:
                db = self.tx_db or self.db
                conn = await self.conn(db)
                desc = self._tx_descriptor()
                self.trancount = 0
                self.tx_db = None
                self.savepoints = []
                self.tx_ddl = False
                await self._pg_commit(conn, db)
                yield EnvChange("commit_tran", b"", desc)
            else:
                self.trancount -= 1
            yield Done(None)
            return
        if verb == "SAVE":
            if self.trancount == 0:
                raise SqlError(628, "Cannot issue SAVE TRANSACTION when there is no active transaction.")
            if not name:
                raise syntax("SAVE")
            conn = await self.conn(self.tx_db)
            await conn.execute(f'SAVEPOINT "u_{name.lower()}"')
            self.savepoints.append(name.lower())
            yield Done(None)
            return
        if verb == "ROLLBACK":
            if self.trancount == 0:
                raise SqlError(3903, "The ROLLBACK TRANSACTION request has no corresponding BEGIN TRANSACTION.")
            if name and name.lower() in self.savepoints:
                conn = await self.conn(self.tx_db)
                await conn.execute(f'ROLLBACK TO SAVEPOINT "u_{name.lower()}"')
                idx = self.savepoints.index(name.lower())
                self.savepoints = self.savepoints[:idx + 1]
                yield Done(None)
                return
            desc = self._tx_descriptor()
            await self._rollback_all()
            yield EnvChange("rollback_tran", b"", desc)
            yield Done(None)
            return
        raise syntax(verb)

    async def _statement_scope(self, conn: asyncpg.Connection, touches: bool = True):
        """Start a statement: a savepoint inside a transaction, else a transaction of its own."""
        if touches:
            self._check_snapshot_access()
        if self.trancount > 0:
            if self.tx_db is not self.db:
                raise unsupported("A statement in another database than the open transaction's")
            self._sp += 1
            name = f"s{self._sp}"
            self._opening_sp = True  # a cancel now would abort the user transaction: none is re-sent
            try:
                await conn.execute(f"SAVEPOINT {name}")
            finally:
                self._opening_sp = False
            self._open_sp = name
            return name
        await self._pg_begin(conn)
        return None

    async def _statement_ok(self, conn: asyncpg.Connection, sp: str | None, readonly: bool = False) -> None:
        if sp is not None and sp == self._open_sp:
            self._open_sp = None
        if sp is not None:
            await conn.execute(f"RELEASE SAVEPOINT {sp}")
        elif readonly:
            await conn.execute("COMMIT")  # nothing captured: no commit record, no commit lock
        else:
            await self._pg_commit(conn, self.db)

    async def _statement_failed(self, conn: asyncpg.Connection, sp: str | None) -> None:
        if sp is not None and sp != self._open_sp:
            return  # already rolled back (after ATTENTION)
        try:
            if sp is not None:
                await conn.execute(f"ROLLBACK TO SAVEPOINT {sp}; RELEASE SAVEPOINT {sp}")
                self._open_sp = None
            elif conn.is_in_transaction():
                await conn.execute("ROLLBACK")
        except asyncpg.PostgresError:
            pass

    @asynccontextmanager
    async def system_transaction(self, db: Database, conn: asyncpg.Connection):
        """Run several Postgres statements of a system procedure atomically: inside the user's open
        transaction, or in a transaction of their own (committed at the end; on failure rolled back and
        the catalog reloaded). A Postgres error leaves as the SQL Server error it maps to."""
        own_tx = self.trancount == 0
        if own_tx:
            await conn.execute("BEGIN")
            self.trancount = 1
            self.tx_db = db
        try:
            yield conn
            if own_tx:
                self.trancount = 0
                self.tx_db = None
                self.tx_ddl = False
                await conn.execute("COMMIT")
        except BaseException as e:
            if own_tx:
                self.trancount = 0
                self.tx_db = None
                if conn.is_in_transaction():
                    await conn.execute("ROLLBACK")
                await self.server.load_catalog(db, conn)
            if isinstance(e, asyncpg.PostgresError):
                raise self.map_error(e, "EXEC")
            raise
