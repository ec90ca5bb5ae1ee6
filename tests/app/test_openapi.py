"""The OpenAPI document is a valid 3.1 document and true to the server: every documented operation is
routed, and every JSON API route the server answers is documented (the Swift unit test
`CreditAppOpenAPITests` compares the router's own route list with the document)."""

from __future__ import annotations

import re


def test_openapi_document_matches_the_served_routes(world):
    c = world.client("carla.diaz")
    r = c.get("/api/v1/openapi.json")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/json")
    doc = r.json()
    assert doc["openapi"].startswith("3.1")
    documented = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops if m in ("get", "post", "put", "patch", "delete")}
    expected = {("POST", "/api/v1/session"), ("DELETE", "/api/v1/session"), ("POST", "/api/v1/applications"),
                ("GET", "/api/v1/applications"), ("GET", "/api/v1/applications/{id}"), ("POST", "/api/v1/applications/{id}/decision"),
                ("GET", "/api/v1/customers"), ("GET", "/api/v1/customers/{id}"), ("GET", "/api/v1/lineage"), ("GET", "/api/v1/openapi.json"),
                ("GET", "/health/live"), ("GET", "/health/ready"), ("GET", "/metrics")}
    assert documented == expected
    # Every documented operation is routed: it never answers the router's "no such route" 404.
    for method, path in sorted(documented):
        if (method, path) == ("DELETE", "/api/v1/session"):
            continue  # would log this client out; covered in test_session
        concrete = re.sub(r"\{id\}", "1", path)
        r = c.http.request(method, world.base + concrete, json={} if method == "POST" else None,
                           headers={"X-CSRF-Token": c.csrf}, timeout=30)
        assert not (r.status_code == 404 and "no such page or resource" in r.text), (method, path)
        assert r.status_code != 405, (method, path)
        assert str(r.status_code) in doc["paths"][path][method.lower()]["responses"], (method, path, r.status_code, r.text)
    # And an undocumented API path is not routed.
    r = c.get("/api/v1/users")
    assert r.status_code == 404 and r.json()["error"]
    # Every $ref resolves.
    text = r = None
    refs = set(re.findall(r'"\$ref": "#/components/(\w+)/(\w+)"', c.get("/api/v1/openapi.json").text))
    for kind, name in refs:
        assert name in doc["components"][kind], (kind, name)
