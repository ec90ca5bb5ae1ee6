"""Conformance: CDC enablement, change-table row shapes, LSN order, query functions, error 313."""

from __future__ import annotations

import datetime as dt
import decimal
import time

import pytds
import pytest

from test_cdc_helpers import all_changes, ct_count, max_lsn, q, setup_cdc_table, wait_ct_count, wait_for

CI = "dbo_orders"


DB_SETUP = setup_cdc_table  # conftest's db fixture prepares each test's fresh database with it


def test_enable_creates_cdc_objects(db, database):
    assert q(db, f"SELECT is_cdc_enabled FROM sys.databases WHERE name = N'{database}'") == [(True,)]
    rows = q(db, "SELECT capture_instance, supports_net_changes, role_name FROM cdc.change_tables")
    assert rows == [(CI, True, None)]
    cols = q(db, "SELECT column_name, column_ordinal FROM cdc.captured_columns ORDER BY column_ordinal")
    assert cols == [("id", 1), ("item", 2), ("qty", 3), ("price", 4)]
    assert q(db, "SELECT column_name FROM cdc.index_columns") == [("id",)]
    with db.cursor() as cur:
        cur.execute(f"SELECT * FROM cdc.[{CI}_CT]")
        names = [d[0] for d in cur.description]
    assert names == ["__$start_lsn", "__$end_lsn", "__$seqval", "__$operation", "__$update_mask",
                     "id", "item", "qty", "price", "__$command_id"]


def test_insert_update_delete_row_shapes_and_order(db):
    q(db, "INSERT INTO dbo.orders VALUES (1, N'apple', 1, 1.50)")
    q(db, "BEGIN TRAN; UPDATE dbo.orders SET qty = 5 WHERE id = 1; "
          "INSERT INTO dbo.orders VALUES (2, N'pear', 2, 2.00); COMMIT")
    q(db, "DELETE FROM dbo.orders WHERE id = 2")
    wait_ct_count(db, CI, 5)
    rows = all_changes(db, CI, cols="__$start_lsn, __$seqval, __$operation, __$update_mask, id, item, qty, price")
    ops = [(r[2], r[4], r[6]) for r in rows]
    assert ops == [(2, 1, 1), (3, 1, 1), (4, 1, 5), (2, 2, 2), (1, 2, 2)]
    # one commit LSN per transaction, strictly increasing across transactions
    lsns = [r[0] for r in rows]
    assert lsns[0] < lsns[1] == lsns[2] == lsns[3] < lsns[4]
    assert all(isinstance(x, bytes) and len(x) == 10 for x in lsns)
    # the update's before/after share a seqval; seqvals order the changes within the transaction
    assert rows[1][1] == rows[2][1] < rows[3][1]
    # update mask: bit per captured column (ordinal 3 = qty); insert/delete set every bit
    assert rows[0][3] == b"\x0f" and rows[4][3] == b"\x0f"
    assert int.from_bytes(rows[2][3], "big") & 0b0100
    assert rows[1][7] == decimal.Decimal("1.50")


def test_one_transaction_across_two_tables_numbers_its_changes_in_change_order(db):
    q(db, "CREATE TABLE dbo.lines (id int NOT NULL PRIMARY KEY, item nvarchar(50) NOT NULL, qty int NULL, price decimal(10,2) NULL)")
    q(db, "EXEC sys.sp_cdc_enable_table @source_schema = N'dbo', @source_name = N'lines', @role_name = NULL")
    q(db, "BEGIN TRAN; INSERT INTO dbo.orders VALUES (1, N'a', 1, NULL); INSERT INTO dbo.lines VALUES (10, N'l', 1, NULL); "
          "UPDATE dbo.orders SET qty = 2 WHERE id = 1; COMMIT")
    q(db, "INSERT INTO dbo.lines VALUES (11, N'm', 1, NULL)")
    wait_ct_count(db, CI, 3)
    wait_ct_count(db, "dbo_lines", 2)
    cols = "__$start_lsn, __$seqval, __$operation, __$command_id"
    orders = q(db, f"SELECT {cols} FROM cdc.[{CI}_CT] ORDER BY __$seqval, __$operation")
    lines = q(db, f"SELECT {cols} FROM cdc.[dbo_lines_CT] ORDER BY __$seqval")
    commit = orders[0][0]
    assert [r[0] for r in orders] == [commit] * 3 and lines[0][0] == commit < lines[1][0]
    # __$seqval and __$command_id follow the transaction's change order across both tables
    assert orders[0][1] < lines[0][1] < orders[1][1] == orders[2][1] < commit
    assert [(r[2], r[3]) for r in orders] == [(2, 1), (3, 3), (4, 3)] and lines[0][2:] == (2, 2)


def test_all_filter_omits_update_old_rows(db):
    q(db, "INSERT INTO dbo.orders VALUES (1, N'a', 1, NULL)")
    q(db, "UPDATE dbo.orders SET item = N'b' WHERE id = 1")
    wait_ct_count(db, CI, 3)
    rows = all_changes(db, CI, row_filter="all", cols="__$operation, item")
    assert rows == [(2, "a"), (4, "b")]
    with db.cursor() as cur:
        cur.execute(f"DECLARE @f binary(10) = sys.fn_cdc_get_min_lsn(N'{CI}'), @t binary(10) = sys.fn_cdc_get_max_lsn(); "
                    f"SELECT * FROM cdc.fn_cdc_get_all_changes_{CI}(@f, @t, N'all')")
        names = [d[0] for d in cur.description]
    assert names == ["__$start_lsn", "__$seqval", "__$operation", "__$update_mask", "id", "item", "qty", "price"]


def test_rolled_back_work_never_appears(db):
    q(db, "BEGIN TRAN; INSERT INTO dbo.orders VALUES (1, N'ghost', 1, NULL); ROLLBACK")
    q(db, "INSERT INTO dbo.orders VALUES (2, N'real', 1, NULL)")
    wait_ct_count(db, CI, 1)
    time.sleep(1.5)
    assert q(db, f"SELECT id FROM cdc.[{CI}_CT]") == [(2,)]


def test_uncommitted_work_appears_only_after_commit(connect, database, db):
    writer = connect(database)
    try:
        q(writer, "BEGIN TRAN; INSERT INTO dbo.orders VALUES (1, N'pending', 1, NULL)")
        time.sleep(2.0)
        assert ct_count(db, CI) == 0
        q(writer, "COMMIT")
        wait_ct_count(db, CI, 1)
    finally:
        writer.close()


def test_changes_appear_asynchronously_in_lsn_time_mapping(db):
    q(db, "INSERT INTO dbo.orders VALUES (1, N'x', 1, NULL)")
    wait_ct_count(db, CI, 1)
    (lsn,), = q(db, f"SELECT __$start_lsn FROM cdc.[{CI}_CT]")
    row = q(db, "SELECT start_lsn, tran_begin_time, tran_end_time, tran_id FROM cdc.lsn_time_mapping "
                "WHERE start_lsn = %s", (pytds.Binary(lsn),))
    assert len(row) == 1
    start_lsn, begin, end, tran_id = row[0]
    assert begin <= end and tran_id != b"\x00"
    assert q(db, "SELECT sys.fn_cdc_get_max_lsn()")[0][0] >= lsn


def test_max_lsn_reaches_a_new_instance_start_lsn(db):
    # the capture job records its progress even when nothing was captured
    (start,), = q(db, f"SELECT start_lsn FROM cdc.change_tables WHERE capture_instance = N'{CI}'")
    wait_for(lambda: (lambda m: m is not None and m >= start)(q(db, "SELECT sys.fn_cdc_get_max_lsn()")[0][0]))
    assert q(db, f"SELECT COUNT(*) FROM cdc.fn_cdc_get_all_changes_{CI}(sys.fn_cdc_get_min_lsn(N'{CI}'), "
                 f"sys.fn_cdc_get_max_lsn(), N'all')") == [(0,)]


def test_lsn_time_mapping_uses_server_local_time(db):
    q(db, "INSERT INTO dbo.orders VALUES (1, N'x', 1, NULL)")
    wait_ct_count(db, CI, 1)
    (end, now), = q(db, "SELECT MAX(tran_end_time), GETDATE() FROM cdc.lsn_time_mapping")
    assert abs((now - end).total_seconds()) < 120


def test_lsn_functions(db):
    q(db, "INSERT INTO dbo.orders VALUES (1, N'x', 1, NULL)")
    wait_ct_count(db, CI, 1)
    (mx, inc, dec, mn, t, zero), = q(
        db, f"SELECT sys.fn_cdc_get_max_lsn(), sys.fn_cdc_increment_lsn(sys.fn_cdc_get_max_lsn()), "
            f"sys.fn_cdc_decrement_lsn(sys.fn_cdc_get_max_lsn()), sys.fn_cdc_get_min_lsn(N'{CI}'), "
            f"sys.fn_cdc_map_lsn_to_time(sys.fn_cdc_get_max_lsn()), sys.fn_cdc_get_min_lsn(N'no_such_instance')")
    assert dec < mx < inc and mn <= mx
    assert int.from_bytes(inc, "big") == int.from_bytes(mx, "big") + 1
    assert zero == b"\x00" * 10
    assert isinstance(t, dt.datetime)
    (lsn,), = q(db, "SELECT sys.fn_cdc_map_time_to_lsn(N'largest less than or equal', %s)", (t,))
    assert lsn == mx
    (nothing,), = q(db, "SELECT sys.fn_cdc_map_time_to_lsn(N'smallest greater than', %s)", (t,))
    assert nothing is None


@pytest.mark.parametrize("from_expr,to_expr", [
    ("NULL", "sys.fn_cdc_get_max_lsn()"),
    ("sys.fn_cdc_get_min_lsn(N'dbo_orders')", "NULL"),
    ("sys.fn_cdc_get_max_lsn()", "sys.fn_cdc_get_min_lsn(N'dbo_orders')"),          # from > to
    ("sys.fn_cdc_decrement_lsn(sys.fn_cdc_get_min_lsn(N'dbo_orders'))", "sys.fn_cdc_get_max_lsn()"),  # below min
    ("sys.fn_cdc_get_min_lsn(N'dbo_orders')", "sys.fn_cdc_increment_lsn(sys.fn_cdc_get_max_lsn())"),  # above max
])
def test_out_of_range_is_313(db, from_expr, to_expr):
    q(db, "INSERT INTO dbo.orders VALUES (1, N'x', 1, NULL)")
    q(db, "INSERT INTO dbo.orders VALUES (2, N'y', 1, NULL)")
    wait_ct_count(db, CI, 2)
    with pytest.raises(pytds.Error) as ei:
        q(db, f"SELECT * FROM cdc.fn_cdc_get_all_changes_{CI}({from_expr}, {to_expr}, N'all')")
    assert ei.value.msg_no == 313


def test_invalid_row_filter_is_an_error(db):
    q(db, "INSERT INTO dbo.orders VALUES (1, N'x', 1, NULL)")
    wait_ct_count(db, CI, 1)
    with pytest.raises(pytds.Error):
        all_changes(db, CI, row_filter="everything")


def test_net_changes(db):
    q(db, "INSERT INTO dbo.orders VALUES (1, N'a', 1, NULL)")
    q(db, "INSERT INTO dbo.orders VALUES (2, N'b', 1, NULL)")
    q(db, "UPDATE dbo.orders SET qty = 9 WHERE id = 1")
    q(db, "DELETE FROM dbo.orders WHERE id = 2")
    wait_ct_count(db, CI, 5)
    rows = q(db, f"DECLARE @f binary(10) = sys.fn_cdc_get_min_lsn(N'{CI}'), @t binary(10) = sys.fn_cdc_get_max_lsn(); "
                 f"SELECT __$operation, id, qty FROM cdc.fn_cdc_get_net_changes_{CI}(@f, @t, N'all') ORDER BY id")
    assert rows == [(2, 1, 9)]
    rows = q(db, f"DECLARE @f binary(10) = sys.fn_cdc_get_min_lsn(N'{CI}'), @t binary(10) = sys.fn_cdc_get_max_lsn(); "
                 f"SELECT __$operation, id FROM cdc.fn_cdc_get_net_changes_{CI}(@f, @t, N'all with merge')")
    assert rows == [(5, 1)]
