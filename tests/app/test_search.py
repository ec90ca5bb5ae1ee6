"""Listing and searching from the replica; SQL-injection strings in every parameter."""

from __future__ import annotations

import pytest

from world import application_body, mssql_query, pg_query

INJECTIONS = [
    "' OR '1'='1", "'; DROP TABLE dbo.customers; --", "1 OR 1=1", "\" OR \"\"=\"", "%", "_", "\\", "1; SELECT pg_sleep(5)",
    "') UNION SELECT * FROM app.users --", "Robert'); DELETE FROM app.sessions; --", "1' AND SLEEP(5)#", "$1", "\x00",
]


@pytest.fixture(scope="module")
def reader(world):
    return world.client("ops.admin")


def names(page) -> set:
    return {i["customer_name"] for i in page["items"]}


def test_list_is_newest_first_with_paging_and_replica_lag(world, reader):
    first = reader.get("/api/v1/applications?page_size=5&page=1").json()
    second = reader.get("/api/v1/applications?page_size=5&page=2").json()
    assert first["page"] == 1 and first["page_size"] == 5 and len(first["items"]) == 5
    assert first["total"] == second["total"] == world.replica_count("credit_applications")
    ids1, ids2 = [i["application_id"] for i in first["items"]], [i["application_id"] for i in second["items"]]
    assert not set(ids1) & set(ids2)
    stamps = [i["submitted_at"] for i in first["items"] + second["items"]]
    assert stamps == sorted(stamps, reverse=True)
    assert isinstance(first["replica_lag_ms"], int) and first["replica_lag_ms"] >= 0
    beyond = reader.get(f"/api/v1/applications?page_size=100&page=1000").json()
    assert beyond["items"] == [] and beyond["total"] == first["total"]


def test_search_by_name_is_case_and_accent_insensitive(world, reader):
    expected = {r[0] for r in pg_query(world.pg_url, "SELECT c.full_name FROM dbo.credit_applications a JOIN dbo.customers c "
                                       "USING (customer_id) WHERE c.full_name LIKE 'Chlo_ %'")}
    assert expected, "the sample data has Chloé customers with applications"
    for q in ["Chloé", "chloe", "CHLOE", "chLoÉ", "Chloe\u0301"]:  # the last: e + combining acute (NFD)
        page = reader.get("/api/v1/applications", params={"q": q, "page_size": 100}).json()
        assert names(page) == expected, (q, names(page))
    orsted = reader.get("/api/v1/applications", params={"q": "orsted", "page_size": 100}).json()
    assert orsted["items"] and all("Ørsted" in n for n in names(orsted))
    customers = reader.get("/api/v1/customers", params={"q": "hernandez"}).json()
    assert customers["items"] and all("Hernández" in c["full_name"] for c in customers["items"])


def test_search_by_national_id_application_id_and_status(world, reader):
    national_id, app_id = pg_query(world.pg_url, "SELECT c.national_id, a.application_id FROM dbo.credit_applications a "
                                   "JOIN dbo.customers c USING (customer_id) ORDER BY a.application_id LIMIT 1")[0]
    page = reader.get("/api/v1/applications", params={"q": national_id.lower()}).json()
    assert page["items"] and all(i["national_id"] == national_id for i in page["items"])
    by_id = reader.get("/api/v1/applications", params={"q": str(app_id)}).json()
    assert app_id in [i["application_id"] for i in by_id["items"]]
    for status in ["submitted", "approved", "rejected"]:
        page = reader.get("/api/v1/applications", params={"status": status, "page_size": 100}).json()
        count = pg_query(world.pg_url, "SELECT count(*) FROM dbo.credit_applications WHERE status = $1", status)[0][0]
        assert page["total"] == count and all(i["status"] == status for i in page["items"])
    bnpl = reader.get("/api/v1/applications", params={"product": "bnpl", "status": "approved", "page_size": 100}).json()
    assert all(i["product"] == "bnpl" and i["status"] == "approved" for i in bnpl["items"])
    day = reader.get("/api/v1/applications", params={"submitted_from": "2025-01-01", "submitted_to": "2025-01-31", "page_size": 100}).json()
    assert all("2025-01-01" <= i["submitted_at"][:10] <= "2025-01-31" for i in day["items"])


def test_bad_filters_are_422(reader):
    for params, field in [({"status": "open"}, "status"), ({"product": "yacht"}, "product"), ({"page": "0"}, "page"),
                          ({"page_size": "1000"}, "page_size"), ({"submitted_from": "yesterday"}, "submitted_from"),
                          ({"q": "x" * 201}, "q")]:
        r = reader.get("/api/v1/applications", params=params)
        assert r.status_code == 422 and field in r.json()["fields"], (params, r.text)


def test_sql_injection_strings_in_every_parameter(world, reader):
    users_before = pg_query(world.pg_url, "SELECT count(*) FROM app.users")[0][0]
    customers_before = mssql_query(world.staging_url, "SELECT COUNT(*) FROM dbo.customers")[0][0]
    for s in INJECTIONS:
        for name in ["status", "product", "q", "submitted_from", "submitted_to", "page", "page_size"]:
            r = reader.get("/api/v1/applications", params={name: s})
            assert r.status_code in (200, 422), (name, s, r.status_code, r.text)
            if r.status_code == 200:  # only q accepts such text, and no name, national id or id matches it
                assert name == "q" and r.json()["total"] == 0, (name, s, r.json()["total"])
        for path in ["/api/v1/customers"]:
            r = reader.get(path, params={"q": s})
            assert r.status_code in (200, 422), (s, r.text)
            if r.status_code == 200:
                assert r.json()["total"] == 0, (s, r.text)
            for p in ["page", "page_size"]:
                assert reader.get(path, params={p: s}).status_code == 422
        for path in ["/api/v1/applications/", "/api/v1/customers/"]:
            r = reader.get(path + requests_quote(s))
            assert r.status_code == 404, (path, s, r.status_code, r.text)
        r = world.client().login(s, s)
        assert r.status_code == 401, (s, r.text)
        page = reader.get("/search", params={"q": s})
        assert page.status_code in (200, 422) and "internal error" not in page.text
    officer = world.client("alice.kern")
    for s in INJECTIONS[:6]:
        body = application_body("inject")
        body["customer"]["full_name"] = s
        body["customer"]["address"] = s
        r = officer.post("/api/v1/applications", body)
        assert r.status_code in (201, 422), (s, r.text)
        if r.status_code == 201:
            stored = mssql_query(world.staging_url, "SELECT full_name FROM dbo.customers WHERE customer_id = %s", (r.json()["customer_id"],))
            assert stored[0][0] == s.strip()
        for field in ["product", "requested_amount", "term_months"]:
            r = officer.post("/api/v1/applications", application_body("inject", **{field: s}))
            assert r.status_code == 422 and field in r.json()["fields"], (field, s, r.text)
        approver = world.client("carla.diaz")
        r = approver.post("/api/v1/applications/1/decision", {"decision": s})
        assert r.status_code == 422
    assert pg_query(world.pg_url, "SELECT count(*) FROM app.users")[0][0] == users_before
    assert mssql_query(world.staging_url, "SELECT COUNT(*) FROM dbo.customers")[0][0] >= customers_before


def requests_quote(s: str) -> str:
    from urllib.parse import quote
    return quote(s, safe="")
