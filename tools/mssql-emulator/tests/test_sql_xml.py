"""Conformance: the untyped xml data type (storage, INFORMATION_SCHEMA, results, CDC capture).

SQL Server documents xml as a built-in type that CDC captures like any other column; Sluice's source
does not map it and must stop with a clear message, so the emulator needs it to exist as documented.
"""

from __future__ import annotations

from test_cdc_helpers import all_changes, q, wait_ct_count


def test_xml_column_stores_returns_and_describes(connect, database):
    conn = connect(database)
    q(conn, "CREATE TABLE dbo.docs (id int NOT NULL PRIMARY KEY, body xml NULL)")
    q(conn, "INSERT INTO dbo.docs VALUES (1, N'<a x=\"1\">text</a>'), (2, NULL)")
    rows = q(conn, "SELECT id, body FROM dbo.docs ORDER BY id")
    assert rows == [(1, '<a x="1">text</a>'), (2, None)]
    assert q(conn, "SELECT DATA_TYPE, CHARACTER_MAXIMUM_LENGTH FROM INFORMATION_SCHEMA.COLUMNS "
                   "WHERE TABLE_NAME = N'docs' AND COLUMN_NAME = N'body'") == [("xml", -1)]
    conn.close()


def test_xml_column_is_captured_by_cdc(connect, database):
    conn = connect(database)
    q(conn, "CREATE TABLE dbo.docs (id int NOT NULL PRIMARY KEY, body xml NULL)")
    q(conn, "EXEC sys.sp_cdc_enable_db")
    q(conn, "EXEC sys.sp_cdc_enable_table @source_schema = N'dbo', @source_name = N'docs', @role_name = NULL")
    assert q(conn, "SELECT DATA_TYPE FROM INFORMATION_SCHEMA.COLUMNS WHERE TABLE_SCHEMA = N'cdc' "
                   "AND TABLE_NAME = N'dbo_docs_CT' AND COLUMN_NAME = N'body'") == [("xml",)]
    q(conn, "INSERT INTO dbo.docs VALUES (1, N'<b/>')")
    wait_ct_count(conn, "dbo_docs", 1)
    rows = all_changes(conn, "dbo_docs", cols="__$operation, id, body")
    assert rows == [(2, 1, "<b/>")]
    conn.close()
