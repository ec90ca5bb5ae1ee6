"""Engine unit tests through the Session API (needs a Postgres: SLUICE_EMULATOR_BACKING_URL)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import asyncio
import os
import uuid

import pytest

from mssql_emulator.api import Done, EnvChange, ResultSet, SqlError, StatementError  # noqa: E402
from mssql_emulator.engine import EmulatorServer  # noqa: E402

BACKING = os.environ.get("SLUICE_EMULATOR_BACKING_URL")
pytestmark = pytest.mark.skipif(not BACKING, reason="needs SLUICE_EMULATOR_BACKING_URL (a Postgres)")


async def collect(agen):
    out = []
    async for item in agen:
        if isinstance(item, ResultSet) and not isinstance(item.rows, list):
            item = ResultSet(item.columns, [r async for r in item.rows])
        out.append(item)
    return out


def rows(items):
    return [r for i in items if isinstance(i, ResultSet) for r in i.rows]


@pytest.fixture
def run():
    loop = asyncio.new_event_loop()
    yield loop.run_until_complete
    loop.close()


@pytest.fixture
def server(run):
    srv = EmulatorServer(BACKING, f"unit{uuid.uuid4().hex[:8]}", {"sa": "pw"}, capture_interval=0.2,
                         timezone="America/New_York", drop_on_exit=True)
    run(srv.start())
    yield srv
    run(srv.stop())


def test_login_errors(server, run):
    with pytest.raises(SqlError) as ei:
        run(server.authenticate("sa", "bad", None))
    assert ei.value.number == 18456
    with pytest.raises(SqlError) as ei:
        run(server.authenticate("sa", "pw", "nope"))
    assert ei.value.number == 4060


def test_transaction_envchanges_and_statement_errors(server, run):
    s = run(server.authenticate("sa", "pw", None))
    run(collect(s.execute("CREATE TABLE dbo.t (id int PRIMARY KEY)")))
    items = run(collect(s.execute("BEGIN TRAN; INSERT INTO dbo.t VALUES (1); INSERT INTO dbo.t VALUES (1); "
                                  "INSERT INTO dbo.t VALUES (2); COMMIT")))
    kinds = [type(i).__name__ if not isinstance(i, EnvChange) else i.kind for i in items]
    assert kinds == ["begin_tran", "Done", "Done", "StatementError", "Done", "Done", "commit_tran", "Done"]
    assert [i for i in items if isinstance(i, StatementError)][0].error.number == 2627
    assert rows(run(collect(s.execute("SELECT COUNT(*) FROM dbo.t")))) == [(2,)]
    run(s.close())


def test_batch_aborting_error_raises(server, run):
    s = run(server.authenticate("sa", "pw", None))
    with pytest.raises(SqlError) as ei:
        run(collect(s.execute("SELECT 1; SELECT * FROM dbo.missing; SELECT 2")))
    assert ei.value.number == 208
    run(s.close())


def test_unsupported_is_clear(server, run):
    s = run(server.authenticate("sa", "pw", None))
    with pytest.raises(SqlError) as ei:
        run(collect(s.execute("CREATE TABLE #tmp (a int)")))
    assert "not supported by the SQL Server emulator" in ei.value.message
    run(s.close())


def test_streaming_large_result(server, run):
    s = run(server.authenticate("sa", "pw", None))
    n = 0

    async def go():
        nonlocal n
        async for item in s.execute("WITH x AS (SELECT 1 AS a) SELECT a FROM x"):
            pass
        run_items = s.execute("SELECT CAST(1 AS int) AS a")
        async for item in run_items:
            if isinstance(item, ResultSet):
                async for _ in item.rows:
                    n += 1
    run(go())
    assert n == 1
    run(s.close())


def test_capture_in_commit_order_and_local_time(server, run):
    a = run(server.authenticate("sa", "pw", None))
    b = run(server.authenticate("sa", "pw", None))
    run(collect(a.execute("CREATE DATABASE c1")))
    for s in (a, b):
        run(collect(s.execute("USE c1")))
    run(collect(a.execute("CREATE TABLE dbo.t (id int PRIMARY KEY, v nvarchar(10)); EXEC sys.sp_cdc_enable_db; "
                          "EXEC sys.sp_cdc_enable_table @source_schema = N'dbo', @source_name = N't', @role_name = NULL")))
    run(collect(a.execute("BEGIN TRAN; INSERT INTO dbo.t VALUES (1, N'a')")))
    run(collect(b.execute("BEGIN TRAN; INSERT INTO dbo.t VALUES (2, N'b'); COMMIT")))
    run(collect(a.execute("UPDATE dbo.t SET v = N'A' WHERE id = 1; COMMIT")))
    run(asyncio.sleep(1.0))
    got = rows(run(collect(a.execute(
        "SELECT __$start_lsn, __$operation, id FROM cdc.dbo_t_CT ORDER BY __$start_lsn, __$seqval, __$operation"))))
    assert [(op, i) for _, op, i in got] == [(2, 2), (2, 1), (3, 1), (4, 1)]
    assert got[0][0] < got[1][0]
    (end, now), = rows(run(collect(a.execute("SELECT MAX(tran_end_time), GETDATE() FROM cdc.lsn_time_mapping"))))
    assert abs((now - end).total_seconds()) < 60   # both in the server's zone (America/New_York)
    for s in (a, b):
        run(collect(s.execute("USE master")))
        run(s.close())


def test_cancel_stops_a_running_query_and_the_session_goes_on(server, run):
    s = run(server.authenticate("sa", "pw", None))
    digits = "(SELECT n FROM (VALUES (0),(1),(2),(3),(4),(5),(6),(7),(8),(9)) AS v(n))"
    sql = ("SELECT COUNT(*) FROM " + ", ".join(f"{digits} AS d{i}" for i in range(9)))

    async def go():
        task = asyncio.create_task(collect(s.execute(sql)))
        # ATTENTION follows a request the server is running: wait until Postgres executes the statement
        # (seen active twice, 0.2 s apart: parsing it takes milliseconds). A fixed pause raced a loaded
        # machine, where the cancel reached the backend between the statement's parse and its execution.
        async def executing() -> bool:
            pid = s._running_pid
            return pid is not None and await server._admin.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = $1 AND state = 'active' AND query LIKE 'SELECT COUNT(*)%'", pid) == 1
        async def executing_steadily() -> bool:
            if not await executing():
                return False
            await asyncio.sleep(0.2)
            return await executing()
        deadline = asyncio.get_running_loop().time() + 30
        while not await executing_steadily():
            assert not task.done() and asyncio.get_running_loop().time() < deadline, "the query never ran"
            await asyncio.sleep(0.02)
        await s.cancel()
        try:
            await task
        except SqlError:
            pass
        return rows(await collect(s.execute("SELECT 5")))
    assert run(go()) == [(5,)]
    run(s.close())


def test_cancel_at_any_phase_of_a_statement_stops_it_and_keeps_the_transaction(server, run):
    # ATTENTION at any moment after the request, also while the statement is parsed or between its
    # parse and its execution (where Postgres drops a single cancel): every time the statement stops
    # within seconds (not the 10 s after which the session gives its connection up, losing the open
    # transaction), and the user transaction stays open.
    s = run(server.authenticate("sa", "pw", None))
    run(collect(s.execute("CREATE TABLE dbo.t (id int PRIMARY KEY); BEGIN TRAN; INSERT INTO dbo.t VALUES (1)")))
    digits = "(SELECT n FROM (VALUES (0),(1),(2),(3),(4),(5),(6),(7),(8),(9)) AS v(n))"
    sql = "SELECT COUNT(*) FROM " + ", ".join(f"{digits} AS d{i}" for i in range(9))

    async def go():
        loop = asyncio.get_running_loop()
        slowest = 0.0
        for i in range(60):
            task = asyncio.create_task(collect(s.execute(sql)))
            await asyncio.sleep((i % 20) * 0.0005)  # 0 to 9.5 ms: through the parse and the step to execute
            started = loop.time()
            await s.cancel()
            try:
                await asyncio.wait_for(task, 30)
            except SqlError:
                pass
            slowest = max(slowest, loop.time() - started)
            assert rows(await collect(s.execute("SELECT @@TRANCOUNT"))) == [(1,)], f"attempt {i}"
        return slowest
    assert run(go()) < 5
    run(collect(s.execute("COMMIT")))
    assert rows(run(collect(s.execute("SELECT id FROM dbo.t")))) == [(1,)]
    run(s.close())


def test_close_rolls_back_open_transaction(server, run):
    s = run(server.authenticate("sa", "pw", None))
    run(collect(s.execute("CREATE TABLE dbo.t (id int PRIMARY KEY)")))
    run(collect(s.execute("BEGIN TRAN; INSERT INTO dbo.t VALUES (1)")))
    run(s.close())
    s2 = run(server.authenticate("sa", "pw", None))
    assert rows(run(collect(s2.execute("SELECT COUNT(*) FROM dbo.t")))) == [(0,)]
    run(s2.close())


@pytest.mark.parametrize("sql", [
    "WHILE 1 = 0 SELECT 1", "GRANT SELECT ON dbo.x TO public", "WAITFOR TIME '23:00'",
    "SELECT TRY_CONVERT(int, 'x')", "SELECT FORMAT(1, 'N')",
    "SELECT * FROM OPENJSON(N'[\"AQI=\"]') WITH (b varbinary(10) '$')",
    "SELECT j.value FROM sys.tables AS t CROSS APPLY OPENJSON(t.name) AS j",
    "SELECT TOP 50 PERCENT name FROM sys.tables", "SELECT NEXT VALUE FOR s", "SELECT CAST(1 AS sql_variant)",
    "DECLARE @t TABLE (a int)", "BEGIN TRY SELECT 1 END TRY BEGIN CATCH SELECT 2 END CATCH",
    "CREATE VIEW v AS SELECT 1 AS a", "SELECT * INTO dbo.y FROM sys.tables", "SET IMPLICIT_TRANSACTIONS ON",
])
def test_outside_the_subset_is_a_clear_error(server, run, sql):
    s = run(server.authenticate("sa", "pw", None))
    with pytest.raises(SqlError) as ei:
        run(collect(s.execute(sql)))
    assert "not supported by the SQL Server emulator" in ei.value.message
    run(s.close())
