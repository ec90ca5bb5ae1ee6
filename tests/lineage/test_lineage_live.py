"""`sluice run` with OpenLineage on, against the local world: the source (connectors/credit-source.json
under its own name and topic prefix) and both sinks (on topics nobody writes, so they change nothing in
the replica or the warehouse; one test replicates the source's topics into its own Postgres schema), events received on a local HTTP endpoint or appended to a file, and every
event validated against openlineage-python's spec models."""
from __future__ import annotations

import asyncio
import json
import socket
import time
import urllib.parse
import uuid

import asyncpg
import pytds
from openlineage.client.naming import dataset as naming

from lineage_support import SluiceRun, connector, parse_url, ready_components, wait_until
from openlineage_validation import validate

PREFIX = "lineage-live"
IDLE = "lineage-live-idle"  # the sinks' topics: nobody produces to them
TABLES = ["customers", "credit_applications", "repayments"]


def kafka_namespace(env) -> str:
    host, port = env["SLUICE_KAFKA_BOOTSTRAP"].split(",")[0].rsplit(":", 1)
    return naming.Kafka(bootstrap_server_host=host, port=port, topic="t").get_namespace()


def by_job(events: list[dict]) -> dict[str, list[dict]]:
    jobs: dict[str, list[dict]] = {}
    for event in events:
        jobs.setdefault(event["job"]["name"], []).append(event)
    return jobs


def dataset(datasets: list[dict], namespace: str, name: str) -> dict:
    found = [d for d in datasets if d["namespace"] == namespace and d["name"] == name]
    assert found, f"no dataset {namespace} {name} in {[(d['namespace'], d['name']) for d in datasets]}"
    return found[0]


def test_http_transport_start_and_complete_for_source_and_sinks(tmp_path, world_env, endpoint, free_port):
    staging = parse_url(world_env["SLUICE_STAGING_URL"])
    pg = parse_url(world_env["SLUICE_PG_URL"])
    warehouse = parse_url(world_env["SLUICE_WAREHOUSE_URL"])
    idle_topics = ",".join(f"{IDLE}.CreditStaging.dbo.{t}" for t in TABLES)
    files = [
        connector(tmp_path, "credit-source", "lineage-source", topic__prefix=PREFIX),
        connector(tmp_path, "replica-postgres", "lineage-replica", drop=["topics.regex"], topics=idle_topics,
                  group__id="lineage-replica"),
        connector(tmp_path, "warehouse-scd2", "lineage-warehouse", topics=idle_topics, group__id="lineage-warehouse"),
    ]
    env = {**world_env, "SLUICE_OPENLINEAGE_URL": endpoint.url}
    run = SluiceRun(files, tmp_path / "sluice.log", env, http_port=free_port)
    try:
        wait_until(lambda: sum(e["eventType"] == "START" for e in endpoint.events()) >= 3 or not run.alive(), 90,
                   "three START events")
        wait_until(lambda: ready_components(free_port).get("status") == "up" or not run.alive(), 90, "sluice run to be ready")
        assert run.alive(), run.tail()
    finally:
        code = run.stop()
    assert code == 0, run.tail()
    requests = endpoint.requests
    assert {r["path"] for r in requests} == {"/api/v1/lineage"}
    assert all(r["content_type"] == "application/json" for r in requests)
    events = endpoint.events()
    for event in events:
        validate(event)
    jobs = by_job(events)
    assert set(jobs) == {"lineage-source", "lineage-replica", "lineage-warehouse"}, run.tail()
    run_ids = set()
    for name, job_events in jobs.items():
        assert [e["eventType"] for e in job_events] == ["START", "COMPLETE"], (name, [e["eventType"] for e in job_events])
        ids = {e["run"]["runId"] for e in job_events}
        assert len(ids) == 1 and uuid.UUID(ids.pop()).version == 4
        run_ids |= {e["run"]["runId"] for e in job_events}
        for e in job_events:
            assert e["job"]["namespace"] == "sluice"
            assert e["job"]["facets"]["jobType"]["processingType"] == "STREAMING"
            assert e["producer"].endswith("/v0.1.0")
    assert len(run_ids) == 3, "each connector has its own run"

    kafka = kafka_namespace(world_env)
    # The source: tables in (SQL Server naming, schema from the CDC catalog), topics out (identity lineage).
    source = jobs["lineage-source"][0]
    mssql = f"mssql://{staging.hostname}:{staging.port}"
    customers = dataset(source["inputs"], mssql, "CreditStaging.dbo.customers")
    fields = {f["name"]: f["type"] for f in customers["facets"]["schema"]["fields"]}
    assert fields["customer_id"] == "int" and fields["full_name"].startswith("nvarchar(") and fields["monthly_income"] == "decimal(18,2)"
    assert {d["name"] for d in source["inputs"]} == {f"CreditStaging.dbo.{t}" for t in TABLES}
    topic = dataset(source["outputs"], kafka, f"{PREFIX}.CreditStaging.dbo.customers")
    assert {f["name"] for f in topic["facets"]["schema"]["fields"]} == set(fields)
    lineage = topic["facets"]["columnLineage"]["fields"]["full_name"]["inputFields"]
    assert lineage == [{"namespace": mssql, "name": "CreditStaging.dbo.customers", "field": "full_name",
                        "transformations": [{"type": "DIRECT", "subtype": "IDENTITY", "masking": False}]}]

    # The Postgres sink: topics in, replica tables out (postgres naming, db.schema.table).
    replica = jobs["lineage-replica"][0]
    pg_name = naming.Postgres(host=pg.hostname, port=str(pg.port), database=pg.path.strip("/"), schema="dbo", table="customers")
    dataset(replica["inputs"], kafka, f"{IDLE}.CreditStaging.dbo.customers")
    dataset(replica["outputs"], pg_name.get_namespace(), pg_name.get_name())

    # The warehouse sink: SCD2 validity columns are a transformation of the source commit time.
    dw = jobs["lineage-warehouse"][0]
    dim = dataset(dw["outputs"], f"mssql://{warehouse.hostname}:{warehouse.port}", "CreditWarehouse.dw.dim_customer")
    valid_from = dim["facets"]["columnLineage"]["fields"]["valid_from"]["inputFields"]
    assert valid_from[0]["name"] == f"{IDLE}.CreditStaging.dbo.customers" and valid_from[0]["field"] == "source.ts_ms"
    assert valid_from[0]["transformations"][0]["subtype"] == "TRANSFORMATION"
    assert dim["facets"]["columnLineage"]["fields"]["full_name"]["inputFields"][0]["transformations"][0]["subtype"] == "IDENTITY"
    assert {d["name"] for d in dw["outputs"]} == {f"CreditWarehouse.dw.{t}" for t in
                                                  ("dim_customer", "dim_application", "fact_credit_application", "fact_repayment")}


def test_unreachable_backend_never_holds_up_replication(tmp_path, world_env, free_port):
    """The backend refuses connections: the source still becomes ready, and stops promptly on SIGTERM."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    env = {**world_env, "SLUICE_OPENLINEAGE_URL": f"http://127.0.0.1:{closed}"}
    run = SluiceRun([connector(tmp_path, "credit-source", "lineage-nobackend", topic__prefix=PREFIX)],
                    tmp_path / "sluice.log", env, http_port=free_port)
    try:
        wait_until(lambda: ready_components(free_port).get("status") == "up" or not run.alive(), 90, "sluice run to be ready")
        assert run.alive(), run.tail()
        wait_until(lambda: "not delivered" in run.log.read_text() or "retrying" in run.log.read_text(), 30, "a logged delivery failure")
    finally:
        started = time.monotonic()
        code = run.stop()
    assert code == 0, run.tail()
    assert time.monotonic() - started < 20, "shutdown waited on the lineage backend"


def test_fatal_error_sends_fail_with_the_reason(tmp_path, world_env, endpoint):
    run = SluiceRun([connector(tmp_path, "credit-source", "lineage-fatal", topic__prefix=PREFIX,
                               table__include__list="dbo.no_such_table")],
                    tmp_path / "sluice.log", {**world_env, "SLUICE_OPENLINEAGE_URL": endpoint.url})
    try:
        wait_until(lambda: any(e["eventType"] == "FAIL" for e in endpoint.events()), 60, "a FAIL event")
    finally:
        code = run.stop()
    assert code == 0, run.tail()
    events = endpoint.events()
    for event in events:
        validate(event)
    assert [e["eventType"] for e in events] == ["START", "FAIL"], "no COMPLETE after a FAIL"
    message = events[-1]["run"]["facets"]["errorMessage"]["message"]
    assert "no_such_table" in message and "CreditStaging" in message


def test_file_transport_and_running_on_a_capture_instance_switch(tmp_path, world_env):
    """One JSON event per line in SLUICE_OPENLINEAGE_FILE; a schema change (a new capture instance after
    ALTER TABLE ADD) sends RUNNING with the new column in the table's and the topic's schema facets."""
    staging = parse_url(world_env["SLUICE_STAGING_URL"])
    database = f"LineageSwitch{uuid.uuid4().hex[:8]}"
    login = dict(dsn=staging.hostname, port=staging.port, user=urllib_unquote(staging.username),
                 password=urllib_unquote(staging.password), autocommit=True, login_timeout=10)
    with pytds.connect(database="master", **login) as conn, conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE [{database}]")
    with pytds.connect(database=database, **login) as conn, conn.cursor() as cur:
        cur.execute("ALTER DATABASE CURRENT SET ALLOW_SNAPSHOT_ISOLATION ON")
        cur.execute("CREATE TABLE dbo.accounts (id int NOT NULL PRIMARY KEY, name nvarchar(50) NULL)")
        cur.execute("EXEC sys.sp_cdc_enable_db")
        cur.execute("EXEC sys.sp_cdc_enable_table @source_schema = N'dbo', @source_name = N'accounts', @role_name = NULL")
    path = tmp_path / "lineage.jsonl"
    source = connector(tmp_path, "credit-source", "lineage-switch", topic__prefix=f"{PREFIX}-switch",
                       database__names=database, table__include__list="dbo.accounts", poll__interval__ms=100)
    run = SluiceRun([source], tmp_path / "sluice.log", {**world_env, "SLUICE_OPENLINEAGE_FILE": str(path)})

    def events():
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    try:
        wait_until(lambda: any(e["eventType"] == "START" for e in events()) or not run.alive(), 60, "START in the file")
        assert run.alive(), run.tail()
        with pytds.connect(database=database, **login) as conn, conn.cursor() as cur:
            cur.execute("INSERT INTO dbo.accounts VALUES (1, N'before')")
            cur.execute("ALTER TABLE dbo.accounts ADD tier nvarchar(10) NULL")
            cur.execute("EXEC sys.sp_cdc_enable_table @source_schema = N'dbo', @source_name = N'accounts', @role_name = NULL, @capture_instance = N'dbo_accounts_v2'")
            cur.execute("INSERT INTO dbo.accounts (id, name, tier) VALUES (2, N'after', N'gold')")
        wait_until(lambda: any(e["eventType"] == "RUNNING" for e in events()), 60, f"RUNNING in the file\n{run.tail()}")
    finally:
        code = run.stop()
    assert code == 0, run.tail()
    lines = path.read_text().splitlines()
    assert all(line.startswith("{") and line.endswith("}") for line in lines), "one JSON object per line"
    all_events = events()
    for event in all_events:
        validate(event)
    assert [e["eventType"] for e in all_events] == ["START", "RUNNING", "COMPLETE"]
    mssql = f"mssql://{staging.hostname}:{staging.port}"

    def columns(event, kind, namespace, name):
        return [f["name"] for f in dataset(event[kind], namespace, name)["facets"]["schema"]["fields"]]

    start, running = all_events[0], all_events[1]
    assert columns(start, "inputs", mssql, f"{database}.dbo.accounts") == ["id", "name"]
    assert columns(running, "inputs", mssql, f"{database}.dbo.accounts") == ["id", "name", "tier"]
    topic = f"{PREFIX}-switch.{database}.dbo.accounts"
    assert columns(running, "outputs", kafka_namespace(world_env), topic) == ["id", "name", "tier"]


def test_replica_sink_reports_learned_tables_with_schema_and_column_lineage(tmp_path, world_env):
    """The shipped replica sink (topics.regex, so its START names no dataset) replicating the db-init data:
    once it creates the tables, a RUNNING event carries each replica table with its columns and Postgres
    types (plus __sluice_position) and identity column lineage from the topic's field of the same name."""
    staging = parse_url(world_env["SLUICE_STAGING_URL"])
    pg = parse_url(world_env["SLUICE_PG_URL"])
    suffix = uuid.uuid4().hex[:8]
    schema = f"lineage_{suffix}"  # its own replica schema: the shipped replica's dbo tables stay untouched
    path = tmp_path / "lineage.jsonl"
    files = [
        connector(tmp_path, "credit-source", "lineage-source", topic__prefix=PREFIX),
        connector(tmp_path, "replica-postgres", "lineage-regex-replica", topics__regex=rf"{PREFIX}\.CreditStaging\.dbo\..*",
                  group__id=f"lineage-regex-{suffix}", table__name__format=f"{schema}.${{source.table}}"),
    ]
    login = dict(dsn=staging.hostname, port=staging.port, user=urllib_unquote(staging.username),
                 password=urllib_unquote(staging.password), database="CreditStaging", autocommit=True, login_timeout=10)
    with pytds.connect(**login) as conn, conn.cursor() as cur:
        expected = {}
        for table in TABLES:
            cur.execute(f"SELECT count(*) FROM dbo.{table}")
            expected[table] = cur.fetchone()[0]
    assert all(expected.values()), f"the db-init data is missing: {expected} (scripts/db-init --reset)"

    async def replica_counts() -> dict:
        conn = await asyncpg.connect(world_env["SLUICE_PG_URL"])
        try:
            counts = {}
            for table in TABLES:
                if await conn.fetchval("SELECT to_regclass($1)", f"{schema}.{table}"):
                    counts[table] = await conn.fetchval(f'SELECT count(*) FROM "{schema}"."{table}"')
            return counts
        finally:
            await conn.close()

    async def drop_replica():
        conn = await asyncpg.connect(world_env["SLUICE_PG_URL"])
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            await conn.execute("DELETE FROM sluice.sluice_offsets WHERE group_id = $1", f"lineage-regex-{suffix}")
        finally:
            await conn.close()

    def events():
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    run = SluiceRun(files, tmp_path / "sluice.log", {**world_env, "SLUICE_OPENLINEAGE_FILE": str(path)})
    try:
        try:
            wait_until(lambda: asyncio.run(replica_counts()) == expected or not run.alive(), 120,
                       f"the replica to hold {expected}")
            assert run.alive(), run.tail()
        finally:
            code = run.stop()
        assert code == 0, run.tail()
        all_events = events()
        for event in all_events:
            validate(event)
    finally:
        asyncio.run(drop_replica())
    replica = [e for e in all_events if e["job"]["name"] == "lineage-regex-replica"]
    types = [e["eventType"] for e in replica]
    assert types[0] == "START" and types[-1] == "COMPLETE" and "RUNNING" in types, types
    assert replica[0]["outputs"] == [] and replica[0]["inputs"] == [], "topics.regex names no dataset up front"
    # One RUNNING per learned layout (each table created once), not one per batch.
    assert types.count("RUNNING") <= len(TABLES), types
    last = [e for e in replica if e["eventType"] == "RUNNING"][-1]
    kafka = kafka_namespace(world_env)
    assert {d["name"] for d in last["inputs"]} == {f"{PREFIX}.CreditStaging.dbo.{t}" for t in TABLES}
    assert all(d["namespace"] == kafka for d in last["inputs"])
    pg_name = naming.Postgres(host=pg.hostname, port=str(pg.port), database=pg.path.strip("/"), schema=schema, table="customers")
    assert {d["name"] for d in last["outputs"]} == {f"{pg.path.strip('/')}.{schema}.{t}" for t in TABLES}
    customers = dataset(last["outputs"], pg_name.get_namespace(), pg_name.get_name())
    fields = {f["name"]: f["type"] for f in customers["facets"]["schema"]["fields"]}
    assert fields["customer_id"] == "integer" and fields["monthly_income"].startswith("numeric") and fields["full_name"]
    assert fields["__sluice_position"] == "text"
    topic = f"{PREFIX}.CreditStaging.dbo.customers"
    column_lineage = customers["facets"]["columnLineage"]["fields"]
    assert set(column_lineage) == set(fields) - {"__sluice_position"}
    assert column_lineage["full_name"]["inputFields"] == [
        {"namespace": kafka, "name": topic, "field": "full_name",
         "transformations": [{"type": "DIRECT", "subtype": "IDENTITY", "masking": False}]}]
    assert replica[-1]["outputs"] == last["outputs"], "COMPLETE carries the learned tables too"


def urllib_unquote(text: str | None) -> str | None:
    return urllib.parse.unquote(text) if text is not None else None
