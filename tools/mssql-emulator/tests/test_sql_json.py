"""Conformance: SELECT … FOR JSON PATH|AUTO and HASHBYTES, as documented for SQL Server 2022 ("Format
query results as JSON with FOR JSON", "How FOR JSON converts SQL Server data types to JSON data types",
"How FOR JSON escapes special characters and control characters", "HASHBYTES")."""

from __future__ import annotations

import hashlib
import json

import pytds
import pytest

from tsql import q


DB_SETUP = [  # run in each test's fresh database by conftest's db fixture
    "CREATE TABLE dbo.t (id int PRIMARY KEY, name nvarchar(50) NULL, amt decimal(10,2) NULL, "
    "ok bit NOT NULL, d date NULL, b varbinary(10) NULL)",
    "INSERT INTO dbo.t VALUES (1, N'a/\"b\\c' + CHAR(10) + N'd' + CHAR(1), 1.50, 1, '2024-01-02', 0x0102), "
    "(2, NULL, NULL, 0, NULL, NULL)",
]


ROW1 = '{"id":1,"name":"a\\/\\"b\\\\c\\nd\\u0001","amt":1.50,"ok":true,"d":"2024-01-02","b":"AQI="}'


def test_for_json_path_types_and_escapes(db):
    rows = q(db, "SELECT * FROM dbo.t ORDER BY id FOR JSON PATH")
    assert "".join(r[0] for r in rows) == "[" + ROW1 + ',{"id":2,"ok":false}]'
    json.loads("".join(r[0] for r in rows))  # valid JSON


def test_for_json_options(db):
    text = "".join(r[0] for r in q(db, "SELECT * FROM dbo.t ORDER BY id FOR JSON PATH, INCLUDE_NULL_VALUES"))
    assert text == "[" + ROW1 + ',{"id":2,"name":null,"amt":null,"ok":false,"d":null,"b":null}]'
    assert q(db, "SELECT id, ok AS flag FROM dbo.t WHERE id = 2 FOR JSON PATH, WITHOUT_ARRAY_WRAPPER") \
        == [('{"id":2,"flag":false}',)]
    assert q(db, "SELECT id FROM dbo.t ORDER BY id FOR JSON AUTO, ROOT('rows')") \
        == [('{"rows":[{"id":1},{"id":2}]}',)]


def test_for_json_result_column_and_long_text_split_in_rows(db):
    q(db, "INSERT INTO dbo.t (id, name, ok) VALUES " + ", ".join(f"({100 + i}, N'{'x' * 50}', 0)" for i in range(60)))
    with db.cursor() as cur:
        cur.execute("SELECT id, name FROM dbo.t ORDER BY id FOR JSON PATH")
        assert cur.description[0][0] == "JSON_F52E2B61-18A1-11d1-B105-00805F49916B"
        rows = cur.fetchall()
    text = "".join(r[0] for r in rows)
    assert len(rows) > 1 and all(len(r[0]) == 2033 for r in rows[:-1])
    assert [o["id"] for o in json.loads(text)] == [1, 2] + list(range(100, 160))


def test_for_json_needs_column_names(db):
    with pytest.raises(pytds.Error) as ei:
        q(db, "SELECT id + 1 FROM dbo.t FOR JSON PATH")
    assert ei.value.msg_no == 13605


def test_for_json_subquery_of_no_rows_is_null(db):
    assert q(db, "SELECT (SELECT id FROM dbo.t WHERE id > 5 FOR JSON PATH) AS j") == [(None,)]


def test_hashbytes(db):
    assert q(db, "SELECT HASHBYTES('SHA2_256', N'abc'), HASHBYTES('SHA2_256', 'abc'), HASHBYTES('MD5', 0x616263), "
                 "HASHBYTES('SHA2_512', N'é')") == [(
        hashlib.sha256("abc".encode("utf-16-le")).digest(), hashlib.sha256(b"abc").digest(),
        hashlib.md5(b"abc").digest(), hashlib.sha512("é".encode("utf-16-le")).digest())]
    assert q(db, "SELECT HASHBYTES('SHA2_256', CAST(NULL AS nvarchar(10)))") == [(None,)]


def test_checksum_of_a_table_as_json(db):
    # the warehouse operator's checksum: HASHBYTES over the FOR JSON text (nvarchar, so UTF-16LE)
    got = q(db, "SELECT HASHBYTES('SHA2_256', (SELECT * FROM dbo.t WHERE id BETWEEN %s AND %s ORDER BY id "
                "FOR JSON PATH, INCLUDE_NULL_VALUES)) AS checksum", (1, 5))
    text = "[" + ROW1 + ',{"id":2,"name":null,"amt":null,"ok":false,"d":null,"b":null}]'
    assert got == [(hashlib.sha256(text.encode("utf-16-le")).digest(),)]
