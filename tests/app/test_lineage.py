"""The lineage graph (`GET /api/v1/lineage`) and page (`/lineage`), the dbt docs behind login, and the
dashboard's portfolio from the dbt marts. Expected nodes and edges are derived from the run's connector
files (tests/app/lineage_expectations.py), not listed here."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from lineage_expectations import expected_graph, write_manifest
from world import ROOT, pg_query, mssql_query, wait_for


def graph(world):
    r = world.client("alice.kern").get("/api/v1/lineage")
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    return r.json()


def test_lineage_needs_a_session(world):
    r = world.client().get("/api/v1/lineage")
    assert r.status_code == 401 and "log in" in r.json()["error"]
    r = world.client().http.get(world.base + "/lineage", allow_redirects=False, timeout=30)
    assert r.status_code in (302, 303) and r.headers["Location"].startswith("/login")


def test_lineage_graph_follows_the_connector_files(world):
    want = expected_graph(world.connector_files)
    g = graph(world)
    assert g["problems"] == [], g["problems"]
    nodes = {n["id"]: n for n in g["nodes"]}
    kinds = lambda k: {n["id"] for n in g["nodes"] if n["kind"] == k}
    assert kinds("source_table") == want["sources"]
    assert kinds("topic") == want["topics"]
    replica = {n["name"]: n for n in g["nodes"] if n["kind"] == "replica_table"}
    assert set(replica) == want["replica"]
    database = world.pg_url.rsplit("/", 1)[-1].split("?")[0]
    assert all(n["id"] == f"postgres:{database}.{name}" for name, n in replica.items())
    warehouse_db = world.warehouse_url.rsplit("/", 1)[-1]
    assert {n["name"] for n in g["nodes"] if n["kind"] == "warehouse_table"} == {f"{warehouse_db}.{t}" for t in want["warehouse"]}
    edges = {(e["from"], e["to"]) for e in g["edges"]}
    for a, b in want["edges"]:
        if b.startswith("kafka:"):
            assert (a, b) in edges
        else:
            assert (a, f"postgres:{database}.{b}") in edges, (a, b)
    # Every warehouse table is fed by a topic.
    for n in g["nodes"]:
        if n["kind"] == "warehouse_table":
            assert any(e["to"] == n["id"] and e["from"] in want["topics"] for e in g["edges"]), n
    # Live figures: staging and replica row counts as the databases hold them, the replica's lag.
    customers_src = next(i for i in want["sources"] if i.endswith(".customers"))
    staging_count = mssql_query(world.staging_url, "SELECT COUNT(*) FROM dbo.customers")[0][0]
    wait_for(lambda: graph(world) and nodes[customers_src]["rows"] is not None, 10, "a staging row count")
    assert abs(nodes[customers_src]["rows"] - staging_count) <= 5  # other tests may add customers meanwhile
    replica_count = world.replica_count("customers")
    assert abs(replica["dbo.customers"]["rows"] - replica_count) <= 5
    assert replica["dbo.customers"]["lag_ms"] is not None
    dims = next(n for n in nodes.values() if n["kind"] == "warehouse_table" and n["name"].endswith(".dim_application"))
    warehouse_count = mssql_query(world.warehouse_url, "SELECT COUNT(*) FROM dw.dim_application")[0][0]
    assert dims["rows"] is not None and abs(dims["rows"] - warehouse_count) <= 10


def test_replica_columns_name_their_origins(world):
    g = graph(world)
    customers = next(n for n in g["nodes"] if n["kind"] == "replica_table" and n["name"] == "dbo.customers")
    replica_columns = [r[0] for r in pg_query(world.pg_url, """SELECT column_name::text FROM information_schema.columns
        WHERE table_schema = 'dbo' AND table_name = 'customers' AND column_name NOT LIKE '\\_\\_sluice%' ORDER BY ordinal_position""")]
    staging_columns = {r[0] for r in mssql_query(world.staging_url,
        "SELECT COLUMN_NAME FROM INFORMATION_SCHEMA.COLUMNS WHERE TABLE_SCHEMA = 'dbo' AND TABLE_NAME = 'customers'")}
    assert [c["name"] for c in customers["columns"]] == replica_columns
    source_id = next(e["from"] for e in g["edges"] if e["to"] == next(e["from"] for e in g["edges"] if e["to"] == customers["id"]))
    assert source_id.endswith("dbo.customers") and source_id.startswith("mssql:")
    for c in customers["columns"]:
        assert c["name"] in staging_columns
        assert c["origin_node"] == source_id and c["origin_column"] == c["name"], c
    assert "national_id" in replica_columns
    # The page shows them.
    page = world.client("alice.kern").get("/lineage?table=dbo.customers")
    assert page.status_code == 200
    assert 'id="column-origins"' in page.text and "national_id" in page.text and "CreditStaging.dbo.customers" in page.text
    missing = world.client("alice.kern").get("/lineage?table=dbo.nothing")
    assert missing.status_code == 200 and "No replica table dbo.nothing" in missing.text


def test_dbt_models_from_the_manifest_join_the_graph(world):
    try:
        before = graph(world)
        assert not any(n["kind"] == "dbt_model" for n in before["nodes"])
        manifest = write_manifest(world)
        g = graph(world)  # read afresh per request: no restart
        models = {n["id"]: n for n in g["nodes"] if n["kind"] == "dbt_model"}
        manifest_models = {"dbt:" + k for k, v in manifest["nodes"].items() if v["resource_type"] == "model"}
        assert models and set(models) <= manifest_models
        replica_ids = {n["id"] for n in g["nodes"] if n["kind"] == "replica_table"}
        stg = "dbt:model.sluice_credit.stg_credit_app__customers"
        assert stg in models and models[stg]["layer"] == 3
        assert any(e["to"] == stg and e["from"] in replica_ids for e in g["edges"])
        funnel = "dbt:model.sluice_credit.approval_funnel_by_product"
        assert funnel in models and models[funnel]["layer"] > 3
        assert models[funnel]["name"].endswith("approval_funnel_by_product")
        page = world.client("alice.kern").get("/lineage")
        assert "approval_funnel_by_product" in page.text and "node-dbt_model" in page.text
    finally:
        shutil.rmtree(world.dbt_manifest.parent, ignore_errors=True)


def test_dbt_docs_are_served_behind_login(world):
    c = world.client("alice.kern")
    assert "dbt docs are not generated yet" in c.get("/lineage").text
    world.dbt_docs.mkdir(parents=True, exist_ok=True)
    (world.dbt_docs / "index.html").write_text("<!doctype html><title>dbt Docs</title><p>lineage-docs-marker</p>")
    try:
        page = c.get("/lineage")
        assert 'href="/lineage/dbt-docs/index.html"' in page.text
        r = c.get("/lineage/dbt-docs/index.html")
        assert r.status_code == 200 and "lineage-docs-marker" in r.text
        anonymous = world.client().http.get(world.base + "/lineage/dbt-docs/index.html", allow_redirects=False, timeout=30)
        assert anonymous.status_code in (302, 303) and "lineage-docs-marker" not in anonymous.text
        # Only that directory: no way up and out of it.
        up = c.http.get(world.base + "/lineage/dbt-docs/%2e%2e/%2e%2e/etc/passwd", timeout=30)
        assert up.status_code in (400, 404) and "root:" not in up.text
    finally:
        shutil.rmtree(world.dbt_docs, ignore_errors=True)


def test_dashboard_reads_the_dbt_marts_when_they_exist(world):
    c = world.client("alice.kern")
    pg_query(world.pg_url, "DROP SCHEMA IF EXISTS analytics_marts CASCADE")
    page = c.get("/dashboard")
    assert page.status_code == 200 and "run <code>make dbt</code> to see portfolio figures" in page.text
    try:
        pg_query(world.pg_url, "CREATE SCHEMA analytics_marts")
        pg_query(world.pg_url, """CREATE TABLE analytics_marts.portfolio_by_product AS
            SELECT * FROM (VALUES ('personal_loan'::text, 3::bigint, 30000.00::numeric(18,2), 12000.00::numeric(18,2), 18000.00::numeric(18,2), 0::bigint),
                                  ('car_loan', 1, 9876.00, 0.00, 9876.00, 0))
            AS t(product, approved_application_count, approved_amount, repaid_amount, outstanding_amount, repaid_in_full_count)""")
        pg_query(world.pg_url, """CREATE TABLE analytics_marts.approval_funnel_by_product AS
            SELECT * FROM (VALUES ('personal_loan'::text, 10::bigint, 0.75::numeric), ('car_loan', 4, 0.5))
            AS t(product, submitted_count, approval_rate)""")
        page = c.get("/dashboard")
        assert page.status_code == 200
        assert "from dbt marts, built" in page.text
        assert 'id="chart-portfolio"' in page.text and "Portfolio by product" in page.text
        assert "9876" in page.text and "18k" in page.text  # car_loan approved, personal_loan outstanding
        assert "Approval rate by product" in page.text and ">75<" in page.text and ">50<" in page.text
        assert "make dbt</code> to see portfolio" not in page.text
    finally:
        pg_query(world.pg_url, "DROP SCHEMA IF EXISTS analytics_marts CASCADE")
