"""What Postgres spends per upserted row on the replica sink's statement shape, part by part.

Runs the same batches (5,000 upserts of a customers-shaped table holding 70,000 rows, half of them
updates) through variants of the upsert and measures the CPU of the Postgres backend that ran them
(utime+stime from /proc), so the machine's other load does not count. The first variant mirrors the
statement `PostgresSinkTarget.upsertQuery` builds (one `text[]` bind per column unnested together and
cast, the position guard, the `sluice_deleted` check, `RETURNING` counted); the others leave one part out,
or load the batch with COPY into a temporary table first (the Python peer's way). Not part of `make bench`:
run it on the local world, `eval "$(scripts/services env)"; .venv/bin/python benchmarks/postgres/statement_cost.py`.
"""
import argparse
import json
import os
import random
import statistics

import psycopg

COLUMNS = ["customer_id", "full_name", "national_id", "date_of_birth", "email", "phone", "address",
           "monthly_income", "employment_status", "created_at", "updated_at"]
TYPES = ["int4", "text", "text", "date", "text", "text", "text", "numeric(18,2)", "text", "timestamp(3)", "timestamp(3)"]


def cpu_seconds(pid: int) -> float:
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def row(i: int, v: int) -> list[str]:
    return [str(i), f"Customer {i} v{v} Lastname", f"NID{i:010d}", "1980-01-%02d" % (1 + i % 28), f"c{i}.{v}@example.com",
            f"+1-555-{i:07d}", f"{i} Main Street, Springfield, Apt {v}", f"{1000 + i % 9000}.{v % 100:02d}", "employed",
            "2024-01-01 10:00:00.123", f"2024-06-01 10:{v % 60:02d}:00.456"]


def position(i: int, v: int) -> str:
    return "%020d%020d%018d" % (v, i, 0)


class Experiment:
    def __init__(self, url: str, rows: int, batch: int, batches: int):
        self.url, self.rows = url, rows
        random.seed(7)
        self.batches = []
        for r in range(batches):
            keys = random.sample(range(1, rows + batch * batches), batch)
            self.batches.append([(k, row(k, r + 1), position(k, r + 1)) for k in keys])
        self.upserted = batch * batches

    def setup(self, c, name: str, with_position: bool) -> None:
        extra = ', __sluice_position text COLLATE "C" NOT NULL' if with_position else ""
        c.execute(f"DROP TABLE IF EXISTS {name}")
        c.execute(f"CREATE TABLE {name} (" + ", ".join(f"{n} {t}" for n, t in zip(COLUMNS, TYPES)) + extra + ", PRIMARY KEY (customer_id))")
        arrays = ", ".join("%s::text[]" for _ in COLUMNS) + (", %s::text[]" if with_position else "")
        c.execute(f"INSERT INTO {name} SELECT " + ", ".join(f"u.{n}::{t}" for n, t in zip(COLUMNS, TYPES))
                  + (", u.p" if with_position else "") + f" FROM unnest({arrays}) AS u(" + ", ".join(COLUMNS) + (", p" if with_position else "") + ")",
                  [[row(i, 0)[j] for i in range(1, self.rows + 1)] for j in range(len(COLUMNS))]
                  + ([[position(i, 0) for i in range(1, self.rows + 1)]] if with_position else []))
        c.execute('CREATE TABLE IF NOT EXISTS statement_cost_deleted (table_name text NOT NULL, key text NOT NULL, '
                  'position text COLLATE "C" NOT NULL, deleted_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (table_name, key))')
        c.execute("TRUNCATE statement_cost_deleted")
        c.execute("INSERT INTO statement_cost_deleted (table_name, key, position) SELECT 'other', g::text, 'x' FROM generate_series(1, 2000) g")
        c.commit()
        c.autocommit = True
        c.execute(f"VACUUM ANALYZE {name}")
        c.execute("VACUUM ANALYZE statement_cost_deleted")
        c.autocommit = False

    def measure(self, name: str, with_position: bool, run_batch) -> float:
        with psycopg.connect(self.url, autocommit=False) as c:
            self.setup(c, name, with_position)
            pid = c.execute("SELECT pg_backend_pid()").fetchone()[0]
            c.commit()
            start = cpu_seconds(pid)
            for batch in self.batches:
                run_batch(c, batch)
                c.commit()
            spent = cpu_seconds(pid) - start
            c.execute(f"DROP TABLE {name}")
            c.commit()
        return spent / self.upserted * 1e6

    def unnest(self, guard=True, deleted=True, returning=True, with_position=True) -> float:
        name = "statement_cost_target"
        arrays = ", ".join("%s::text[]" for _ in COLUMNS) + ", %s::text[], %s::text[]"
        selected = ", ".join(f"src.{n}::{t}" for n, t in zip(COLUMNS, TYPES)) + (", src.__p" if with_position else "")
        targets = ", ".join(COLUMNS) + (", __sluice_position" if with_position else "")
        updates = ", ".join(f"{n} = EXCLUDED.{n}" for n in COLUMNS[1:]) + (", __sluice_position = EXCLUDED.__sluice_position" if with_position else "")
        check = ('WHERE NOT EXISTS (SELECT 1 FROM statement_cost_deleted d WHERE d.table_name = %s AND d.key = src.__k '
                 'AND d.position >= src.__p COLLATE "C")') if deleted else ""
        guarded = "WHERE t.__sluice_position < EXCLUDED.__sluice_position" if guard else ""
        body = f"INSERT INTO {name} AS t ({targets}) SELECT {selected} FROM src {check} ON CONFLICT (customer_id) DO UPDATE SET {updates} {guarded}"
        source = f"WITH src AS (SELECT * FROM unnest({arrays}) AS u({', '.join(COLUMNS)}, __p, __k))"
        sql = f"{source}, written AS ({body} RETURNING 1) SELECT count(*) FROM written" if returning else f"{source} {body}"

        def run_batch(c, batch):
            params = [[r[1][j] for r in batch] for j in range(len(COLUMNS))] + [[r[2] for r in batch], [json.dumps({"customer_id": r[0]}) for r in batch]]
            if deleted:
                params.append("public.customers")
            c.execute(sql, params, binary=True)
        return self.measure(name, with_position, run_batch)

    def copy(self, semantics: bool) -> float:
        name = "statement_cost_target"
        extra = ', __p text COLLATE "C", __k text' if semantics else ""
        updates = ", ".join(f"{n} = EXCLUDED.{n}" for n in COLUMNS[1:])

        def run_batch(c, batch):
            c.execute(f"CREATE TEMP TABLE stage (" + ", ".join(f"{n} {t}" for n, t in zip(COLUMNS, TYPES)) + extra + ") ON COMMIT DROP")
            with c.cursor().copy("COPY stage FROM STDIN") as cp:
                for r in batch:
                    cp.write_row(r[1] + ([r[2], json.dumps({"customer_id": r[0]})] if semantics else []))
            if semantics:
                c.execute(f"""WITH written AS (INSERT INTO {name} AS t ({", ".join(COLUMNS)}, __sluice_position)
                    SELECT {", ".join("src." + n for n in COLUMNS)}, src.__p FROM stage src
                    WHERE NOT EXISTS (SELECT 1 FROM statement_cost_deleted d WHERE d.table_name = %s AND d.key = src.__k AND d.position >= src.__p COLLATE "C")
                    ON CONFLICT (customer_id) DO UPDATE SET {updates}, __sluice_position = EXCLUDED.__sluice_position
                    WHERE t.__sluice_position < EXCLUDED.__sluice_position RETURNING 1) SELECT count(*) FROM written""", ["public.customers"])
            else:
                c.execute(f"INSERT INTO {name} SELECT * FROM stage ON CONFLICT (customer_id) DO UPDATE SET {updates}")
        return self.measure(name, semantics, run_batch)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=70000)
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--batches", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    e = Experiment(os.environ["SLUICE_PG_URL"], args.rows, args.batch, args.batches)
    variants = [
        ("the sink's statement", lambda: e.unnest()),
        ("  without the sluice_deleted check", lambda: e.unnest(deleted=False)),
        ("  without the position guard", lambda: e.unnest(guard=False)),
        ("  without RETURNING + count", lambda: e.unnest(returning=False)),
        ("  none of them, no position column", lambda: e.unnest(guard=False, deleted=False, returning=False, with_position=False)),
        ("COPY to a temp table, the sink's semantics", lambda: e.copy(semantics=True)),
        ("COPY to a temp table, plain upsert (peer)", lambda: e.copy(semantics=False)),
    ]
    results: dict[str, list[float]] = {}
    for _ in range(args.rounds):  # interleaved, so that a change in the machine's load touches every variant
        for name, run in variants:
            results.setdefault(name, []).append(run())
    print(f"Postgres backend CPU per upserted row ({args.batches} batches of {args.batch} into {args.rows} rows; median of {args.rounds})")
    for name, values in results.items():
        print(f"{name:46s} {statistics.median(values):6.2f} µs  ({', '.join(f'{v:.2f}' for v in values)})")


if __name__ == "__main__":
    main()
