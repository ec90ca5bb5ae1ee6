#!/usr/bin/env python3
"""A small change generator for `make demo`: a loan office's day on CreditStaging.

Each tick runs one transaction of inserts, updates and deletes that keep the schema's rules (foreign
keys, statuses): new customers, new applications, decisions, repayments, address and income changes,
cancelled applications deleted with their repayments. Runs until interrupted (or --count transactions).

    SLUICE_STAGING_URL=mssql://… change_generator.py [--interval 0.5] [--count N] [--seed 1]
"""
from __future__ import annotations

import argparse
import os
import random
import sys
import time
from decimal import Decimal
from urllib.parse import urlparse, unquote

import pytds

STREETS = ["Hauptstraße", "Rue de Rivoli", "Calle Mayor", "Kungsgatan", "Via Roma", "Nørrebrogade"]
FIRST = ["Ada", "Björn", "Céline", "Dario", "Emre", "Fatima", "Greta", "Hiro", "Ilse", "Jamal"]
LAST = ["Keller", "Lund", "Moreau", "Nakamura", "Okafor", "Petrov", "Quist", "Rossi"]


def connect():
    u = urlparse(os.environ["SLUICE_STAGING_URL"])
    return pytds.connect(server=u.hostname, port=u.port or 1433, user=unquote(u.username),
                         password=unquote(u.password), database=u.path.lstrip("/") or "CreditStaging",
                         autocommit=False, login_timeout=10)


def one(cur, sql, params=()):
    cur.execute(sql, params)
    row = cur.fetchone()
    return row[0] if row else None


def tick(cur, rng: random.Random, n: int) -> str:
    kind = rng.choices(["customer", "application", "decision", "repayment", "profile", "cancel"],
                       [2, 3, 3, 4, 3, 1])[0]
    if kind == "customer":
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        cur.execute("INSERT INTO dbo.customers (full_name, national_id, date_of_birth, email, monthly_income, "
                    "employment_status) VALUES (%s, %s, %s, %s, %s, %s)",
                    (name, f"G{rng.randrange(10**8, 10**9)}", f"19{rng.randrange(50, 99)}-0{rng.randrange(1, 9)}-1{rng.randrange(0, 9)}",
                     name.lower().replace(" ", ".") + f".{n}@example.com", Decimal(rng.randrange(150000, 900000)) / 100,
                     rng.choice(["employed", "self_employed", "retired"])))
        return f"new customer {name}"
    if kind == "application":
        customer = one(cur, "SELECT TOP 1 customer_id FROM dbo.customers ORDER BY NEWID()")
        cur.execute("INSERT INTO dbo.credit_applications (customer_id, product, requested_amount, term_months, "
                    "interest_rate, submitted_by) VALUES (%s, %s, %s, %s, %s, %s)",
                    (customer, rng.choice(["personal_loan", "car_loan", "credit_card"]), Decimal(rng.randrange(50, 500)) * 100,
                     rng.choice([12, 24, 36, 60]), Decimal(rng.randrange(300, 1500)) / 100, "demo.generator"))
        return f"application for customer {customer}"
    if kind == "decision":
        app = one(cur, "SELECT TOP 1 application_id FROM dbo.credit_applications WHERE status = N'submitted' ORDER BY NEWID()")
        if app is None:
            return "no open application"
        status = rng.choice(["approved", "approved", "rejected"])
        cur.execute("UPDATE dbo.credit_applications SET status = %s, decided_by = N'demo.officer', "
                    "decided_at = SYSUTCDATETIME(), decision_note = %s WHERE application_id = %s",
                    (status, "auto decision", app))
        return f"application {app} {status}"
    if kind == "repayment":
        app = one(cur, "SELECT TOP 1 application_id FROM dbo.credit_applications WHERE status = N'approved' ORDER BY NEWID()")
        if app is None:
            return "no approved application"
        cur.execute("INSERT INTO dbo.repayments (application_id, amount, paid_at) VALUES (%s, %s, SYSUTCDATETIME())",
                    (app, Decimal(rng.randrange(5000, 90000)) / 100))
        return f"repayment on application {app}"
    if kind == "profile":
        customer = one(cur, "SELECT TOP 1 customer_id FROM dbo.customers ORDER BY NEWID()")
        cur.execute("UPDATE dbo.customers SET address = %s, monthly_income = monthly_income + %s, "
                    "updated_at = SYSUTCDATETIME() WHERE customer_id = %s",
                    (f"{rng.choice(STREETS)} {rng.randrange(1, 300)}", Decimal(rng.randrange(-20000, 40000)) / 100, customer))
        return f"customer {customer} moved / income changed"
    app = one(cur, "SELECT TOP 1 application_id FROM dbo.credit_applications WHERE status = N'submitted' ORDER BY NEWID()")
    if app is None:
        return "nothing to cancel"
    cur.execute("DELETE FROM dbo.repayments WHERE application_id = %s", (app,))
    cur.execute("DELETE FROM dbo.credit_applications WHERE application_id = %s", (app,))
    return f"application {app} withdrawn and deleted"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--interval", type=float, default=0.5)
    ap.add_argument("--count", type=int, default=0, help="stop after this many transactions (0: run until interrupted)")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    conn = connect()
    n = 0
    try:
        while args.count == 0 or n < args.count:
            n += 1
            with conn.cursor() as cur:
                what = tick(cur, rng, n)
            conn.commit()
            if not args.quiet:
                print(f"generator: tx {n}: {what}", flush=True)
            time.sleep(args.interval)
    except KeyboardInterrupt:
        pass
    finally:
        conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
