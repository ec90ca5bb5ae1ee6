"""Helpers of the CDC conformance tests (no tests here; plain T-SQL, so they run against a real SQL Server too)."""

from __future__ import annotations

import time

from tsql import q_last as q  # the CDC tests read the last result set of a batch


def setup_cdc_table(conn, table="dbo.orders", extra_enable=""):
    q(conn, f"CREATE TABLE {table} (id int NOT NULL PRIMARY KEY, item nvarchar(50) NOT NULL, "
            f"qty int NULL, price decimal(10,2) NULL)")
    q(conn, "EXEC sys.sp_cdc_enable_db")
    schema, name = table.split(".")
    q(conn, f"EXEC sys.sp_cdc_enable_table @source_schema = N'{schema}', @source_name = N'{name}', "
            f"@role_name = NULL{extra_enable}")


def max_lsn(conn):
    return q(conn, "SELECT sys.fn_cdc_get_max_lsn()")[0][0]


def wait_for(predicate, timeout=60.0, interval=0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = predicate()
        if v:
            return v
        time.sleep(interval)
    raise AssertionError("condition not met within %.0fs" % timeout)


def all_changes(conn, ci, row_filter="all update old", cols="*"):
    return q(conn, f"DECLARE @from binary(10) = sys.fn_cdc_get_min_lsn(N'{ci}'), "
                   f"@to binary(10) = sys.fn_cdc_get_max_lsn(); "
                   f"SELECT {cols} FROM cdc.fn_cdc_get_all_changes_{ci}(@from, @to, N'{row_filter}') "
                   f"ORDER BY __$start_lsn, __$seqval, __$operation")


def ct_count(conn, ci):
    return q(conn, f"SELECT COUNT(*) FROM cdc.[{ci}_CT]")[0][0]


def wait_ct_count(conn, ci, n, timeout=60.0):
    return wait_for(lambda: ct_count(conn, ci) >= n, timeout)
