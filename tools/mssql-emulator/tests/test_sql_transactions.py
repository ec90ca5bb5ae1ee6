"""Conformance: transactions, @@TRANCOUNT nesting, rollback, savepoints."""

from __future__ import annotations

import pytds
import pytest

from tsql import q


DB_SETUP = [  # run in each test's fresh database by conftest's db fixture
    "CREATE TABLE dbo.t (id int PRIMARY KEY, v nvarchar(10))",
]


def test_commit_and_rollback(db):
    q(db, "BEGIN TRAN; INSERT INTO dbo.t VALUES (1, N'a'); COMMIT")
    q(db, "BEGIN TRAN; INSERT INTO dbo.t VALUES (2, N'b'); ROLLBACK")
    assert q(db, "SELECT id FROM dbo.t") == [(1,)]


def test_trancount_nesting(db):
    assert q(db, "SELECT @@TRANCOUNT") == [(0,)]
    assert q(db, "BEGIN TRAN; BEGIN TRAN; SELECT @@TRANCOUNT") == [(2,)]
    assert q(db, "COMMIT; SELECT @@TRANCOUNT") == [(1,)]
    q(db, "INSERT INTO dbo.t VALUES (1, N'a')")
    assert q(db, "ROLLBACK; SELECT @@TRANCOUNT") == [(0,)]
    assert q(db, "SELECT COUNT(*) FROM dbo.t") == [(0,)]


def test_statement_error_keeps_transaction(db):
    q(db, "BEGIN TRAN; INSERT INTO dbo.t VALUES (1, N'a')")
    with pytest.raises(pytds.Error):
        q(db, "INSERT INTO dbo.t VALUES (1, N'dup')")
    assert q(db, "SELECT @@TRANCOUNT") == [(1,)]
    q(db, "INSERT INTO dbo.t VALUES (2, N'b'); COMMIT")
    assert q(db, "SELECT id FROM dbo.t ORDER BY id") == [(1,), (2,)]


def test_save_transaction(db):
    q(db, "BEGIN TRAN; INSERT INTO dbo.t VALUES (1, N'a'); SAVE TRANSACTION sp1; "
          "INSERT INTO dbo.t VALUES (2, N'b'); ROLLBACK TRANSACTION sp1; COMMIT")
    assert q(db, "SELECT id FROM dbo.t") == [(1,)]


def test_commit_without_begin_is_3902(db):
    with pytest.raises(pytds.Error) as ei:
        q(db, "COMMIT")
    assert ei.value.msg_no == 3902


def test_uncommitted_work_is_invisible_to_others(connect, database, db):
    other = connect(database)
    try:
        q(db, "BEGIN TRAN; INSERT INTO dbo.t VALUES (1, N'a')")
        assert q(other, "SELECT COUNT(*) FROM dbo.t WHERE id = 2") == [(0,)]
        q(db, "COMMIT")
        assert q(other, "SELECT COUNT(*) FROM dbo.t") == [(1,)]
    finally:
        other.close()


def test_client_transactions_autocommit_off(connect, database, db):
    conn = connect(database, autocommit=False)
    try:
        q(conn, "INSERT INTO dbo.t VALUES (7, N'x')")
        conn.rollback()
        assert q(db, "SELECT COUNT(*) FROM dbo.t") == [(0,)]
        q(conn, "INSERT INTO dbo.t VALUES (8, N'y')")
        conn.commit()
        assert q(db, "SELECT id FROM dbo.t") == [(8,)]
    finally:
        conn.close()


BIG = ("SELECT a.v + 10 * b.v + 100 * c.v + 1000 * d.v + 10000 * e.v + 100000 * f.v AS n FROM "
       + " CROSS JOIN ".join(f"(VALUES (0),(1),(2),(3),(4),(5),(6),(7),(8),(9)) AS {x}(v)" for x in "abcdef"))


def test_statement_after_a_cancelled_query_runs(connect, database):
    # pytds cancels (ATTENTION) a result still being read when the next query is sent
    conn = connect(database)
    try:
        for _ in range(10):
            cur = conn.cursor()
            cur.execute(BIG)
            assert cur.fetchone() is not None
            assert q(conn, "SELECT 5 AS five") == [(5,)]
            assert q(conn, "SELECT @@TRANCOUNT") == [(0,)]
    finally:
        conn.close()


def test_cancelled_statement_leaves_the_transaction_open(db):
    q(db, "BEGIN TRAN; INSERT INTO dbo.t VALUES (1, N'a')")
    for _ in range(5):
        cur = db.cursor()
        cur.execute(BIG)
        assert cur.fetchone() is not None
        assert q(db, "SELECT @@TRANCOUNT") == [(1,)]
    q(db, "INSERT INTO dbo.t VALUES (2, N'b'); COMMIT")
    assert q(db, "SELECT id FROM dbo.t ORDER BY id") == [(1,), (2,)]
