"""A tiny fake engine for the wire-layer tests — TEST FIXTURE of a TEST FIXTURE.

It implements the api.py contract (Server / Session) with a handful of canned commands instead of
T-SQL, so the TDS layer can be tested before, and independently of, the real engine:

    SELECT types          every api.py type, nullable: one row of values, one row of NULLs
    SELECT notnull        NOT NULL columns of the fixed-size types (fixed-length TYPE_INFO)
    SELECT text <s>       one nvarchar and one varchar column holding <s>
    STREAM <n>            n rows (int, nvarchar) from an async generator, never materialized
    SLEEP <seconds>       waits (for ATTENTION tests); cancel() is recorded in CANCELS
    MULTI                 two result sets, a PRINT message and an INSERT count in one batch
    INSERT <n>            Done(rowcount=n)
    RAISE <number>        raises SqlError(number) (batch-terminating)
    STMTERR               StatementError 2627, then the batch continues with a result set
    BEGIN TRAN / COMMIT / ROLLBACK   transaction ENVCHANGEs
    USE <db>              database ENVCHANGE + message 5701
    ECHO                  one row holding the parameters; OUTPUT params come back changed
    SET ...               accepted, no count
    SET FMTONLY ON <cmd> SET FMTONLY OFF   metadata of <cmd>'s result sets, no rows
Stored procedures (RPC by name or EXEC): sp_fake_proc returns a result set, RETURN 7 and doubles its
OUTPUT parameters.

Run standalone:  python tests/fake_engine.py --port 52433
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import logging
import os
import re
import sys
import uuid
from decimal import Decimal
from pathlib import Path
from typing import AsyncIterator

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mssql_emulator.api import (  # noqa: E402
    Column, Done, EnvChange, Message, Param, ResultSet, ReturnStatus, ReturnValue, SqlError, SqlType,
    StatementError,
)

LOGIN = ("wire", "Wire_pw1")
CANCELS: list[str] = []

TYPES: list[tuple[str, SqlType, object]] = [
    ("c_bit", SqlType("bit"), True),
    ("c_tinyint", SqlType("tinyint"), 255),
    ("c_smallint", SqlType("smallint"), -32768),
    ("c_int", SqlType("int"), 2147483647),
    ("c_bigint", SqlType("bigint"), -9223372036854775808),
    ("c_decimal", SqlType("decimal", precision=18, scale=4), Decimal("-12345678901234.5678")),
    ("c_numeric", SqlType("numeric", precision=38, scale=10), Decimal("1234567890123456789012345678.0123456789")),
    ("c_money", SqlType("money"), Decimal("-922337203685477.5808")),
    ("c_smallmoney", SqlType("smallmoney"), Decimal("214748.3647")),
    ("c_real", SqlType("real"), 1.5),
    ("c_float", SqlType("float"), -2.2250738585072014e-308),
    ("c_char", SqlType("char", length=10), "abc       "),
    ("c_varchar", SqlType("varchar", length=50), "Grüße, 世界"),
    ("c_nchar", SqlType("nchar", length=5), "äöü  "),
    ("c_nvarchar", SqlType("nvarchar", length=50), "Καλημέρα 🌍"),
    ("c_varchar_max", SqlType("varchar", length=-1), "x" * 10000 + "ü"),
    ("c_nvarchar_max", SqlType("nvarchar", length=-1), "y" * 9000 + "€"),
    ("c_binary", SqlType("binary", length=4), b"\x00\x01\x02\x03"),
    ("c_varbinary", SqlType("varbinary", length=16), b"\xde\xad\xbe\xef"),
    ("c_varbinary_max", SqlType("varbinary", length=-1), bytes(range(256)) * 40),
    ("c_date", SqlType("date"), dt.date(2024, 2, 29)),
    ("c_time", SqlType("time", scale=7), dt.time(23, 59, 59, 123456)),
    ("c_time3", SqlType("time", scale=3), dt.time(1, 2, 3, 456000)),
    ("c_smalldatetime", SqlType("smalldatetime"), dt.datetime(2079, 6, 6, 23, 59)),
    ("c_datetime", SqlType("datetime"), dt.datetime(1753, 1, 1, 0, 0, 0, 3000)),
    ("c_datetime2", SqlType("datetime2", scale=7), dt.datetime(9999, 12, 31, 23, 59, 59, 999999)),
    ("c_datetime2_0", SqlType("datetime2", scale=0), dt.datetime(1, 1, 1, 0, 0, 1)),
    ("c_dto", SqlType("datetimeoffset", scale=7),
     dt.datetime(2024, 5, 17, 10, 30, 15, 250000, tzinfo=dt.timezone(dt.timedelta(hours=-7, minutes=-30)))),
    ("c_guid", SqlType("uniqueidentifier"), uuid.UUID("6F9619FF-8B86-D011-B42D-00C04FC964FF")),
]

NOTNULL: list[tuple[str, SqlType, object]] = [
    ("n_bit", SqlType("bit"), False),
    ("n_tinyint", SqlType("tinyint"), 7),
    ("n_smallint", SqlType("smallint"), 300),
    ("n_int", SqlType("int"), -5),
    ("n_bigint", SqlType("bigint"), 1 << 40),
    ("n_real", SqlType("real"), -0.25),
    ("n_float", SqlType("float"), 3.141592653589793),
    ("n_money", SqlType("money"), Decimal("12.3400")),
    ("n_smallmoney", SqlType("smallmoney"), Decimal("-1.5000")),
    ("n_datetime", SqlType("datetime"), dt.datetime(2001, 2, 3, 4, 5, 6, 7000)),
    ("n_smalldatetime", SqlType("smalldatetime"), dt.datetime(1999, 12, 31, 23, 58)),
]


def _rs(spec: list[tuple[str, SqlType, object]], rows: list[tuple], nullable: bool = True) -> ResultSet:
    return ResultSet([Column(n, t, nullable=nullable) for n, t, _ in spec], rows)


class FakeSession:
    def __init__(self, database: str) -> None:
        self.database = database
        self.tran = 0

    async def execute(self, sql: str, params: list[Param] | None = None) -> AsyncIterator:
        fmt = re.match(r"(?is)^\s*SET FMTONLY ON\s+(.*?)\s+SET FMTONLY OFF\s*$", sql)
        if fmt:  # metadata only (freebcp queryout, db-lib's dbcolinfo paths)
            async for item in self.execute(fmt.group(1), params):
                if isinstance(item, ResultSet):
                    if hasattr(item.rows, "aclose"):
                        await item.rows.aclose()
                    yield ResultSet(item.columns, [])
                elif isinstance(item, Done):
                    yield Done(None)
                else:
                    yield item
            return
        for stmt in [s.strip() for s in sql.split(";") if s.strip()]:
            async for item in self._one(stmt, params or []):
                yield item

    async def _one(self, stmt: str, params: list[Param]) -> AsyncIterator:
        words = stmt.split()
        head = " ".join(words[:2]).upper()
        cmd = words[0].upper()
        if head == "SELECT TYPES":
            yield _rs(TYPES, [tuple(v for _, _, v in TYPES), tuple(None for _ in TYPES)])
            yield Done(2)
        elif head == "SELECT NOTNULL":
            yield _rs(NOTNULL, [tuple(v for _, _, v in NOTNULL)], nullable=False)
            yield Done(1)
        elif head == "SELECT TEXT":
            s = stmt.split(None, 2)[2]
            yield ResultSet([Column("n", SqlType("nvarchar", length=100)),
                             Column("v", SqlType("varchar", length=100))], [(s, s)])
            yield Done(1)
        elif cmd == "STREAM":
            n = int(words[1])
            yield ResultSet([Column("i", SqlType("int"), nullable=False),
                             Column("s", SqlType("nvarchar", length=50))], _stream(n))
            yield Done(n)
        elif cmd == "SLEEP":
            try:
                await asyncio.sleep(float(words[1]))
            except asyncio.CancelledError:
                CANCELS.append("task")
                raise
            yield Done(None)
        elif cmd == "MULTI":
            yield ResultSet([Column("a", SqlType("int"))], [(1,), (2,)])
            yield Done(2)
            yield Message(0, "hello from PRINT", state=1, severity=0, line=2)
            yield ResultSet([Column("b", SqlType("nvarchar", length=10))], [("x",)])
            yield Done(1)
            yield Done(3)
        elif cmd == "INSERT":
            yield Done(int(words[1]))
        elif cmd == "RAISE":
            raise SqlError(int(words[1]), f"fake error {words[1]}", severity=16, state=3, line=4,
                           procedure="fake_proc")
        elif cmd == "STMTERR":
            yield StatementError(SqlError(2627, "Violation of PRIMARY KEY constraint 'pk'. Cannot "
                                                "insert duplicate key in object 'dbo.t'.", severity=14))
            yield Done(None)
            yield ResultSet([Column("after", SqlType("int"))], [(1,)])
            yield Done(1)
        elif head.startswith("BEGIN TRAN"):
            self.tran += 1
            if self.tran == 1:
                yield EnvChange("begin_tran", b"\x01\x00\x00\x00\x00\x00\x00\x00", b"")
            yield Done(None)
        elif cmd in ("COMMIT", "ROLLBACK"):
            if self.tran == 0:
                raise SqlError(3902, "The COMMIT TRANSACTION request has no corresponding BEGIN TRANSACTION.")
            self.tran = 0
            yield EnvChange("commit_tran" if cmd == "COMMIT" else "rollback_tran", b"",
                            b"\x01\x00\x00\x00\x00\x00\x00\x00")
            yield Done(None)
        elif cmd == "USE":
            old, self.database = self.database, words[1].strip("[]")
            yield EnvChange("database", self.database, old)
            yield Message(5701, f"Changed database context to '{self.database}'.", state=1)
            yield Done(None)
        elif cmd == "ECHO":
            cols = [Column(p.name.lstrip("@") or f"p{i}", p.type) for i, p in enumerate(params)]
            yield ResultSet(cols, [tuple(p.value for p in params)])
            yield Done(1)
            for p in params:
                if p.output:
                    yield ReturnValue(Param(p.name, p.type, _changed(p.value), output=True))
        elif cmd == "SET":
            yield Done(None)
        elif cmd == "EXEC":
            async for item in self.call(words[1], []):
                yield item
        else:
            raise SqlError(102, f"fake engine: unknown command {stmt[:40]!r}")

    async def call(self, procedure: str, params: list[Param]) -> AsyncIterator:
        if procedure.lower() != "sp_fake_proc":
            raise SqlError(2812, f"Could not find stored procedure '{procedure}'.", state=62)
        yield ResultSet([Column("name", SqlType("nvarchar", length=20))], [("proc-row",)])
        yield Done(1)
        yield ReturnStatus(7)
        for p in params:
            if p.output:
                yield ReturnValue(Param(p.name, p.type, _changed(p.value), output=True))

    async def cancel(self) -> None:
        CANCELS.append("session")
        logging.getLogger("fake").info("session.cancel() called")

    async def close(self) -> None:
        pass


def _changed(v: object) -> object:
    if isinstance(v, bool) or v is None:
        return v
    if isinstance(v, (int, Decimal, float)):
        return v * 2
    if isinstance(v, str):
        return v + "!"
    return v


async def _stream(n: int) -> AsyncIterator[tuple]:
    pad = "p" * 40
    for i in range(n):
        yield (i, pad)
        if i % 1000 == 0:
            await asyncio.sleep(0)


class FakeServer:
    def __init__(self, logins: dict[str, str]) -> None:
        self.logins = logins

    async def authenticate(self, user: str, password: str, database: str | None,
                           app_name: str = "") -> FakeSession:
        if self.logins.get(user) != password:
            raise SqlError(18456, f"Login failed for user '{user}'.", severity=14, state=1)
        db = database or "master"
        if db not in ("master", "fakedb"):
            raise SqlError(4060, f'Cannot open database "{db}" requested by the login. The login failed.',
                           severity=11, state=1)
        return FakeSession(db)


# --------------------------------------------------------------------------------------------------
# pytest fixture: the fake engine served by the real TDS layer in a child process (so tests can
# measure the server's memory separately from the client's).

PORT_RANGE = range(52433, 52500)


def _free_port() -> int:
    import random
    import socket
    ports = list(PORT_RANGE)
    random.shuffle(ports)
    for port in ports:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 52433-52499")


class Endpoint:
    def __init__(self, host: str, port: int, pid: int, log_path: Path) -> None:
        self.host, self.port, self.pid, self.log_path = host, port, pid, log_path
        self.user, self.password = LOGIN

    def rss_kib(self) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError("no VmRSS")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_fake_server(log_path: Path):
    """Start the fake server; returns (Popen, Endpoint)."""
    import subprocess
    import time
    for _attempt in range(5):
        port = _free_port()
        out = open(log_path, "wb")
        proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--port", str(port)],
                                stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                break
            if b"READY" in log_path.read_bytes():
                return proc, Endpoint("127.0.0.1", port, proc.pid, log_path)
            time.sleep(0.05)
        proc.kill()
        proc.wait()
    raise RuntimeError("the fake TDS server did not start:\n" + log_path.read_text(errors="replace"))


try:
    import pytest

    @pytest.fixture(scope="session")
    def fake_server(tmp_path_factory):
        """An Endpoint (host, port, user, password, pid) of the TDS layer serving the fake engine."""
        log_path = tmp_path_factory.mktemp("fake_tds") / "server.log"
        proc, endpoint = start_fake_server(log_path)
        try:
            yield endpoint
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except Exception:  # noqa: BLE001
                proc.kill()
except ImportError:  # standalone use without pytest
    pass


async def _main(port: int) -> None:
    from mssql_emulator.tds import TdsServer

    tds = TdsServer(FakeServer(dict([LOGIN])), "fake", "127.0.0.1", port)
    await tds.start()
    print(f"READY {tds.port}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await tds.close()


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--log-level", default=os.environ.get("FAKE_LOG_LEVEL", "INFO"))
    a = ap.parse_args()
    logging.basicConfig(level=a.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        asyncio.run(_main(a.port))
    except KeyboardInterrupt:
        pass
