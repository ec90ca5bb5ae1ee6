"""What the lineage graph must hold for a set of connector files, derived from the files themselves
(include lists, topic prefix, sink subscriptions, warehouse topics), so the tests hard-code no table list."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

# The warehouse sink's fixed mapping of source tables to warehouse tables (docs/warehouse.md).
WAREHOUSE_TABLES = {"customers": ["dim_customer"], "credit_applications": ["dim_application", "fact_credit_application"],
                    "repayments": ["fact_repayment"]}


def expected_graph(files: list[Path]) -> dict:
    configs = [json.loads(Path(f).read_text()) for f in files]
    by_class = {}
    for c in configs:
        by_class.setdefault(c["config"]["connector.class"], []).append(c)
    sources, topics, replica, warehouse, edges = set(), {}, set(), set(), set()
    for src in by_class.get("sqlserver-source", []):
        cfg = src["config"]
        for db in cfg["database.names"].split(","):
            for entry in cfg["table.include.list"].split(","):
                schema, table = entry.strip().split(".")
                sources.add(f"mssql:{db}.{schema}.{table}")
                topic = f"{cfg['topic.prefix']}.{db}.{schema}.{table}"
                topics[topic] = (db, schema, table)
                edges.add((f"mssql:{db}.{schema}.{table}", f"kafka:{topic}"))
    for sink in by_class.get("postgres-sink", []):
        cfg = sink["config"]
        database = cfg["connection.url"].rsplit("/", 1)[-1] if "${" not in cfg["connection.url"] else None
        for topic, (db, schema, table) in topics.items():
            if "topics.regex" in cfg and not re.fullmatch(cfg["topics.regex"], topic):
                continue
            if "topics" in cfg and topic not in cfg["topics"].split(","):
                continue
            name = cfg.get("table.name.format", "${source.schema}.${source.table}").replace("${source.schema}", schema).replace("${source.table}", table)
            replica.add(name)
            edges.add((f"kafka:{topic}", name))  # the replica node id's database part is checked separately
    for sink in by_class.get("warehouse-sink", []):
        cfg = sink["config"]
        for topic in cfg["topics"].split(","):
            if topic in topics:
                _, _, table = topics[topic]
                for t in WAREHOUSE_TABLES[table]:
                    warehouse.add(f"{cfg.get('warehouse.schema', 'dw')}.{t}")
    return {"sources": sources, "topics": {f"kafka:{t}" for t in topics}, "replica": replica, "warehouse": warehouse, "edges": edges}


MANIFEST_FIXTURE = {
    "metadata": {"generated_at": "2026-12-01T09:00:00.000000Z"},
    "sources": {"source.sluice_credit.credit_app.customers": {"schema": "dbo", "name": "customers", "identifier": "customers"},
                "source.sluice_credit.credit_app.credit_applications": {"schema": "dbo", "name": "credit_applications"}},
    "nodes": {
        "model.sluice_credit.stg_credit_app__customers": {"resource_type": "model", "schema": "analytics_staging",
            "name": "stg_credit_app__customers", "depends_on": {"nodes": ["source.sluice_credit.credit_app.customers"]}},
        "model.sluice_credit.stg_credit_app__credit_applications": {"resource_type": "model", "schema": "analytics_staging",
            "name": "stg_credit_app__credit_applications", "depends_on": {"nodes": ["source.sluice_credit.credit_app.credit_applications"]}},
        "model.sluice_credit.approval_funnel_by_product": {"resource_type": "model", "schema": "analytics_marts",
            "name": "approval_funnel_by_product",
            "depends_on": {"nodes": ["model.sluice_credit.stg_credit_app__credit_applications", "model.sluice_credit.stg_credit_app__customers"]}},
    },
}


def write_manifest(world) -> dict:
    """Writes the app's manifest (world.dbt_manifest): a real one from `scripts/dbt compile` when the dbt
    venv exists (scripts/bootstrap makes it), else the small fixture above. Returns it parsed."""
    root = Path(__file__).resolve().parents[2]
    if (root / ".venv-dbt" / "bin" / "dbt").exists():
        subprocess.run([str(root / "scripts" / "dbt"), "compile", "--target-path", str(world.dbt_manifest.parent)], check=True,
                       env=world.env, cwd=root, stdout=subprocess.DEVNULL)
        return json.loads(world.dbt_manifest.read_text())
    world.dbt_manifest.parent.mkdir(parents=True, exist_ok=True)
    world.dbt_manifest.write_text(json.dumps(MANIFEST_FIXTURE))
    return MANIFEST_FIXTURE
