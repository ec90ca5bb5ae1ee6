"""Submitting and deciding applications: staging is written, CDC carries it to the replica and the warehouse."""

from __future__ import annotations

import threading

from world import application_body, mssql_query, new_customer, pg_query, wait_for


def staging_count(world) -> int:
    return mssql_query(world.staging_url, "SELECT COUNT(*) FROM dbo.credit_applications")[0][0]


def submit(world, client, tag: str, **overrides) -> dict:
    r = client.post("/api/v1/applications", application_body(tag, **overrides))
    assert r.status_code == 201, r.text
    return r.json()


def test_valid_submission_reaches_staging_then_the_replica_and_the_warehouse(world):
    officer = world.client("alice.kern")
    body = application_body("flow")
    r = officer.post("/api/v1/applications", body)
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["status"] == "submitted" and created["application_id"] > 50
    app_id, customer_id = created["application_id"], created["customer_id"]
    rows = mssql_query(world.staging_url, "SELECT a.status, a.submitted_by, a.product, a.requested_amount, a.term_months, c.national_id, "
                       "c.full_name FROM dbo.credit_applications a JOIN dbo.customers c ON c.customer_id = a.customer_id "
                       "WHERE a.application_id = %s", (app_id,))
    assert len(rows) == 1
    status, by, product, amount, term, national_id, name = rows[0]
    assert (status, by, product, float(amount), term) == ("submitted", "alice.kern", "personal_loan", 12000.0, 36)
    assert (national_id, name) == (body["customer"]["national_id"], body["customer"]["full_name"])
    world.wait_replicated(app_id, "submitted")
    wait_for(lambda: mssql_query(world.warehouse_url, "SELECT COUNT(*) FROM dw.dim_application WHERE application_id = %s",
                                 (app_id,))[0][0] == 1, 60, "the application in the warehouse")
    detail = officer.get(f"/api/v1/applications/{app_id}").json()
    assert detail["customer"]["customer_id"] == customer_id and detail["customer"]["national_id"] == national_id
    assert [h["status"] for h in detail["history"]] == ["submitted"] and detail["history"][0]["is_current"] is True
    assert isinstance(detail["replica_lag_ms"], int)


def test_a_known_national_id_reuses_and_updates_the_customer(world):
    officer = world.client("bob.meyer")
    first = submit(world, officer, "reuse")
    customer = new_customer("reuse")
    customer["national_id"] = mssql_query(world.staging_url, "SELECT national_id FROM dbo.customers WHERE customer_id = %s",
                                          (first["customer_id"],))[0][0]
    customer["address"] = "Neue Straße 9, 80331 München"
    second = officer.post("/api/v1/applications", {"customer": customer, "product": "car_loan", "requested_amount": "25000.50",
                                                    "term_months": 60})
    assert second.status_code == 201, second.text
    assert second.json()["customer_id"] == first["customer_id"]
    assert mssql_query(world.staging_url, "SELECT address FROM dbo.customers WHERE customer_id = %s",
                       (first["customer_id"],))[0][0] == "Neue Straße 9, 80331 München"
    by_id = officer.post("/api/v1/applications", {"customer_id": first["customer_id"], "product": "bnpl", "requested_amount": 300,
                                                   "term_months": 6})
    assert by_id.status_code == 201 and by_id.json()["customer_id"] == first["customer_id"]
    unknown = officer.post("/api/v1/applications", {"customer_id": 99999999, "product": "bnpl", "requested_amount": 300, "term_months": 6})
    assert unknown.status_code == 422 and "customer_id" in unknown.json()["fields"]


def test_invalid_submissions_get_422_naming_each_field_and_write_nothing(world):
    officer = world.client("alice.kern")
    before = staging_count(world)
    customers_before = mssql_query(world.staging_url, "SELECT COUNT(*) FROM dbo.customers")[0][0]
    bad_customer = new_customer("invalid")
    bad_customer.update({"email": "not-an-email", "date_of_birth": "2015-01-01", "full_name": "x" * 201, "monthly_income": -5})
    r = officer.post("/api/v1/applications", {"customer": bad_customer, "product": "spaceship", "requested_amount": 10.005,
                                              "term_months": 481})
    assert r.status_code == 422, r.text
    fields = r.json()["fields"]
    assert set(fields) >= {"product", "requested_amount", "term_months", "customer.email", "customer.date_of_birth",
                           "customer.full_name", "customer.monthly_income"}, fields
    cases = [
        ({"requested_amount": 0}, "requested_amount"),
        ({"requested_amount": 100}, "requested_amount"),         # below personal_loan's 500
        ({"requested_amount": 1000000}, "requested_amount"),     # above personal_loan's 75,000
        ({"requested_amount": "12.345"}, "requested_amount"),
        ({"term_months": 0}, "term_months"),
        ({"term_months": 12.5}, "term_months"),
        ({"product": None}, "product"),
    ]
    for override, field in cases:
        r = officer.post("/api/v1/applications", application_body("invalid", **override))
        assert r.status_code == 422 and field in r.json()["fields"], (override, r.text)
    future = new_customer("future")
    future["date_of_birth"] = "2999-01-01"
    r = officer.post("/api/v1/applications", application_body("future", customer=future))
    assert r.json()["fields"]["customer.date_of_birth"] == "must be in the past"
    assert staging_count(world) == before
    assert mssql_query(world.staging_url, "SELECT COUNT(*) FROM dbo.customers")[0][0] == customers_before


def test_roles_and_the_four_eyes_rule(world):
    approver = world.client("carla.diaz")
    own = submit(world, approver, "own")["application_id"]
    r = approver.post(f"/api/v1/applications/{own}/decision", {"decision": "approve"})
    assert r.status_code == 403 and "four-eyes" in r.json()["error"]
    officer = world.client("alice.kern")
    r = officer.post(f"/api/v1/applications/{own}/decision", {"decision": "approve"})
    assert r.status_code == 403 and "approvers" in r.json()["error"]
    admin = world.client("ops.admin")
    r = admin.post("/api/v1/applications", application_body("admin"))
    assert r.status_code == 403
    assert admin.post(f"/api/v1/applications/{own}/decision", {"decision": "reject", "note": "no"}).status_code == 403
    assert mssql_query(world.staging_url, "SELECT status FROM dbo.credit_applications WHERE application_id = %s", (own,))[0][0] == "submitted"


def test_deciding_twice_is_409_naming_the_status(world):
    officer = world.client("alice.kern")
    app_id = submit(world, officer, "twice")["application_id"]
    approver = world.client("dev.rao")
    r = approver.post(f"/api/v1/applications/{app_id}/decision", {"decision": "approve", "note": "fine", "interest_rate": 6.25})
    assert r.status_code == 200 and r.json()["status"] == "approved", r.text
    again = world.client("carla.diaz").post(f"/api/v1/applications/{app_id}/decision", {"decision": "reject", "note": "late"})
    assert again.status_code == 409 and "approved" in again.json()["error"], again.text
    row = mssql_query(world.staging_url, "SELECT status, decided_by, decision_note, interest_rate, decided_at FROM dbo.credit_applications "
                      "WHERE application_id = %s", (app_id,))[0]
    assert row[:3] == ("approved", "dev.rao", "fine") and float(row[3]) == 6.25 and row[4] is not None
    assert approver.post(f"/api/v1/applications/{app_id}/decision", {"decision": "reject"}).status_code == 422  # no note
    world.wait_replicated(app_id, "approved")
    wait_for(lambda: [r[0] for r in mssql_query(world.warehouse_url, "SELECT status FROM dw.dim_application WHERE application_id = %s "
                                                "ORDER BY valid_from, application_version_key", (app_id,))] == ["submitted", "approved"],
             60, "two status versions in the warehouse")
    history = officer.get(f"/api/v1/applications/{app_id}").json()["history"]
    assert [h["status"] for h in history] == ["submitted", "approved"] and history[0]["valid_to"] is not None


def test_concurrent_decisions_exactly_one_wins(world):
    officer = world.client("bob.meyer")
    approvers = [world.client("carla.diaz"), world.client("dev.rao")]
    for round_ in range(3):
        app_id = submit(world, officer, f"race{round_}")["application_id"]
        results: list = [None, None]
        barrier = threading.Barrier(2)

        def decide(i):
            barrier.wait()
            decision = {"decision": "approve"} if i == 0 else {"decision": "reject", "note": "race"}
            results[i] = approvers[i].post(f"/api/v1/applications/{app_id}/decision", decision)

        threads = [threading.Thread(target=decide, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        codes = sorted(r.status_code for r in results)
        assert codes == [200, 409], [(r.status_code, r.text) for r in results]
        winner = next(i for i, r in enumerate(results) if r.status_code == 200)
        row = mssql_query(world.staging_url, "SELECT status, decided_by FROM dbo.credit_applications WHERE application_id = %s", (app_id,))[0]
        assert row == (("approved", "carla.diaz") if winner == 0 else ("rejected", "dev.rao"))


def test_decide_unknown_application_is_404(world):
    r = world.client("carla.diaz").post("/api/v1/applications/99999999/decision", {"decision": "approve"})
    assert r.status_code == 404
