"""Conformance: SET TRANSACTION ISOLATION LEVEL, snapshot isolation (errors 3951, 3952, 3960).

From Microsoft's "SET TRANSACTION ISOLATION LEVEL (Transact-SQL)" and "Snapshot isolation in SQL
Server": a SNAPSHOT transaction reads the data as it was committed when the transaction first read it,
and fails with 3952 in a database without ALLOW_SNAPSHOT_ISOLATION ON.
"""

from __future__ import annotations

import pytds
import pytest

from test_cdc_helpers import max_lsn, q, setup_cdc_table, wait_for
from tsql import number_of


DB_SETUP = [  # run in each test's fresh database by conftest's db fixture
    "CREATE TABLE dbo.t (id int PRIMARY KEY, v int NOT NULL)",
    "INSERT INTO dbo.t VALUES (1, 10)",
]


def test_snapshot_without_allow_snapshot_isolation_is_3952(db, database):
    q(db, "SET TRANSACTION ISOLATION LEVEL SNAPSHOT")
    assert q(db, "SELECT @@TRANCOUNT") == [(0,)]  # no access to the database's data yet
    with pytest.raises(pytds.Error) as ei:
        q(db, "SELECT COUNT(*) FROM dbo.t")  # autocommit: the statement is a snapshot transaction
    assert number_of(ei) == 3952
    assert (
        f"Snapshot isolation transaction failed accessing database '{database}' because snapshot "
        "isolation is not allowed in this database. Use ALTER DATABASE to allow snapshot isolation.") \
        in str(ei.value)
    q(db, "BEGIN TRAN")
    with pytest.raises(pytds.Error) as ei:
        q(db, "SELECT v FROM dbo.t")
    assert number_of(ei) == 3952
    q(db, "IF @@TRANCOUNT > 0 ROLLBACK")
    q(db, "SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
    assert q(db, "SELECT COUNT(*) FROM dbo.t") == [(1,)]


def test_snapshot_transaction_reads_one_snapshot(connect, db, database):
    q(db, f"ALTER DATABASE [{database}] SET ALLOW_SNAPSHOT_ISOLATION ON")
    writer = connect(database)
    try:
        q(db, "SET TRANSACTION ISOLATION LEVEL SNAPSHOT")
        q(db, "BEGIN TRAN")
        assert q(db, "SELECT COUNT(*) FROM dbo.t") == [(1,)]
        q(writer, "INSERT INTO dbo.t VALUES (2, 20)")
        q(writer, "UPDATE dbo.t SET v = 11 WHERE id = 1")
        assert q(db, "SELECT id, v FROM dbo.t ORDER BY id") == [(1, 10)]  # readers do not block
        q(db, "COMMIT")
        assert q(db, "SELECT id, v FROM dbo.t ORDER BY id") == [(1, 11), (2, 20)]
    finally:
        writer.close()


def test_read_committed_sees_each_statements_committed_data(connect, db, database):
    writer = connect(database)
    try:
        q(db, "SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
        q(db, "BEGIN TRAN")
        assert q(db, "SELECT COUNT(*) FROM dbo.t") == [(1,)]
        q(writer, "INSERT INTO dbo.t VALUES (2, 20)")
        assert q(db, "SELECT COUNT(*) FROM dbo.t") == [(2,)]
        q(db, "COMMIT")
    finally:
        writer.close()


def test_snapshot_includes_the_change_tables(connect, db, database):
    q(db, f"ALTER DATABASE [{database}] SET ALLOW_SNAPSHOT_ISOLATION ON")
    setup_cdc_table(db)
    writer = connect(database)
    try:
        q(writer, "INSERT INTO dbo.orders VALUES (1, N'apple', 1, 1.50)")
        wait_for(lambda: q(writer, "SELECT COUNT(*) FROM cdc.dbo_orders_CT")[0][0] == 1)
        q(db, "SET TRANSACTION ISOLATION LEVEL SNAPSHOT; BEGIN TRAN")
        before = max_lsn(db)
        assert q(db, "SELECT COUNT(*) FROM cdc.dbo_orders_CT") == [(1,)]
        q(writer, "INSERT INTO dbo.orders VALUES (2, N'pear', 2, 2.00)")
        wait_for(lambda: q(writer, "SELECT COUNT(*) FROM cdc.dbo_orders_CT")[0][0] == 2)
        assert max_lsn(writer) > before
        # the snapshot transaction still reads the change tables and LSNs as of its start
        assert max_lsn(db) == before
        assert q(db, "SELECT COUNT(*) FROM cdc.dbo_orders_CT") == [(1,)]
        assert q(db, "SELECT COUNT(*) FROM dbo.orders") == [(1,)]
        q(db, "COMMIT")
        assert q(db, "SELECT COUNT(*) FROM cdc.dbo_orders_CT") == [(2,)]
    finally:
        writer.close()


def test_snapshot_update_conflict_is_3960(connect, db, database):
    q(db, f"ALTER DATABASE [{database}] SET ALLOW_SNAPSHOT_ISOLATION ON")
    writer = connect(database)
    try:
        q(db, "SET TRANSACTION ISOLATION LEVEL SNAPSHOT; BEGIN TRAN")
        assert q(db, "SELECT v FROM dbo.t WHERE id = 1") == [(10,)]
        q(writer, "UPDATE dbo.t SET v = 11 WHERE id = 1")
        with pytest.raises(pytds.Error) as ei:
            q(db, "UPDATE dbo.t SET v = 12 WHERE id = 1")
        assert number_of(ei) == 3960
        assert "Snapshot isolation transaction aborted due to update conflict" in str(ei.value)
        assert q(db, "SELECT @@TRANCOUNT") == [(0,)]  # the transaction was rolled back
        assert q(db, "SELECT v FROM dbo.t WHERE id = 1") == [(11,)]
    finally:
        writer.close()


def test_switching_to_snapshot_inside_a_transaction_is_3951(db, database):
    q(db, f"ALTER DATABASE [{database}] SET ALLOW_SNAPSHOT_ISOLATION ON")
    q(db, "SET TRANSACTION ISOLATION LEVEL READ COMMITTED; BEGIN TRAN")
    assert q(db, "SELECT COUNT(*) FROM dbo.t") == [(1,)]
    q(db, "SET TRANSACTION ISOLATION LEVEL SNAPSHOT")
    with pytest.raises(pytds.Error) as ei:
        q(db, "SELECT COUNT(*) FROM dbo.t")
    assert number_of(ei) == 3951
    assert q(db, "SELECT @@TRANCOUNT") == [(0,)]  # the transaction was aborted


@pytest.mark.parametrize("level", ["READ UNCOMMITTED", "READ COMMITTED", "REPEATABLE READ", "SERIALIZABLE"])
def test_isolation_levels_run_transactions(db, level):
    q(db, f"SET TRANSACTION ISOLATION LEVEL {level}")
    q(db, "BEGIN TRAN; UPDATE dbo.t SET v = v + 1 WHERE id = 1")
    assert q(db, "SELECT v FROM dbo.t WHERE id = 1") == [(11,)]
    q(db, "COMMIT")
    assert q(db, "SELECT v FROM dbo.t") == [(11,)]
    q(db, "SET TRANSACTION ISOLATION LEVEL READ COMMITTED")


def test_snapshot_transaction_writes_tracked_table_beside_other_commits(connect, db, database):
    # different rows: no update conflict, both transactions commit and are captured in commit order
    q(db, f"ALTER DATABASE [{database}] SET ALLOW_SNAPSHOT_ISOLATION ON")
    setup_cdc_table(db)
    writer = connect(database)
    try:
        q(db, "SET TRANSACTION ISOLATION LEVEL SNAPSHOT; BEGIN TRAN")
        assert q(db, "SELECT COUNT(*) FROM dbo.orders") == [(0,)]
        q(writer, "INSERT INTO dbo.orders VALUES (1, N'apple', 1, 1.50)")
        q(db, "INSERT INTO dbo.orders VALUES (2, N'pear', 2, 2.00)")
        q(db, "COMMIT")
        assert q(db, "SELECT COUNT(*) FROM dbo.orders") == [(2,)]
        rows = wait_for(lambda: (lambda r: r if len(r) == 2 else None)(
            q(writer, "SELECT __$start_lsn, id FROM cdc.dbo_orders_CT ORDER BY __$start_lsn")))
        assert [r[1] for r in rows] == [1, 2] and rows[0][0] < rows[1][0]
    finally:
        writer.close()


def test_isolation_level_set_in_a_procedure_ends_with_it(db, database):
    # "SET TRANSACTION ISOLATION LEVEL": set in a stored procedure, the level in effect when it was
    # called is restored when it returns
    q(db, "CREATE PROCEDURE dbo.snap AS SET TRANSACTION ISOLATION LEVEL SNAPSHOT")
    q(db, "SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
    q(db, "EXEC dbo.snap")
    assert q(db, "SELECT COUNT(*) FROM dbo.t") == [(1,)]  # not 3952: still READ COMMITTED
