"""Conformance: DB_ID, DB_NAME, OBJECT_ID, OBJECT_NAME, OBJECT_SCHEMA_NAME with any argument expression
(literals, variables, sp_executesql parameters, columns), as documented for SQL Server 2022."""

from __future__ import annotations

from tsql import q

DB_SETUP = [  # run in each test's fresh database by conftest's db fixture
    "CREATE SCHEMA sales",
    "CREATE TABLE sales.orders (id int PRIMARY KEY)",
]


def test_db_id_and_db_name_with_parameters(db, database):
    my_id = q(db, "SELECT DB_ID()")[0][0]
    # pytds sends these as sp_executesql parameters
    assert q(db, "SELECT DB_ID(%s), DB_NAME(%s)", (database, my_id)) == [(my_id, database)]
    assert q(db, "SELECT DB_ID(%s), DB_NAME(%s)", ("master", 1)) == [(1, "master")]
    assert q(db, "SELECT DB_ID(%s), DB_NAME(%s)", ("no_such_database", 32000)) == [(None, None)]


def test_db_id_and_db_name_with_variables_and_columns(db, database):
    assert q(db, f"DECLARE @d sysname = N'{database}'; SELECT DB_NAME(DB_ID(@d))") == [(database,)]
    assert q(db, "DECLARE @i int = 1; SELECT DB_NAME(@i)") == [("master",)]
    rows = q(db, "SELECT name, DB_ID(name), DB_NAME(database_id), database_id FROM sys.databases")
    assert all(r[1] == r[3] and r[2] == r[0] for r in rows)
    assert q(db, "EXEC sp_executesql N'SELECT DB_ID(@n)', N'@n sysname', @n = N'master'") == [(1,)]


def test_object_id_with_a_parameter(db):
    oid = q(db, "SELECT OBJECT_ID(N'sales.orders')")[0][0]
    assert isinstance(oid, int)
    assert q(db, "SELECT OBJECT_ID(%s)", ("sales.orders",)) == [(oid,)]
    assert q(db, "EXEC sp_executesql N'SELECT OBJECT_ID(@t)', N'@t nvarchar(200)', @t = N'[sales].[orders]'") \
        == [(oid,)]
    assert q(db, "DECLARE @t nvarchar(200) = N'sales.nope'; SELECT OBJECT_ID(@t)") == [(None,)]


def test_object_name_and_schema_name(db, database):
    oid = q(db, "SELECT OBJECT_ID(N'sales.orders')")[0][0]
    assert q(db, "SELECT OBJECT_NAME(%s), OBJECT_SCHEMA_NAME(%s)", (oid, oid)) == [("orders", "sales")]
    assert q(db, "SELECT OBJECT_NAME(object_id), OBJECT_SCHEMA_NAME(object_id) FROM sys.tables "
                 "WHERE name = N'orders'") == [("orders", "sales")]
    assert q(db, f"SELECT OBJECT_NAME({oid}, DB_ID())".replace("DB_ID()", str(q(db, "SELECT DB_ID()")[0][0]))) \
        == [("orders",)]
    assert q(db, "SELECT OBJECT_NAME(-12345), OBJECT_SCHEMA_NAME(-12345)") == [(None, None)]


def test_object_id_with_a_database_part(db, database, connect):
    oid = q(db, "SELECT OBJECT_ID(N'sales.orders')")[0][0]
    with connect() as master:  # from another database, the three-part name finds it there
        assert q(master, f"SELECT OBJECT_ID(N'{database}.sales.orders')") == [(oid,)]
        assert q(master, "SELECT OBJECT_ID(%s)", (f"[{database}].[sales].[orders]",)) == [(oid,)]
        assert q(master, f"SELECT OBJECT_ID(N'{database}.sales.nope')") == [(None,)]
        assert q(master, "SELECT OBJECT_ID(N'no_such_db_x.sales.orders')") == [(None,)]
        assert q(master, "SELECT OBJECT_ID(N'sales.orders')") == [(None,)]
    assert q(db, f"SELECT OBJECT_ID(N'{database}.sales.orders')") == [(oid,)]
