"""Conformance: SQL Server error numbers, statement- vs batch-terminating errors."""

from __future__ import annotations

import time

import pytds
import pytest

from tsql import number_of, q


DB_SETUP = [  # run in each test's fresh database by conftest's db fixture
    "CREATE TABLE dbo.parent (id int PRIMARY KEY, code nvarchar(10) NOT NULL CONSTRAINT UQ_parent_code UNIQUE)",
    "CREATE TABLE dbo.child (id int IDENTITY PRIMARY KEY, parent_id int NOT NULL "
    "CONSTRAINT FK_child_parent REFERENCES dbo.parent(id))",
    "CREATE UNIQUE INDEX UX_child_parent ON dbo.child (parent_id)",
    "INSERT INTO dbo.parent VALUES (1, N'a')",
]


@pytest.mark.parametrize("sql,number", [
    ("SELECT 1 +", 102),
    ("SELEC 1", 2812),  # an identifier starting a batch is an implicit EXEC
    ("SELECT nope FROM dbo.parent", 207),
    ("SELECT * FROM dbo.nope", 208),
    ("INSERT INTO dbo.parent VALUES (2, NULL)", 515),
    ("INSERT INTO dbo.child (parent_id) VALUES (99)", 547),
    ("INSERT INTO dbo.parent VALUES (1, N'b')", 2627),
    ("INSERT INTO dbo.parent VALUES (2, N'A')", 2627),
    ("USE no_such_database_xyz", 911),
])
def test_error_numbers(db, sql, number):
    with pytest.raises(pytds.Error) as ei:
        q(db, sql)
    assert number_of(ei) == number


def test_unique_index_is_2601(db):
    q(db, "INSERT INTO dbo.child (parent_id) VALUES (1)")
    with pytest.raises(pytds.Error) as ei:
        q(db, "INSERT INTO dbo.child (parent_id) VALUES (1)")
    assert number_of(ei) == 2601


def test_delete_referenced_row_is_547(db):
    q(db, "INSERT INTO dbo.child (parent_id) VALUES (1)")
    with pytest.raises(pytds.Error) as ei:
        q(db, "DELETE FROM dbo.parent WHERE id = 1")
    assert number_of(ei) == 547


def test_too_many_arguments_8144(db):
    with pytest.raises(pytds.Error) as ei:
        q(db, "EXEC sys.sp_cdc_enable_db 1, 2")
    assert number_of(ei) == 8144


def test_statement_error_does_not_abort_batch(db):
    with db.cursor() as cur:
        with pytest.raises(pytds.Error):
            cur.execute("INSERT INTO dbo.parent VALUES (1, N'dup'); INSERT INTO dbo.parent VALUES (5, N'e')")
    assert q(db, "SELECT id FROM dbo.parent ORDER BY id") == [(1,), (5,)]


def test_unsupported_is_a_clear_error(db):
    with pytest.raises(pytds.Error) as ei:
        q(db, "SELECT * INTO dbo.copy FROM dbo.parent")
    assert "not supported" in str(ei.value) or number_of(ei) != 0


def test_login_failed_18456(server):
    with pytest.raises(pytds.Error) as ei:
        pytds.connect(server=server["host"], port=server["port"], user=server["user"],
                      password="wrong-password", database="master", login_timeout=10)
    assert number_of(ei) == 18456


def test_cannot_open_database_4060_then_18456(server):
    # SQL Server: Msg 4060 "Cannot open database … requested by the login. The login failed." and
    # Msg 18456 "Login failed for user …" in the same login response (pytds raises the last one at once)
    started = time.monotonic()
    with pytest.raises(pytds.Error) as ei:
        pytds.connect(server=server["host"], port=server["port"], user=server["user"],
                      password=server["password"], database="no_such_db_4060", login_timeout=10)
    assert time.monotonic() - started < 5
    assert number_of(ei) == 18456
    assert 'Cannot open database "no_such_db_4060" requested by the login' in str(ei.value)



def _error(conn, sql, params=None):
    with pytest.raises(pytds.Error) as ei:
        with conn.cursor() as cur:
            cur.execute(sql, params)
            while True:
                if cur.description:
                    cur.fetchall()
                if not cur.nextset():
                    break
    return ei.value


def test_error_line_is_the_failing_statements_line_within_the_batch(db):
    e = _error(db, "SELECT 1\n\nSELECT 1 / 0")
    assert (e.msg_no, e.line) == (8134, 3)
    e = _error(db, "SELECT 1;\n/* a comment\n */ SELECT nope FROM dbo.parent")
    assert (e.msg_no, e.line) == (207, 3)
    e = _error(db, "SELECT 1\nIF 1 = 1\nBEGIN\n  SELECT 2\n  INSERT INTO dbo.parent VALUES (1, N'x')\nEND")
    assert (e.msg_no, e.line) == (2627, 5)


def test_error_line_of_a_syntax_error(db):
    e = _error(db, "SELECT 1\nSELECT 1,\n  2 +\n  FROM dbo.parent")
    assert (e.msg_no, e.line) == (102, 4)


def test_error_line_within_sp_executesql_statement(db):
    e = _error(db, "SELECT 1\nSELECT 1 / %s", (0,))  # pytds: sp_executesql
    assert (e.msg_no, e.line) == (8134, 2)
    e = _error(db, "\n\nEXEC sp_executesql N'SELECT 1\n\nSELECT 1 / 0'")
    assert (e.msg_no, e.line) == (8134, 3)


def test_error_line_and_name_of_a_procedure(db):
    with db.cursor() as cur:
        cur.execute("CREATE PROCEDURE dbo.fails AS\nBEGIN\n  SELECT 1\n  SELECT 1 / 0\nEND")
    e = _error(db, "\n\nEXEC dbo.fails")
    assert (e.msg_no, e.line, e.procname) == (8134, 4, "fails")
