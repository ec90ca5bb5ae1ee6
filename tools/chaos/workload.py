"""The writer: a loan office's day on CreditStaging through TDS, at a steady rate. Most transactions
are tools/demo/change_generator.py's ticks (new customers, applications submitted and decided,
repayments, address and income changes, withdrawn applications deleted with their repayments); every
`bulk_every`-th is a branch import: one transaction of several hundred rows over all three tables
(customers, their applications, half of them approved, and a first repayment for each approved one)."""
from __future__ import annotations

import random
import sys
import threading
import time
from collections import Counter
from decimal import Decimal

from world import ROOT, mssql

sys.path.insert(0, str(ROOT / "tools/demo"))
import change_generator  # noqa: E402


def branch_import(cur, rng: random.Random, batch: int, size: int) -> str:
    tag = f"B{rng.randrange(10**6):06d}{batch:05d}"
    for i in range(size):
        name = f"{rng.choice(change_generator.FIRST)} {rng.choice(change_generator.LAST)}"
        cur.execute("INSERT INTO dbo.customers (full_name, national_id, date_of_birth, email, address, monthly_income, "
                    "employment_status) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                    (name, f"{tag}{i:03d}", f"19{rng.randrange(50, 99)}-0{rng.randrange(1, 9)}-1{rng.randrange(0, 9)}",
                     f"{tag.lower()}.{i}@example.com", f"{rng.choice(change_generator.STREETS)} {rng.randrange(1, 300)}",
                     Decimal(rng.randrange(150000, 900000)) / 100, rng.choice(["employed", "self_employed", "retired"])))
    pattern = f"{tag}%"
    cur.execute("INSERT INTO dbo.credit_applications (customer_id, product, requested_amount, term_months, interest_rate, "
                "submitted_by) SELECT customer_id, N'personal_loan', 5000.00, 36, 7.50, N'branch.import' "
                "FROM dbo.customers WHERE national_id LIKE %s", (pattern,))
    cur.execute("UPDATE dbo.credit_applications SET status = N'approved', decided_by = N'branch.officer', "
                "decided_at = SYSUTCDATETIME(), decision_note = N'branch import' "
                "WHERE application_id %% 2 = 0 AND customer_id IN (SELECT customer_id FROM dbo.customers WHERE national_id LIKE %s)",
                (pattern,))
    cur.execute("INSERT INTO dbo.repayments (application_id, amount, paid_at) SELECT a.application_id, 150.00, SYSUTCDATETIME() "
                "FROM dbo.credit_applications a JOIN dbo.customers c ON c.customer_id = a.customer_id "
                "WHERE c.national_id LIKE %s AND a.status = N'approved'", (pattern,))
    return f"branch import {tag}: {size} customers"


def kind_of(what: str) -> str:
    """The kind of change_generator.tick's transaction, from its description."""
    if what.startswith("new customer"):
        return "new customer"
    if what.startswith("customer "):
        return "address/income change"
    if what.startswith("repayment"):
        return "repayment"
    if "withdrawn" in what:
        return "withdrawal (delete)"
    if what.startswith("application for"):
        return "application submitted"
    if what.startswith("application "):
        return "application decided"
    return "nothing to do"


class Writer:
    def __init__(self, seed: int, interval: float = 0.25, bulk_every: int = 40, bulk_size: int = 80, log=print):
        self.rng = random.Random(seed)
        self.interval, self.bulk_every, self.bulk_size, self.log = interval, bulk_every, bulk_size, log
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, name="writer", daemon=True)
        self.committed = 0
        self.failed = 0
        self.kinds: Counter[str] = Counter()
        self.error: str | None = None

    def run(self) -> None:
        conn = None
        n = 0
        while not self.stopping.is_set():
            started = time.monotonic()
            n += 1
            try:
                if conn is None:
                    conn = mssql("SLUICE_STAGING_URL", autocommit=False)
                with conn.cursor() as cur:
                    if n % self.bulk_every == 0:
                        what = branch_import(cur, self.rng, n, self.bulk_size)
                        kind = "branch import"
                    else:
                        what = change_generator.tick(cur, self.rng, n)
                        kind = kind_of(what)
                conn.commit()
                self.committed += 1
                self.kinds[kind] += 1
            except Exception as error:  # noqa: BLE001 - a fault (e.g. the emulator's backing store) hit the writer
                self.failed += 1
                self.error = str(error)
                try:
                    if conn is not None:
                        conn.close()
                except Exception:  # noqa: BLE001
                    pass
                conn = None
                time.sleep(1)
            self.stopping.wait(max(0.0, self.interval - (time.monotonic() - started)))
        if conn is not None:
            conn.close()

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=120)
