"""Conformance: ALTER DATABASE … SET (user access, row-versioning options) and the isolation levels.

Behaviour from Microsoft's "ALTER DATABASE SET options (Transact-SQL)", "SET TRANSACTION ISOLATION
LEVEL (Transact-SQL)" and "Snapshot isolation in SQL Server".
"""

from __future__ import annotations

import os
import threading
import time

import pytds
import pytest

from tsql import number_of, q

AGAINST_EMULATOR = not os.environ.get("MSSQL_URL")


def options(conn, name):
    return q(conn, "SELECT snapshot_isolation_state, snapshot_isolation_state_desc, "
                   "is_read_committed_snapshot_on, user_access, user_access_desc "
                   "FROM sys.databases WHERE name = %s", (name,))[0]


@pytest.fixture
def admin(connect):
    conn = connect()
    yield conn
    conn.close()


@pytest.fixture
def multi_user(admin, database):
    """The test database, set back to MULTI_USER afterwards (so the fixture can drop it)."""
    yield database
    q(admin, f"ALTER DATABASE [{database}] SET MULTI_USER WITH ROLLBACK IMMEDIATE")


def test_row_versioning_options_show_in_sys_databases(admin, database):
    assert options(admin, database) == (0, "OFF", False, 0, "MULTI_USER")
    q(admin, f"ALTER DATABASE [{database}] SET ALLOW_SNAPSHOT_ISOLATION ON")
    assert options(admin, database)[:3] == (1, "ON", False)
    q(admin, f"ALTER DATABASE [{database}] SET READ_COMMITTED_SNAPSHOT ON WITH ROLLBACK IMMEDIATE")
    assert options(admin, database)[:3] == (1, "ON", True)
    q(admin, f"ALTER DATABASE [{database}] SET ALLOW_SNAPSHOT_ISOLATION OFF")
    q(admin, f"ALTER DATABASE [{database}] SET READ_COMMITTED_SNAPSHOT OFF")
    assert options(admin, database)[:3] == (0, "OFF", False)
    # master always allows snapshot isolation
    assert options(admin, "master")[:2] == (1, "ON")


def test_alter_current_database(connect, database):
    with connect(database) as conn:
        q(conn, "ALTER DATABASE CURRENT SET ALLOW_SNAPSHOT_ISOLATION ON")
        assert options(conn, database)[1] == "ON"


def test_alter_unknown_database_is_5011_then_5069(admin):
    with pytest.raises(pytds.Error) as ei:
        q(admin, "ALTER DATABASE no_such_db_5011 SET ALLOW_SNAPSHOT_ISOLATION ON")
    assert number_of(ei) == 5069  # "ALTER DATABASE statement failed." follows 5011
    assert "no_such_db_5011" in str(ei.value)


def test_alter_database_inside_a_transaction_is_226(connect, database):
    with connect(database) as conn:
        with pytest.raises(pytds.Error) as ei:
            q(conn, f"BEGIN TRAN; ALTER DATABASE [{database}] SET ALLOW_SNAPSHOT_ISOLATION ON")
        assert number_of(ei) == 226
        q(conn, "IF @@TRANCOUNT > 0 ROLLBACK")


@pytest.mark.skipif(not AGAINST_EMULATOR, reason="the emulator's subset")
def test_other_alter_database_options_are_refused_clearly(admin, database):
    for option in ("SET RECOVERY SIMPLE", "SET OFFLINE", "MODIFY NAME = other_name"):
        with pytest.raises(pytds.Error) as ei:
            q(admin, f"ALTER DATABASE [{database}] {option}")
        assert "not supported by the SQL Server emulator" in str(ei.value)


def test_single_user_with_rollback_immediate_disconnects_others(connect, admin, multi_user):
    db = multi_user
    other = connect(db)
    q(other, "CREATE TABLE dbo.t (id int PRIMARY KEY)")
    q(other, "BEGIN TRAN; INSERT INTO dbo.t VALUES (1)")
    q(admin, f"ALTER DATABASE [{db}] SET SINGLE_USER WITH ROLLBACK IMMEDIATE")
    assert options(admin, db)[3:] == (1, "SINGLE_USER")
    # the other session was disconnected and its open transaction rolled back
    with pytest.raises(Exception):
        q(other, "SELECT COUNT(*) FROM dbo.t")
    other.close()
    first = connect(db)  # one user may use the database …
    assert q(first, "SELECT COUNT(*) FROM dbo.t") == [(0,)]
    with pytest.raises(pytds.Error) as ei:  # … and only one: 924, then 18456 (the login failed)
        connect(db).close()
    assert "is already open and can only have one user at a time" in str(ei.value)
    with pytest.raises(pytds.Error) as ei:  # also through USE
        q(admin, f"USE [{db}]")
    assert number_of(ei) == 924
    first.close()
    q(admin, f"ALTER DATABASE [{db}] SET MULTI_USER")
    a, b = connect(db), connect(db)
    assert q(a, "SELECT 1") == q(b, "SELECT 1") == [(1,)]
    a.close()
    b.close()


def test_single_user_with_no_wait_fails_while_in_use(connect, admin, multi_user):
    other = connect(multi_user)
    try:
        with pytest.raises(pytds.Error) as ei:
            q(admin, f"ALTER DATABASE [{multi_user}] SET SINGLE_USER WITH NO_WAIT")
        assert number_of(ei) == 5069
        assert f"Database state cannot be changed while other users are using the database '{multi_user}'" \
            in str(ei.value)
        assert options(admin, multi_user)[4] == "MULTI_USER"
        assert q(other, "SELECT 1") == [(1,)]  # still connected
    finally:
        other.close()


def test_single_user_without_termination_waits_for_other_users(connect, admin, multi_user):
    other = connect(multi_user)
    done = threading.Event()
    errors = []

    def alter():
        try:
            with connect() as c:
                q(c, f"ALTER DATABASE [{multi_user}] SET SINGLE_USER")
        except Exception as e:  # noqa: BLE001
            errors.append(e)
        finally:
            done.set()

    t = threading.Thread(target=alter)
    t.start()
    assert not done.wait(1.5)  # blocked while another connection uses the database
    assert q(other, "SELECT 1") == [(1,)]
    other.close()
    assert done.wait(30)
    t.join()
    assert not errors
    assert options(admin, multi_user)[4] == "SINGLE_USER"


def test_sessions_elsewhere_are_not_affected(connect, admin, multi_user):
    elsewhere = connect()  # in master
    q(elsewhere, "BEGIN TRAN")
    q(admin, f"ALTER DATABASE [{multi_user}] SET SINGLE_USER WITH ROLLBACK IMMEDIATE")
    assert q(elsewhere, "SELECT @@TRANCOUNT") == [(1,)]
    q(elsewhere, "ROLLBACK")
    elsewhere.close()
