#!/usr/bin/env python3
"""Prints, every few seconds, per table: source rows (staging), replica rows (Postgres), consumer lag,
and whether the replica equals the source row for row; plus the warehouse's version counts.

    watch.py [--interval 2] [--until-match SECONDS] [--metrics http://127.0.0.1:8083/metrics]

With --until-match it exits 0 as soon as every table matches with zero lag (or 1 after SECONDS).
"""
from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import urllib.request
from urllib.parse import unquote, urlparse

import asyncpg
import pytds

TABLES = [("customers", "customer_id"), ("credit_applications", "application_id"), ("repayments", "repayment_id")]


def mssql(url_env: str, database: str | None = None):
    u = urlparse(os.environ[url_env])
    return pytds.connect(server=u.hostname, port=u.port or 1433, user=unquote(u.username), password=unquote(u.password),
                         database=database or u.path.lstrip("/"), autocommit=True, login_timeout=10)


def source_rows(conn, table: str, key: str) -> dict:
    with conn.cursor() as cur:
        cur.execute(f"SELECT * FROM dbo.[{table}] ORDER BY [{key}]")
        names = [d[0] for d in cur.description]
        return {"columns": names, "rows": {r[names.index(key)]: r for r in cur.fetchall()}}


async def replica_rows(pg, table: str, key: str, columns: list[str]) -> dict | None:
    exists = await pg.fetchval("SELECT to_regclass($1)", f'dbo."{table}"')
    if exists is None:
        return None
    cols = ", ".join(f'"{c}"' for c in columns)
    rows = await pg.fetch(f'SELECT {cols} FROM dbo."{table}"')
    return {r[key]: tuple(r[c] for c in columns) for r in rows}


def lag_by_table(metrics_url: str) -> dict[str, float]:
    try:
        text = urllib.request.urlopen(metrics_url, timeout=2).read().decode()
    except OSError:
        return {}
    lag: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("sluice_sink_consumer_lag{") and 'connector="replica-postgres"' in line:
            topic = line.split('topic="', 1)[1].split('"', 1)[0]
            lag[topic.rsplit(".", 1)[-1]] = lag.get(topic.rsplit(".", 1)[-1], 0) + float(line.rsplit(" ", 1)[1])
    return lag


def warehouse_counts() -> str:
    try:
        with mssql("SLUICE_WAREHOUSE_URL") as conn, conn.cursor() as cur:
            cur.execute("SELECT (SELECT COUNT(*) FROM dw.dim_customer), (SELECT COUNT(*) FROM dw.dim_customer WHERE is_current = 1), "
                        "(SELECT COUNT(*) FROM dw.dim_application), (SELECT COUNT(*) FROM dw.fact_credit_application), "
                        "(SELECT COUNT(*) FROM dw.fact_repayment)")
            v = cur.fetchone()
            return (f"warehouse: dim_customer {v[0]} versions ({v[1]} current), dim_application {v[2]} versions, "
                    f"fact_credit_application {v[3]}, fact_repayment {v[4]}")
    except Exception as e:  # noqa: BLE001 - the warehouse may not be there yet
        return f"warehouse: not readable yet ({e})"


async def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--interval", type=float, default=2.0)
    ap.add_argument("--until-match", type=float, default=0)
    ap.add_argument("--metrics", default=f"http://127.0.0.1:{os.environ.get('SLUICE_HTTP_PORT', '8083')}/metrics")
    args = ap.parse_args()
    pg = await asyncpg.connect(os.environ["SLUICE_PG_URL"])
    src = mssql("SLUICE_STAGING_URL")
    start = time.monotonic()
    try:
        while True:
            lags = lag_by_table(args.metrics)
            all_match = True
            lines = []
            for table, key in TABLES:
                s = source_rows(src, table, key)
                r = await replica_rows(pg, table, key, s["columns"])
                lag = lags.get(table)
                match = r is not None and r == {k: tuple(v) for k, v in s["rows"].items()}
                all_match &= match and (lag or 0) == 0
                lines.append(f"  {table:<20} source {len(s['rows']):>5}  replica {('-' if r is None else len(r)):>5}  "
                             f"lag {('?' if lag is None else int(lag)):>4}  {'match' if match else 'DIFFERENT'}")
            print(time.strftime("%H:%M:%S"), *lines, f"  {warehouse_counts()}", sep="\n", flush=True)
            if args.until_match:
                if all_match:
                    return 0
                if time.monotonic() - start > args.until_match:
                    return 1
            await asyncio.sleep(args.interval)
    finally:
        await pg.close()
        src.close()


if __name__ == "__main__":
    try:
        sys.exit(asyncio.run(main()))
    except KeyboardInterrupt:
        sys.exit(130)
