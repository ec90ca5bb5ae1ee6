"""Conformance: CDC under concurrent writers — LSN order is commit order."""

from __future__ import annotations

import threading

from test_cdc_helpers import all_changes, q, setup_cdc_table, wait_ct_count

CI = "dbo_orders"


DB_SETUP = setup_cdc_table  # conftest's db fixture prepares each test's fresh database with it


def test_first_started_transaction_committing_last_gets_the_later_lsn(connect, database, db):
    a, b = connect(database), connect(database)
    try:
        q(a, "BEGIN TRAN; INSERT INTO dbo.orders VALUES (1, N'started first', 1, NULL)")
        q(b, "BEGIN TRAN; INSERT INTO dbo.orders VALUES (2, N'started second', 1, NULL); COMMIT")
        q(a, "INSERT INTO dbo.orders VALUES (3, N'first again', 1, NULL); COMMIT")
    finally:
        a.close()
        b.close()
    wait_ct_count(db, CI, 3)
    rows = all_changes(db, CI, cols="__$start_lsn, __$seqval, id")
    assert [r[2] for r in rows] == [2, 1, 3]
    assert rows[0][0] < rows[1][0] == rows[2][0]
    assert rows[1][1] < rows[2][1]


def test_many_concurrent_writers_keep_transactions_whole_and_ordered(connect, database, db):
    n_threads, per_thread = 4, 10
    errors = []

    def writer(k):
        conn = connect(database)
        try:
            for i in range(per_thread):
                base = (k * per_thread + i) * 10
                q(conn, f"BEGIN TRAN; INSERT INTO dbo.orders VALUES ({base + 1}, N't{k}', {i}, NULL); "
                        f"INSERT INTO dbo.orders VALUES ({base + 2}, N't{k}', {i}, NULL); COMMIT")
        except Exception as e:  # noqa: BLE001
            errors.append(e)
        finally:
            conn.close()

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    total = n_threads * per_thread * 2
    wait_ct_count(db, CI, total)
    rows = all_changes(db, CI, cols="__$start_lsn, __$seqval, id")
    assert len(rows) == total
    by_lsn = {}
    for lsn, seq, id_ in rows:
        by_lsn.setdefault(lsn, []).append(id_)
    assert len(by_lsn) == n_threads * per_thread            # one commit LSN per transaction
    for ids in by_lsn.values():                               # both rows of a transaction share it
        assert len(ids) == 2 and ids[1] == ids[0] + 1
    seqs = [(r[0], r[1]) for r in rows]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    # per writer, its transactions appear in the order it committed them
    for k in range(n_threads):
        mine = [id_ for _, _, id_ in rows if (id_ // 10) // per_thread == k and id_ % 10 == 1]
        assert mine == sorted(mine)
