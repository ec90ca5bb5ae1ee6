#!/usr/bin/env python3
"""Runs T-SQL script files against a SQL Server (or the project's emulator) the way sqlcmd does:
each file is split into batches on lines that hold only GO, and each batch is sent as one SQL batch.

    run_tsql.py --url mssql://user:password@host:port/database [--reset-database NAME] FILE...

--reset-database drops NAME (if it exists) before the first file runs. Stops at the first error and
prints the file, the batch's first line and SQL Server's message (number, severity, state, line).
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytds

GO = re.compile(r"^\s*GO\s*(?:--.*)?$", re.IGNORECASE)


def batches(text: str) -> list[tuple[int, str]]:
    """(first line number, batch text) for each non-empty batch of a script."""
    out: list[tuple[int, str]] = []
    current: list[str] = []
    start = 1
    for n, line in enumerate(text.splitlines(), start=1):
        if GO.match(line):
            if "".join(current).strip():
                out.append((start, "\n".join(current)))
            current, start = [], n + 1
        else:
            current.append(line)
    if "".join(current).strip():
        out.append((start, "\n".join(current)))
    return out


def connect(url: str):
    u = urlparse(url)
    if u.scheme != "mssql":
        sys.exit(f"run_tsql: {url!r} is not an mssql:// URL (mssql://user:password@host:port/database)")
    # Connect to master: the scripts create and USE their own databases.
    return pytds.connect(server=u.hostname, port=u.port or 1433, user=unquote(u.username or ""),
                         password=unquote(u.password or ""), database="master", autocommit=True,
                         login_timeout=15, timeout=300)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", required=True)
    ap.add_argument("--reset-database")
    ap.add_argument("files", nargs="+", type=Path)
    args = ap.parse_args()
    try:
        conn = connect(args.url)
    except Exception as e:  # noqa: BLE001 - report any connection failure plainly
        print(f"run_tsql: cannot connect to {urlparse(args.url).hostname}:{urlparse(args.url).port}: {e}. "
              "Is the server up (scripts/services status)?", file=sys.stderr)
        return 1
    with conn, conn.cursor() as cur:
        if args.reset_database:
            name = args.reset_database.replace("]", "]]")
            literal = args.reset_database.replace("'", "''")
            try:
                cur.execute(f"SELECT DB_ID(N'{literal}')")
                if cur.fetchone()[0] is not None:
                    # Close other sessions' connections first, as sqlcmd scripts do before a drop.
                    cur.execute(f"ALTER DATABASE [{name}] SET SINGLE_USER WITH ROLLBACK IMMEDIATE")
                    cur.execute(f"DROP DATABASE [{name}]")
            except pytds.Error as e:
                print(f"run_tsql: cannot drop database {args.reset_database}: {e}", file=sys.stderr)
                return 1
        for path in args.files:
            for line, sql in batches(path.read_text(encoding="utf-8")):
                try:
                    cur.execute(sql)
                    while cur.nextset():
                        pass
                except pytds.Error as e:
                    first = sql.strip().splitlines()[0]
                    print(f"run_tsql: {path.name}, batch at line {line} ({first!r}): {e}", file=sys.stderr)
                    return 1
            print(f"db-init: {path.name} ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
