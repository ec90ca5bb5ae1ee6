"""Engine unit tests: splitting T-SQL batches (no database needed)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pytest

from mssql_emulator.api import SqlError  # noqa: E402
from mssql_emulator.engine.splitter import Block, IfNode, Stmt, split_batch  # noqa: E402


def texts(nodes):
    return [n.text for n in nodes]


def test_statements_without_semicolons():
    assert texts(split_batch("INSERT INTO t VALUES (1) INSERT INTO t (a) SELECT 1 SELECT 2 "
                             "UPDATE t SET a = 1 WHERE b = 2 SET NOCOUNT ON")) == [
        "INSERT INTO t VALUES (1)", "INSERT INTO t (a) SELECT 1", "SELECT 2",
        "UPDATE t SET a = 1 WHERE b = 2", "SET NOCOUNT ON"]


def test_merge_cte_offset_fetch_and_on_delete_stay_whole():
    sql = ("MERGE t USING s ON t.a = s.a WHEN MATCHED THEN UPDATE SET t.b = s.b "
           "WHEN NOT MATCHED THEN INSERT (a) VALUES (s.a); "
           "WITH x AS (SELECT 1 a) SELECT * FROM x "
           "SELECT a FROM t WITH (NOLOCK) ORDER BY a OFFSET 1 ROWS FETCH NEXT 2 ROWS ONLY "
           "ALTER TABLE t ADD CONSTRAINT fk FOREIGN KEY (a) REFERENCES u(b) ON DELETE CASCADE")
    assert len(split_batch(sql)) == 4


def test_if_else_and_blocks():
    nodes = split_batch("BEGIN TRAN; IF @@TRANCOUNT > 0 BEGIN SELECT 1; SELECT CASE WHEN 1=1 THEN 2 END END "
                        "ELSE SELECT 3 COMMIT")
    assert isinstance(nodes[0], Stmt) and nodes[0].first == "BEGIN"
    assert isinstance(nodes[1], IfNode) and isinstance(nodes[1].then, Block)
    assert len(nodes[1].then.body) == 2 and nodes[1].otherwise.text == "SELECT 3"
    assert nodes[2].first == "COMMIT"


def test_unbalanced_block_is_a_syntax_error():
    with pytest.raises(SqlError) as ei:
        split_batch("BEGIN SELECT 1")
    assert ei.value.number == 102
