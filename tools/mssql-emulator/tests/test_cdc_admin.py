"""Conformance: capture job stop/start, cleanup and retention, two capture instances, DDL history."""

from __future__ import annotations

import time

import pytds
import pytest

from test_cdc_helpers import all_changes, ct_count, q, setup_cdc_table, wait_ct_count, wait_for

CI = "dbo_orders"


DB_SETUP = setup_cdc_table  # conftest's db fixture prepares each test's fresh database with it


def test_stopped_capture_job_holds_changes_until_started(db):
    q(db, "EXEC sys.sp_cdc_stop_job @job_type = N'capture'")
    try:
        q(db, "INSERT INTO dbo.orders VALUES (1, N'x', 1, NULL)")
        time.sleep(3)
        assert ct_count(db, CI) == 0
    finally:
        q(db, "EXEC sys.sp_cdc_start_job @job_type = N'capture'")
    wait_ct_count(db, CI, 1)


def test_cleanup_moves_min_lsn_and_purges_rows(db):
    for i in range(1, 4):
        q(db, f"INSERT INTO dbo.orders VALUES ({i}, N'x', 1, NULL)")
        time.sleep(0.1)  # distinct commit times: cleanup widens a mark to all entries sharing its time
    wait_ct_count(db, CI, 3)
    lsns = [r[0] for r in q(db, f"SELECT DISTINCT __$start_lsn FROM cdc.[{CI}_CT] ORDER BY __$start_lsn")]
    old_min = q(db, f"SELECT sys.fn_cdc_get_min_lsn(N'{CI}')")[0][0]
    q(db, f"EXEC sys.sp_cdc_cleanup_change_table @capture_instance = N'{CI}', @low_water_mark = %s, "
          f"@threshold = 5000", (pytds.Binary(lsns[1]),))
    assert q(db, f"SELECT sys.fn_cdc_get_min_lsn(N'{CI}')")[0][0] == lsns[1]
    assert q(db, f"SELECT start_lsn FROM cdc.change_tables WHERE capture_instance = N'{CI}'")[0][0] == lsns[1]
    assert [r[0] for r in q(db, f"SELECT id FROM cdc.[{CI}_CT] ORDER BY id")] == [2, 3]
    with pytest.raises(pytds.Error) as ei:
        q(db, f"SELECT * FROM cdc.fn_cdc_get_all_changes_{CI}(%s, sys.fn_cdc_get_max_lsn(), N'all')",
          (pytds.Binary(old_min),))
    assert ei.value.msg_no == 313


def test_retention_cleanup_job(db):
    q(db, "INSERT INTO dbo.orders VALUES (1, N'x', 1, NULL)")
    wait_ct_count(db, CI, 1)
    q(db, "EXEC sys.sp_cdc_change_job @job_type = N'cleanup', @retention = 1")
    time.sleep(61)
    q(db, "INSERT INTO dbo.orders VALUES (2, N'y', 1, NULL)")
    wait_ct_count(db, CI, 2)
    q(db, "EXEC sys.sp_cdc_start_job @job_type = N'cleanup'")
    wait_for(lambda: ct_count(db, CI) == 1, timeout=60)
    assert q(db, f"SELECT id FROM cdc.[{CI}_CT]") == [(2,)]
    (mn, lsn), = q(db, f"SELECT sys.fn_cdc_get_min_lsn(N'{CI}'), MIN(__$start_lsn) FROM cdc.[{CI}_CT]")
    assert mn <= lsn


def test_two_capture_instances_and_no_third(db):
    q(db, "EXEC sys.sp_cdc_enable_table @source_schema = N'dbo', @source_name = N'orders', @role_name = NULL, "
          "@capture_instance = N'orders_v2', @captured_column_list = N'id, item'")
    q(db, "INSERT INTO dbo.orders VALUES (1, N'x', 1, NULL)")
    wait_ct_count(db, CI, 1)
    wait_ct_count(db, "orders_v2", 1)
    with db.cursor() as cur:
        cur.execute("SELECT * FROM cdc.orders_v2_CT")
        assert [d[0] for d in cur.description][5:] == ["id", "item", "__$command_id"]
    assert q(db, "SELECT __$start_lsn FROM cdc.orders_v2_CT") == q(db, f"SELECT __$start_lsn FROM cdc.[{CI}_CT]")
    with pytest.raises(pytds.Error) as ei:
        q(db, "EXEC sys.sp_cdc_enable_table @source_schema = N'dbo', @source_name = N'orders', "
              "@role_name = NULL, @capture_instance = N'orders_v3'")
    assert ei.value.msg_no == 22962
    q(db, "EXEC sys.sp_cdc_disable_table @source_schema = N'dbo', @source_name = N'orders', "
          "@capture_instance = N'orders_v2'")
    assert q(db, "SELECT capture_instance FROM cdc.change_tables") == [(CI,)]


def test_ddl_is_recorded_and_instance_keeps_its_columns(db):
    q(db, "ALTER TABLE dbo.orders ADD note nvarchar(20) NULL")
    rows = q(db, "SELECT ddl_command, ddl_lsn FROM cdc.ddl_history")
    assert len(rows) == 1 and "note" in rows[0][0] and len(rows[0][1]) == 10
    q(db, "INSERT INTO dbo.orders (id, item, note) VALUES (1, N'x', N'n')")
    wait_ct_count(db, CI, 1)
    with db.cursor() as cur:
        cur.execute(f"DECLARE @f binary(10) = sys.fn_cdc_get_min_lsn(N'{CI}'), @t binary(10) = sys.fn_cdc_get_max_lsn(); "
                    f"SELECT * FROM cdc.fn_cdc_get_all_changes_{CI}(@f, @t, N'all')")
        names = [d[0] for d in cur.description]
        cur.fetchall()
    assert "note" not in names and names[4:] == ["id", "item", "qty", "price"]


def test_enable_table_errors(connect, database, db):
    with pytest.raises(pytds.Error) as ei:
        q(db, "EXEC sys.sp_cdc_enable_table @source_schema = N'dbo', @source_name = N'orders', @role_name = NULL")
    assert ei.value.msg_no == 22926  # capture instance name exists
    with pytest.raises(pytds.Error) as ei:
        q(db, "EXEC sys.sp_cdc_enable_table @source_schema = N'dbo', @source_name = N'orders'")
    assert ei.value.msg_no == 201    # @role_name is required


def test_help_change_data_capture(db):
    with db.cursor() as cur:
        cur.execute("EXEC sys.sp_cdc_help_change_data_capture @source_schema = N'dbo', @source_name = N'orders'")
        names = [d[0] for d in cur.description]
        rows = cur.fetchall()
    assert names[:3] == ["source_schema", "source_table", "capture_instance"]
    assert names[-2:] == ["index_column_list", "captured_column_list"]
    assert len(rows) == 1 and rows[0][2] == CI
    assert rows[0][-2] == "[id]" and rows[0][-1] == "[id], [item], [qty], [price]"


def test_lsns_follow_commit_order_across_a_new_capture_instance(db):
    # committed before the second instance exists, harvested after it: still below its start_lsn
    q(db, "EXEC sys.sp_cdc_stop_job @job_type = N'capture'")
    try:
        q(db, "INSERT INTO dbo.orders VALUES (1, N'before', 1, NULL)")
        q(db, "EXEC sys.sp_cdc_enable_table @source_schema = N'dbo', @source_name = N'orders', @role_name = NULL, "
              "@capture_instance = N'orders_v2'")
        q(db, "INSERT INTO dbo.orders VALUES (2, N'after', 1, NULL)")
    finally:
        q(db, "EXEC sys.sp_cdc_start_job @job_type = N'capture'")
    wait_ct_count(db, CI, 2)
    wait_ct_count(db, "orders_v2", 1)
    (v2_start,), = q(db, "SELECT start_lsn FROM cdc.change_tables WHERE capture_instance = N'orders_v2'")
    v1 = q(db, f"SELECT id, __$start_lsn FROM cdc.[{CI}_CT] ORDER BY __$start_lsn")
    assert [r[0] for r in v1] == [1, 2]
    assert v1[0][1] < v2_start <= v1[1][1]
    assert [r[0] for r in q(db, "SELECT id FROM cdc.orders_v2_CT")] == [2]
