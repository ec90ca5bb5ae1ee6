"""Wire tests through pytds against the TDS layer serving the fake engine (tests/fake_engine.py).

TEST FIXTURE tests: they check the emulator's TDS encoding and protocol handling, independent of the
SQL engine.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from decimal import Decimal

import pytds
import pytest

from fake_engine import NOTNULL, TYPES, fake_server  # noqa: F401  (fixture)


@pytest.fixture
def conn(fake_server):  # noqa: F811
    c = pytds.connect(server=fake_server.host, port=fake_server.port, user=fake_server.user,
                      password=fake_server.password, database="master", autocommit=True,
                      login_timeout=10, timeout=30)
    yield c
    c.close()


def test_login_ok_reports_database_and_spid(fake_server, conn):  # noqa: F811
    assert conn.tds_version == 0x74000004
    assert conn.product_version >> 24 == 16  # SQL Server 2022 (16.0.1000)
    c2 = pytds.connect(server=fake_server.host, port=fake_server.port, user=fake_server.user,
                       password=fake_server.password, database="fakedb", login_timeout=10)
    assert conn_env_database(c2) == "fakedb"
    c2.close()


def test_wrong_password_is_18456(fake_server):  # noqa: F811
    with pytest.raises(pytds.OperationalError) as ei:
        pytds.connect(server=fake_server.host, port=fake_server.port, user=fake_server.user,
                      password="wrong", login_timeout=10)
    assert ei.value.msg_no == 18456
    assert "Login failed for user" in str(ei.value)


def test_unknown_database_is_4060_then_18456(fake_server):  # noqa: F811
    # SQL Server answers a login to a database it cannot open with 4060 followed by 18456; pytds
    # raises from the last message (18456) at once instead of retrying until login_timeout.
    started = time.monotonic()
    with pytest.raises(pytds.Error) as ei:
        pytds.connect(server=fake_server.host, port=fake_server.port, user=fake_server.user,
                      password=fake_server.password, database="nope", login_timeout=10)
    assert time.monotonic() - started < 5
    assert ei.value.msg_no == 18456
    assert 'Cannot open database "nope"' in str(ei.value)
    assert f"Login failed for user '{fake_server.user}'" in ei.value.args[0]


def conn_env_database(c) -> str:
    """The database pytds recorded from the last database ENVCHANGE."""
    return c._tds_socket.env.database


def _expected_pytds(name: str, value: object) -> object:
    if name in ("c_varchar", "c_varchar_max"):
        # pytds 1.17 ignores the collation's fUTF8 bit and decodes varchar with the LCID's code
        # page (cp1252) — it would do the same against a real SQL Server with a UTF-8 collation.
        return value.encode("utf-8").decode("cp1252")  # type: ignore[union-attr]
    if name == "c_datetime":
        return dt.datetime(1753, 1, 1, 0, 0, 0, 3000)  # 1/300 s ticks
    return value


def test_every_type_round_trips(conn):
    with conn.cursor() as cur:
        cur.execute("SELECT types")
        rows = cur.fetchall()
        names = [d[0] for d in cur.description]
    assert names == [n for n, _, _ in TYPES]
    values, nulls = rows
    for (name, _t, expected), got in zip(TYPES, values):
        exp = _expected_pytds(name, expected)
        assert got == exp, name
        if name == "c_dto":
            assert got.utcoffset() == expected.utcoffset()  # type: ignore[union-attr]
    assert list(nulls) == [None] * len(TYPES)


def test_not_null_columns_use_fixed_length_types(conn):
    with conn.cursor() as cur:
        cur.execute("SELECT notnull")
        row = cur.fetchone()
        nullable = [d[6] for d in cur.description]
    assert nullable == [False] * len(NOTNULL)
    for (name, _t, expected), got in zip(NOTNULL, row):
        if name == "n_datetime":
            expected = dt.datetime(2001, 2, 3, 4, 5, 6, 7000)
        assert got == expected, name


def test_multiple_result_sets_messages_and_row_counts(conn):
    with conn.cursor() as cur:
        cur.execute("MULTI")
        assert cur.fetchall() == [(1,), (2,)]
        assert cur.nextset()
        assert cur.fetchall() == [("x",)]
        assert cur.rowcount == 1
        while cur.nextset():
            pass
        assert cur.rowcount == 3
        assert any("hello from PRINT" in m[1].text for m in cur.messages if hasattr(m[1], "text")) \
            or any("hello from PRINT" in str(m) for m in cur.messages)
        cur.execute("INSERT 5")
        assert cur.rowcount == 5


def test_batch_terminating_error_carries_number_state_line_procedure(conn):
    with conn.cursor() as cur:
        with pytest.raises(pytds.Error) as ei:
            cur.execute("RAISE 50001")
        e = ei.value
        assert (e.msg_no, e.state, e.severity, e.line, e.procname) == (50001, 3, 16, 4, "fake_proc")
        cur.execute("INSERT 1")  # the connection is still usable
        assert cur.rowcount == 1


def test_statement_error_does_not_end_the_batch(conn):
    with conn.cursor() as cur:
        with pytest.raises(pytds.IntegrityError) as ei:
            cur.execute("STMTERR")
        assert ei.value.msg_no == 2627
        cur.execute("INSERT 2")
        assert cur.rowcount == 2


def test_use_database_changes_context(conn):
    with conn.cursor() as cur:
        cur.execute("USE fakedb")
        assert conn_env_database(conn) == "fakedb"


def test_transactions_through_transaction_manager_requests(fake_server):  # noqa: F811
    c = pytds.connect(server=fake_server.host, port=fake_server.port, user=fake_server.user,
                      password=fake_server.password, autocommit=False, login_timeout=10, timeout=30)
    try:
        with c.cursor() as cur:
            cur.execute("INSERT 1")
        c.commit()
        with c.cursor() as cur:
            cur.execute("INSERT 1")
        c.rollback()
    finally:
        c.close()


def test_sp_executesql_typed_parameters(conn):
    params = {
        "i": 42, "big": 1 << 40, "b": True, "f": 2.5, "d": Decimal("-123.4500"),
        "s": "Grüße 🌍 " + "z" * 5000, "bin": pytds.Binary(b"\x00\xff" * 5000), "dt": dt.datetime(2024, 1, 2, 3, 4, 5, 678901),
        "day": dt.date(2020, 2, 29), "t": dt.time(12, 34, 56, 789000),
        "dto": dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30))),
        "g": uuid.UUID("12345678-1234-5678-1234-567812345678"),
    }
    with conn.cursor() as cur:
        cur.execute("ECHO " + ", ".join(f"%({k})s" for k in params), params)
        row = cur.fetchone()
        names = [d[0] for d in cur.description]
    # pytds renames parameters @P1..@Pn (and inlines NULLs as literals)
    assert names == [f"P{i + 1}" for i in range(len(params))]
    assert list(row) == [bytes(v) if isinstance(v, bytes) else v for v in params.values()]


def test_output_parameters_and_return_status(conn):
    with conn.cursor() as cur:
        result = cur.callproc("sp_fake_proc", (pytds.output(value=21, param_type="int"),
                                               pytds.output(value="a", param_type="nvarchar(10)")))
        assert cur.fetchall() == [("proc-row",)]
        while cur.nextset():
            pass
        assert cur.get_proc_return_status() == 7
        assert list(cur.get_proc_outputs()) == [42, "a!"] or list(result) == [42, "a!"]


def test_unknown_procedure_error(conn):
    with conn.cursor() as cur:
        with pytest.raises(pytds.Error) as ei:
            cur.callproc("sp_nope", ())
        assert ei.value.msg_no == 2812


def test_attention_cancels_a_long_query(fake_server):  # noqa: F811
    c = pytds.connect(server=fake_server.host, port=fake_server.port, user=fake_server.user,
                      password=fake_server.password, autocommit=True, login_timeout=10, timeout=1)
    try:
        with c.cursor() as cur:
            started = time.monotonic()
            with pytest.raises(pytds.TimeoutError):
                cur.execute("SLEEP 30")  # pytds sends ATTENTION when its timeout expires
            cur.execute("INSERT 3")  # reads the attention acknowledgement first
            assert cur.rowcount == 3
            assert time.monotonic() - started < 10
    finally:
        c.close()
    deadline = time.monotonic() + 5
    while "session.cancel() called" not in fake_server.log() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "session.cancel() called" in fake_server.log()


def test_attention_in_the_middle_of_a_result_set(conn):
    with conn.cursor() as cur:
        cur.execute("STREAM 5000000")
        for _ in range(1000):
            cur.fetchone()
        cur.cancel()
        cur.execute("SELECT notnull")
        assert cur.fetchone()[2] == 300


def test_one_million_rows_stream_with_bounded_server_memory(fake_server, conn):  # noqa: F811
    with conn.cursor() as cur:
        cur.execute("SELECT notnull")
        cur.fetchall()
        baseline = fake_server.rss_kib()
        cur.execute("STREAM 1000000")
        n = 0
        peak = baseline
        for row in cur:
            n += 1
            if n % 100_000 == 0:
                peak = max(peak, fake_server.rss_kib())
            if n == 200_000:
                time.sleep(1.0)  # a slow reader: without flow control the server would buffer
                peak = max(peak, fake_server.rss_kib())
        assert n == 1_000_000
        assert row == (999_999, "p" * 40)
    assert peak - baseline < 40 * 1024, f"server RSS grew by {(peak - baseline) // 1024} MiB"
