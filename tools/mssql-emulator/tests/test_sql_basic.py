"""Conformance: T-SQL DDL/DML round trips, result metadata, identifiers (runs against SQL Server too)."""

from __future__ import annotations

import datetime as dt
import decimal
import uuid

import pytds
import pytest

from tsql import q, q_last


def describe(conn, sql):
    with conn.cursor() as cur:
        cur.execute(sql)
        desc = cur.description
        cur.fetchall()
        return desc


CUSTOMERS = """
CREATE TABLE dbo.Customers (
    Customer_Id int IDENTITY(1,1) NOT NULL PRIMARY KEY,
    Full_Name nvarchar(200) NOT NULL,
    National_Id nvarchar(20) NULL UNIQUE,
    Monthly_Income decimal(18,2) NULL,
    Created_At datetime2(3) NOT NULL DEFAULT SYSUTCDATETIME(),
    Is_Active bit NOT NULL DEFAULT 1
)"""


def test_create_insert_select_round_trip(db):
    q(db, CUSTOMERS)
    q(db, "INSERT INTO dbo.Customers (Full_Name, National_Id, Monthly_Income) VALUES "
          "(N'Ann Lee', N'A-1', 1200.50), (N'Bob Öz', N'B-2', NULL), (N'Cy', NULL, 0)")
    rows = q(db, "SELECT Customer_Id, Full_Name, National_Id, Monthly_Income, Is_Active FROM dbo.Customers ORDER BY Customer_Id")
    assert rows == [(1, "Ann Lee", "A-1", decimal.Decimal("1200.50"), True),
                    (2, "Bob Öz", "B-2", None, True),
                    (3, "Cy", None, decimal.Decimal("0.00"), True)]


def test_parameters_round_trip(db):
    q(db, "CREATE TABLE dbo.t (id int PRIMARY KEY, s nvarchar(100), d decimal(10,3), b varbinary(20), "
          "g uniqueidentifier, ts datetime2(3), dd date, f float)")
    g = uuid.uuid4()
    ts = dt.datetime(2024, 5, 6, 7, 8, 9, 123000)
    q(db, "INSERT INTO dbo.t VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
      (1, "héllo", decimal.Decimal("1.250"), pytds.Binary(b"\x00\x01"), g, ts, dt.date(2024, 1, 2), 1.5))
    assert q(db, "SELECT id, s, d, b, g, ts, dd, f FROM dbo.t WHERE id = %s", (1,)) == [
        (1, "héllo", decimal.Decimal("1.250"), pytds.Binary(b"\x00\x01"), g, ts, dt.date(2024, 1, 2), 1.5)]


def test_result_metadata_types(db):
    q(db, CUSTOMERS)
    desc = describe(db, "SELECT * FROM dbo.Customers")
    names = [d[0] for d in desc]
    assert names == ["Customer_Id", "Full_Name", "National_Id", "Monthly_Income", "Created_At", "Is_Active"]
    by = {d[0]: d for d in desc}
    assert by["Monthly_Income"][4:6] == (18, 2)          # precision, scale
    assert by["Full_Name"][3] == 200                       # nvarchar(200): length in characters


def test_identifiers_are_case_insensitive_and_names_keep_case(db):
    q(db, CUSTOMERS)
    q(db, "INSERT INTO DBO.CUSTOMERS (FULL_NAME) VALUES (N'x')")
    desc = describe(db, "SELECT CUSTOMER_ID, full_name AS [The Name] FROM dbo.customers")
    assert [d[0] for d in desc] == ["CUSTOMER_ID", "The Name"]
    assert q(db, "SELECT [customer_id] FROM [dbo].[CUSTOMERS]") == [(1,)]


def test_string_comparison_is_case_insensitive(db):
    q(db, CUSTOMERS)
    q(db, "INSERT INTO dbo.Customers (Full_Name) VALUES (N'Ann')")
    assert q(db, "SELECT COUNT(*) FROM dbo.Customers WHERE Full_Name = N'ANN'") == [(1,)]
    assert q(db, "SELECT COUNT(*) FROM dbo.Customers WHERE Full_Name LIKE N'an%'") == [(1,)]


def test_identity_scope_identity_and_rowcount(db):
    q(db, CUSTOMERS)
    rows = q_last(db, "INSERT INTO dbo.Customers (Full_Name) VALUES (N'a'), (N'b'); "
                 "SELECT SCOPE_IDENTITY(), @@IDENTITY, @@ROWCOUNT")
    assert rows == [(decimal.Decimal(2), decimal.Decimal(2), 2)]


def test_insert_output_inserted(db):
    q(db, CUSTOMERS)
    rows = q(db, "INSERT INTO dbo.Customers (Full_Name) OUTPUT INSERTED.Customer_Id, INSERTED.Full_Name "
                 "VALUES (N'a'), (N'b')")
    assert rows == [(1, "a"), (2, "b")]


def test_insert_select_update_delete(db):
    q(db, "CREATE TABLE dbo.src (id int PRIMARY KEY, v int)")
    q(db, "CREATE TABLE dbo.dst (id int PRIMARY KEY, v int)")
    q(db, "INSERT INTO dbo.src VALUES (1, 10), (2, 20), (3, 30)")
    q(db, "INSERT INTO dbo.dst (id, v) SELECT id, v * 2 FROM dbo.src WHERE id > 1")
    q(db, "UPDATE dbo.dst SET v = v + 1 WHERE id = 2")
    q(db, "DELETE FROM dbo.dst WHERE id = 3")
    assert q(db, "SELECT id, v FROM dbo.dst") == [(2, 41)]


def test_select_top_order_offset_fetch_aggregates_joins(db):
    q(db, "CREATE TABLE dbo.a (id int PRIMARY KEY, grp nvarchar(10), v decimal(10,2))")
    q(db, "CREATE TABLE dbo.b (id int PRIMARY KEY, a_id int, note nvarchar(10))")
    q(db, "INSERT INTO dbo.a VALUES (1, N'x', 1.5), (2, N'x', 2.5), (3, N'y', 4)")
    q(db, "INSERT INTO dbo.b VALUES (10, 1, N'n1'), (11, 3, N'n3')")
    assert q(db, "SELECT TOP 2 id FROM dbo.a ORDER BY id DESC") == [(3,), (2,)]
    assert q(db, "SELECT id FROM dbo.a ORDER BY id OFFSET 1 ROWS FETCH NEXT 1 ROWS ONLY") == [(2,)]
    assert q(db, "SELECT grp, COUNT(*), SUM(v) FROM dbo.a GROUP BY grp ORDER BY grp") == [
        ("x", 2, decimal.Decimal("4.00")), ("y", 1, decimal.Decimal("4.00"))]
    assert q(db, "SELECT a.id, b.note FROM dbo.a a JOIN dbo.b b ON b.a_id = a.id ORDER BY a.id") == [
        (1, "n1"), (3, "n3")]
    assert q(db, "SELECT a.id FROM dbo.a a LEFT JOIN dbo.b b ON b.a_id = a.id WHERE b.id IS NULL") == [(2,)]
    assert q(db, "SELECT id FROM dbo.a WHERE id IN (SELECT a_id FROM dbo.b) ORDER BY id") == [(1,), (3,)]


def test_functions(db):
    rows = q(db, "SELECT ISNULL(NULL, 5), COALESCE(NULL, NULL, N'z'), LEN(N'abc  '), UPPER(N'ab'), "
                 "LOWER(N'AB'), CAST(N'12' AS int), CONVERT(nvarchar(5), 42), "
                 "DATEADD(day, 1, CAST('2024-01-31' AS date)), DATEDIFF(day, '2024-01-01', '2024-03-01')")
    assert rows == [(5, "z", 3, "AB", "ab", 12, "42", dt.date(2024, 2, 1), 60)]
    (g,), = q(db, "SELECT NEWID()")
    assert isinstance(g, uuid.UUID)
    (a, b, c, d, e), = q(db, "SELECT GETDATE(), GETUTCDATE(), SYSDATETIME(), SYSUTCDATETIME(), SYSDATETIMEOFFSET()")
    assert isinstance(a, dt.datetime) and e.tzinfo is not None


def test_db_id_db_name_use(connect, database):
    with connect() as conn:
        (name,), = q_last(conn, f"USE [{database}]; SELECT DB_NAME()")
        assert name == database
        (dbid,), = q(conn, f"SELECT DB_ID(N'{database}')")
        assert dbid > 4


def test_merge_with_holdlock(db):
    q(db, "CREATE TABLE dbo.dim (id int PRIMARY KEY, v nvarchar(10))")
    q(db, "INSERT INTO dbo.dim VALUES (1, N'old')")
    q(db, "MERGE dbo.dim WITH (HOLDLOCK) AS t USING (SELECT 1 AS id, N'new' AS v UNION ALL SELECT 2, N'two') AS s "
          "ON t.id = s.id WHEN MATCHED THEN UPDATE SET t.v = s.v "
          "WHEN NOT MATCHED THEN INSERT (id, v) VALUES (s.id, s.v);")
    assert q(db, "SELECT id, v FROM dbo.dim ORDER BY id") == [(1, "new"), (2, "two")]


def test_schema_index_alter(db):
    q(db, "CREATE SCHEMA dw")
    q(db, "CREATE TABLE dw.fact (id int NOT NULL, k nvarchar(10))")
    q(db, "CREATE INDEX ix_fact_k ON dw.fact (k)")
    q(db, "ALTER TABLE dw.fact ADD extra int NULL")
    q(db, "INSERT INTO dw.fact (id, k, extra) VALUES (1, N'a', 7)")
    assert q(db, "SELECT id, k, extra FROM dw.fact") == [(1, "a", 7)]
    q(db, "DROP TABLE dw.fact")


def test_declare_set_if(db):
    rows = q_last(db, "DECLARE @x int = 5; SET @x = @x + 1; IF @x > 5 BEGIN SELECT @x * 2 END ELSE SELECT 0")
    assert rows == [(12,)]


def test_set_options_clients_send(db):
    q(db, "SET NOCOUNT ON; SET ANSI_NULLS ON; SET QUOTED_IDENTIFIER ON; SET TEXTSIZE 2147483647; "
          "SET ANSI_WARNINGS ON; SET ANSI_PADDING ON; SET CONCAT_NULL_YIELDS_NULL ON; SET ARITHABORT ON")
    assert q(db, "SELECT 1") == [(1,)]


def test_fmtonly_returns_metadata_only(db):
    q(db, CUSTOMERS)
    q(db, "INSERT INTO dbo.Customers (Full_Name) VALUES (N'a')")
    with db.cursor() as cur:
        cur.execute("SET FMTONLY ON; SELECT Customer_Id, Full_Name FROM dbo.Customers; SET FMTONLY OFF")
        assert [d[0] for d in cur.description] == ["Customer_Id", "Full_Name"]
        assert cur.fetchall() == []


def test_stored_procedure_output_parameter_and_return_status(db):
    # (the OUTPUT parameter comes first: pytds' get_proc_outputs indexes by ordinal into a list sized
    # by the number of output parameters)
    q(db, "CREATE PROCEDURE dbo.add_one @b int OUTPUT, @a int AS BEGIN SET @b = @a + 1; SELECT @a AS a; RETURN 7 END")
    with db.cursor() as cur:
        cur.callproc("dbo.add_one", (pytds.output(param_type="int"), 41))
        assert cur.fetchall() == [(41,)]
        while cur.nextset():
            pass
        assert cur.get_proc_outputs()[0] == 42
        assert cur.get_proc_return_status() == 7
    q(db, "DROP PROCEDURE dbo.add_one")
    with pytest.raises(pytds.Error) as ei:
        q(db, "EXEC dbo.add_one 1, 2")
    assert ei.value.msg_no == 2812


def test_million_row_select_streams(db):
    with db.cursor() as cur:
        cur.execute("WITH d(n) AS (SELECT n FROM (VALUES (0),(1),(2),(3),(4),(5),(6),(7),(8),(9)) AS v(n)) "
                    "SELECT d1.n + 10 * d2.n + 100 * d3.n + 1000 * d4.n + 10000 * d5.n + 100000 * d6.n AS n "
                    "FROM d AS d1 CROSS JOIN d AS d2 CROSS JOIN d AS d3 CROSS JOIN d AS d4 CROSS JOIN d AS d5 "
                    "CROSS JOIN d AS d6")
        count = total = 0
        for (n,) in cur:
            count += 1
            total += n
    assert (count, total) == (1_000_000, 499_999_500_000)


def test_update_and_delete_with_joins_and_select_assignment(db):
    q(db, "CREATE TABLE dbo.p (id int PRIMARY KEY, x int)")
    q(db, "CREATE TABLE dbo.c (id int PRIMARY KEY, pid int, v int)")
    q(db, "INSERT INTO dbo.p VALUES (1, 1), (2, 2)")
    q(db, "INSERT INTO dbo.c VALUES (10, 1, 0), (11, 2, 0), (12, 2, 0)")
    q(db, "UPDATE c SET c.v = p.x * 10 FROM dbo.c c INNER JOIN dbo.p p ON p.id = c.pid WHERE p.x = 2")
    assert q(db, "SELECT id, v FROM dbo.c ORDER BY id") == [(10, 0), (11, 20), (12, 20)]
    q(db, "DELETE c FROM dbo.c c JOIN dbo.p p ON p.id = c.pid WHERE p.x = 1")
    assert q(db, "SELECT id FROM dbo.c ORDER BY id") == [(11,), (12,)]
    assert q_last(db, "DECLARE @n int, @m int; SELECT @n = COUNT(*), @m = MAX(v) FROM dbo.c; SELECT @n, @m") == [(2, 20)]


def test_delete_output_deleted(db):
    q(db, "CREATE TABLE dbo.t (id int PRIMARY KEY, v nvarchar(5))")
    q(db, "INSERT INTO dbo.t VALUES (1, N'a'), (2, N'b')")
    assert q(db, "DELETE FROM dbo.t OUTPUT DELETED.id, DELETED.v WHERE id = 1") == [(1, "a")]
    assert q(db, "SELECT id FROM dbo.t") == [(2,)]


def test_datetimeoffset_keeps_its_offset(db):
    q(db, "CREATE TABLE dbo.t (id int PRIMARY KEY, d datetimeoffset(3))")
    q(db, "INSERT INTO dbo.t VALUES (1, '2024-03-01 00:15:00.123 +05:30'), (2, '2023-12-31 23:59:59 -08:00')")
    rows = q(db, "SELECT id, d, DATEPART(TZOFFSET, d) FROM dbo.t ORDER BY d")
    assert [r[0] for r in rows] == [2, 1]                     # ordered by instant
    d2, d1 = rows[0][1], rows[1][1]
    assert d1.utcoffset() == dt.timedelta(hours=5, minutes=30) and (d1.hour, d1.minute) == (0, 15)
    assert d2.utcoffset() == dt.timedelta(hours=-8) and d2.day == 31
    assert [r[2] for r in rows] == [-480, 330]


def test_identity_insert(db):
    q(db, "CREATE TABLE dbo.t (id int IDENTITY(10,5) PRIMARY KEY, v nvarchar(5))")
    q(db, "INSERT INTO dbo.t (v) VALUES (N'a')")
    with pytest.raises(pytds.Error) as ei:
        q(db, "INSERT INTO dbo.t (id, v) VALUES (50, N'x')")
    assert ei.value.msg_no == 544
    q(db, "SET IDENTITY_INSERT dbo.t ON; INSERT INTO dbo.t (id, v) VALUES (100, N'b'); SET IDENTITY_INSERT dbo.t OFF")
    q(db, "INSERT INTO dbo.t (v) VALUES (N'c')")
    assert q(db, "SELECT id FROM dbo.t ORDER BY id") == [(10,), (100,), (105,)]


def test_string_search_functions_are_case_insensitive(db):
    q(db, "CREATE TABLE dbo.t (id int PRIMARY KEY, v nvarchar(20))")
    q(db, "INSERT INTO dbo.t VALUES (1, N'Hello World'), (2, N'x.y')")
    assert q(db, "SELECT id FROM dbo.t WHERE v NOT LIKE N'hello%'") == [(2,)]
    assert q(db, "SELECT id FROM dbo.t WHERE v LIKE N'x!.%' ESCAPE '!'") == [(2,)]
    assert q(db, "SELECT CHARINDEX(N'O', v), REPLACE(v, N'o', N'0') FROM dbo.t WHERE id = 1") == [(5, "Hell0 W0rld")]
    assert q(db, "SELECT REPLACE(v, N'.', N'-') FROM dbo.t WHERE id = 2") == [("x-y",)]
