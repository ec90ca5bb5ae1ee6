"""Conformance: OPENJSON as a table source, as documented for SQL Server 2022 ("OPENJSON (Transact-SQL)",
"Parse and transform JSON data with OPENJSON", "JSON Path Expressions", "CAST and CONVERT" for the
conversions of the WITH clause's types and the binary styles)."""

from __future__ import annotations

import datetime as dt
import decimal

import pytds
import pytest

from tsql import number_of, q


DB_SETUP = [  # run in each test's fresh database by conftest's db fixture
    "CREATE TABLE dbo.t (id int PRIMARY KEY, name nvarchar(20) NULL, amt decimal(12,4) NULL, "
    "seen datetime2(3) NULL, day date NULL, ok bit NULL, ref varbinary(8) NULL)",
    "INSERT INTO dbo.t (id, name) VALUES (1, N'one'), (2, N'two')",
]

DOC = ('{"StringValue":"John","IntValue":45,"TrueValue":true,"FalseValue":false,"NullValue":null,'
       '"ArrayValue":["a","r","r","a","y"],"ObjectValue":{"obj":"ect"}}')


def test_default_schema_of_an_object_keys_values_and_type_codes(db):
    # the documentation's first example: one row per property, in document order
    assert q(db, "SELECT [key], value, type FROM OPENJSON(%s)", (DOC,)) == [
        ("StringValue", "John", 1), ("IntValue", "45", 2), ("TrueValue", "true", 3), ("FalseValue", "false", 3),
        ("NullValue", None, 0), ("ArrayValue", '["a","r","r","a","y"]', 4), ("ObjectValue", '{"obj":"ect"}', 5)]


def test_default_schema_of_an_array_keys_are_indexes_and_path_seeks_a_fragment(db):
    text = '{"path":{"to":{"sub-object":["en-GB","en-UK","de-AT","es-AR","sr-Cyrl"]}}}'
    assert q(db, "SELECT [key], value FROM OPENJSON(%s, '$.path.to.\"sub-object\"')", (text,)) == [
        ("0", "en-GB"), ("1", "en-UK"), ("2", "de-AT"), ("3", "es-AR"), ("4", "sr-Cyrl")]
    assert q(db, "SELECT value FROM OPENJSON(N'[[1,2],[3,4]]', '$[1]')") == [("3",), ("4",)]
    # a string value is unescaped, a literal argument works as a variable does
    assert q(db, "SELECT value FROM OPENJSON(N'[\"a\\\"b\\\\c\\u00e9\\n\"]')") == [('a"b\\c\u00e9\n',)]


def test_default_schema_column_types(db):
    with db.cursor() as cur:
        cur.execute("SELECT * FROM OPENJSON(N'{\"a\":1}')")
        assert [d[0] for d in cur.description] == ["key", "value", "type"]
        assert cur.fetchall() == [("a", "1", 2)]


def test_null_input_is_an_empty_set_and_lax_missing_path_is_empty(db):
    assert q(db, "DECLARE @j nvarchar(max) = NULL; SELECT * FROM OPENJSON(@j)") == []
    assert q(db, "SELECT * FROM OPENJSON(N'{\"a\":[1]}', '$.b')") == []
    assert q(db, "SELECT * FROM OPENJSON(N'{\"a\":[1]}', 'lax $.B')") == []  # case-sensitive


def test_strict_missing_path_raises_13608(db):
    with pytest.raises(pytds.Error) as ei:
        q(db, "SELECT * FROM OPENJSON(N'{\"a\":[1]}', 'strict $.b')")
    assert number_of(ei) == 13608


def test_path_to_a_scalar_raises_13611(db):
    with pytest.raises(pytds.Error) as ei:
        q(db, "SELECT * FROM OPENJSON(N'{\"a\":1}', '$.a')")
    assert number_of(ei) == 13611


def test_text_that_is_not_json_raises_13609(db):
    with pytest.raises(pytds.Error) as ei:
        q(db, "SELECT * FROM OPENJSON(N'{\"a\":')")
    assert number_of(ei) == 13609


def test_malformed_path_raises_13607(db):
    with pytest.raises(pytds.Error) as ei:
        q(db, "SELECT * FROM OPENJSON(N'{\"a\":1}', 'a.b')")
    assert number_of(ei) == 13607


def test_explicit_schema_paths_types_and_as_json(db):
    # the documentation's WITH example: nested paths, a datetime, an AS JSON fragment
    text = ('[{"Order":{"Number":"SO43659","Date":"2011-05-31T00:00:00"},"AccountNumber":"AW29825",'
            '"Item":{"Price":2024.9940,"Quantity":1}},'
            '{"Order":{"Number":"SO43661","Date":"2011-06-01T00:00:00"},"AccountNumber":"AW73565",'
            '"Item":{"Price":2024.9940,"Quantity":3}}]')
    rows = q(db, """SELECT * FROM OPENJSON(%s) WITH (
        Number varchar(200) '$.Order.Number', Date datetime '$.Order.Date', Customer varchar(200) '$.AccountNumber',
        Quantity int '$.Item.Quantity', [Order] nvarchar(max) AS JSON)""", (text,))
    assert rows == [
        ("SO43659", dt.datetime(2011, 5, 31), "AW29825", 1, '{"Number":"SO43659","Date":"2011-05-31T00:00:00"}'),
        ("SO43661", dt.datetime(2011, 6, 1), "AW73565", 3, '{"Number":"SO43661","Date":"2011-06-01T00:00:00"}')]


def test_explicit_schema_conversions_are_exact(db):
    text = ('[{"i":2147483647,"b":9007199254740993,"d":"12345678.1234","s":"a\\u0001\\"\\/\\\\\\u00e9\\ud83d\\ude00\'s",'
            '"t":"2024-02-29T23:59:59.999","day":"2024-02-29","f":true,"g":false,"n":null}]')
    rows = q(db, """SELECT i, b, d, s, t, day, f, g, n FROM OPENJSON(%s) WITH (
        i int, b bigint, d decimal(12,4), s nvarchar(max), t datetime2(3), day date, f bit, g bit, n nvarchar(10))""",
             (text,))
    assert rows == [(2147483647, 9007199254740993, decimal.Decimal("12345678.1234"), 'a\x01"/\\\u00e9\U0001F600\'s',
                     dt.datetime(2024, 2, 29, 23, 59, 59, 999000), dt.date(2024, 2, 29), True, False, None)]


def test_decimal_from_a_json_string_rounds_to_the_scale_as_cast_does(db):
    assert q(db, "SELECT d FROM OPENJSON(N'[{\"d\":\"1.23456\"}]') WITH (d decimal(10,2))") == [(decimal.Decimal("1.23"),)]


def test_lax_missing_property_null_and_object_without_as_json_are_null(db):
    rows = q(db, "SELECT a, b, c FROM OPENJSON(N'[{\"a\":null,\"c\":{\"x\":1}}, {}]') WITH (a int, b int, c int)")
    assert rows == [(None, None, None), (None, None, None)]
    # AS JSON over a scalar is NULL in lax mode
    assert q(db, "SELECT c FROM OPENJSON(N'[{\"c\":1}]') WITH (c nvarchar(max) '$.c' AS JSON)") == [(None,)]


def test_strict_column_path_raises_13608_for_a_missing_property(db):
    assert q(db, "SELECT a FROM OPENJSON(N'[{\"a\":5}]') WITH (a int 'strict $.a')") == [(5,)]
    with pytest.raises(pytds.Error) as ei:
        q(db, "SELECT a FROM OPENJSON(N'[{\"b\":5}]') WITH (a int 'strict $.a')")
    assert number_of(ei) == 13608


def test_as_json_needs_nvarchar_max(db):
    with pytest.raises(pytds.Error) as ei:
        q(db, "SELECT c FROM OPENJSON(N'[{\"c\":[1]}]') WITH (c nvarchar(100) AS JSON)")
    assert number_of(ei) == 13618


def test_array_positions_and_dollar_paths(db):
    assert q(db, "SELECT a, b FROM OPENJSON(N'[[1,\"x\"],[2,null]]') WITH (a int '$[0]', b nvarchar(5) '$[1]')") == [
        (1, "x"), (2, None)]
    assert q(db, "SELECT v FROM OPENJSON(N'[3,1,2]') WITH (v int '$') ORDER BY v") == [(1,), (2,), (3,)]


def test_a_value_that_does_not_convert_fails_the_statement(db):
    with pytest.raises(pytds.Error) as ei:
        q(db, "SELECT a FROM OPENJSON(N'[{\"a\":\"x\"}]') WITH (a int)")
    assert number_of(ei) == 245


def test_join_and_in_over_a_parameter(db):
    assert q(db, "SELECT t.name FROM dbo.t AS t JOIN OPENJSON(%s) WITH (id int '$') AS j ON j.id = t.id ORDER BY t.name",
             ("[2, 1, 7]",)) == [("one",), ("two",)]
    assert q(db, "SELECT name FROM dbo.t WHERE id IN (SELECT v FROM OPENJSON(%s) WITH (v int '$'))", ("[2]",)) == [("two",)]
    assert q(db, "SELECT name FROM dbo.t WHERE name IN (SELECT value FROM OPENJSON(%s))", ('["two"]',)) == [("two",)]


def test_merge_using_openjson_with_converted_binary(db):
    rows = ('[{"id":2,"name":"deux","amt":"-0.0001","seen":"2024-01-02T03:04:05.678","day":"2024-01-02","ok":1,'
            '"ref":"00ff10"},{"id":3,"name":"trois","amt":null,"seen":null,"day":null,"ok":0,"ref":null}]')
    with db.cursor() as cur:
        cur.execute("""MERGE dbo.t WITH (HOLDLOCK) AS t USING (
                SELECT j.id, j.name, j.amt, j.seen, j.day, j.ok, CONVERT(varbinary(8), j.ref, 2) AS ref
                FROM OPENJSON(%s) WITH (id int, name nvarchar(20), amt decimal(12,4), seen datetime2(3), day date,
                                        ok bit, ref varchar(16)) AS j) AS s ON t.id = s.id
            WHEN MATCHED THEN UPDATE SET name = s.name, amt = s.amt, seen = s.seen, day = s.day, ok = s.ok, ref = s.ref
            WHEN NOT MATCHED BY TARGET THEN INSERT (id, name, amt, seen, day, ok, ref)
                VALUES (s.id, s.name, s.amt, s.seen, s.day, s.ok, s.ref);""", (rows,))
        assert cur.rowcount == 2
    assert q(db, "SELECT id, name, amt, seen, day, ok, ref FROM dbo.t ORDER BY id") == [
        (1, "one", None, None, None, None, None),
        (2, "deux", decimal.Decimal("-0.0001"), dt.datetime(2024, 1, 2, 3, 4, 5, 678000), dt.date(2024, 1, 2), True,
         b"\x00\xff\x10"),
        (3, "trois", None, None, None, False, None)]


def test_insert_select_from_openjson_in_order(db):
    with db.cursor() as cur:
        cur.execute("INSERT INTO dbo.t (id, name) SELECT j.id, j.name FROM OPENJSON(%s) WITH (o int, id int, name nvarchar(20)) AS j "
                    "ORDER BY j.o", ('[{"o":2,"id":11,"name":"b"},{"o":1,"id":10,"name":"a"}]',))
    assert q(db, "SELECT id, name FROM dbo.t WHERE id >= 10 ORDER BY id") == [(10, "a"), (11, "b")]


def test_convert_binary_styles(db):
    assert q(db, "SELECT CONVERT(varbinary(4), '0x0aFF', 1), CONVERT(varbinary(4), '0aFF', 2), "
                 "CONVERT(binary(3), 'ff', 2)") == [(b"\x0a\xff", b"\x0a\xff", b"\xff\x00\x00")]
