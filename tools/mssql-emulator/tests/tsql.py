"""T-SQL helpers shared by the conformance tests (no tests here; plain pytds, so they run against a real
SQL Server too)."""

from __future__ import annotations


def q(conn, sql, params=None):
    """Rows of the first result set of a batch (None when it returns none)."""
    with conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall() if cur.description else None


def q_last(conn, sql, params=None):
    """Rows of the last result set of a batch."""
    with conn.cursor() as cur:
        cur.execute(sql, params)
        rows = cur.fetchall() if cur.description else None
        while cur.nextset():
            if cur.description:
                rows = cur.fetchall()
        return rows


def number_of(excinfo) -> int:
    """The SQL Server error number of a pytest.raises(pytds.Error) result."""
    return excinfo.value.msg_no if hasattr(excinfo.value, "msg_no") else excinfo.value.number
