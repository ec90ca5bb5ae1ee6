"""Login, logout, lockout, sessions in Postgres, CSRF and content-type rules."""

from __future__ import annotations

import subprocess

from world import DEMO_PASSWORD, AppClient, pg_query, wait_for


def test_login_sets_a_strict_http_only_cookie_and_returns_the_csrf_token(world):
    c = AppClient(world.base)
    r = c.login("alice.kern")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["username"] == "alice.kern" and body["role"] == "officer" and len(body["csrf_token"]) >= 32
    cookie = r.headers["Set-Cookie"]
    assert "sluice_session=" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # served over plain HTTP here
    assert c.get("/api/v1/applications?page_size=1").status_code == 200
    # The session lives in Postgres, as the hash of its id (the cookie value is not stored).
    session_id = c.http.cookies["sluice_session"]
    rows = pg_query(world.pg_url, "SELECT key_hash, value->>'username' FROM app.sessions WHERE value->>'username' = 'alice.kern'")
    assert rows and all(session_id not in r[0] for r in rows)


def test_bad_password_and_unknown_user_get_the_same_401(world):
    wrong = AppClient(world.base).login("dev.rao", "not-the-password")
    unknown = AppClient(world.base).login("nobody.here", "not-the-password")
    assert wrong.status_code == 401 and unknown.status_code == 401
    assert wrong.json() == unknown.json() == {"error": "invalid username or password"}
    assert "Set-Cookie" not in wrong.headers
    pg_query(world.pg_url, "DELETE FROM app.login_failures WHERE username = 'dev.rao'")


def test_users_cli_adds_and_lists_users_with_password_from_stdin(world):
    add = subprocess.run([world.binary, "app", "users", "add", "lock.tester", "--role", "officer"],
                         input="Lock_tester_pw1\n", text=True, capture_output=True, env=world.env, timeout=60)
    assert add.returncode == 0, add.stderr
    listing = subprocess.run([world.binary, "app", "users", "list"], text=True, capture_output=True, env=world.env, timeout=60)
    assert listing.returncode == 0, listing.stderr
    lines = {line.split()[0]: line.split()[1] for line in listing.stdout.splitlines()[1:]}
    assert lines["lock.tester"] == "officer" and lines["carla.diaz"] == "approver" and lines["ops.admin"] == "admin"
    hashes = pg_query(world.pg_url, "SELECT password_hash FROM app.users WHERE username = 'lock.tester'")
    assert hashes[0][0].startswith("$2b$12$") and "Lock_tester_pw1" not in hashes[0][0]
    assert AppClient(world.base).login("lock.tester", "Lock_tester_pw1").status_code == 200
    bad_role = subprocess.run([world.binary, "app", "users", "add", "x.y", "--role", "boss"], input="Whatever_pw1\n",
                              text=True, capture_output=True, env=world.env, timeout=60)
    assert bad_role.returncode != 0 and "officer, approver or admin" in bad_role.stderr


def test_five_failures_lock_the_user_out_with_429_until_the_window_passes(world):
    subprocess.run([world.binary, "app", "users", "add", "lock.victim", "--role", "officer"], input="Lock_victim_pw1\n",
                   text=True, capture_output=True, env=world.env, timeout=60, check=True)
    for attempt in range(5):
        r = AppClient(world.base).login("lock.victim", f"wrong-{attempt}")
        assert r.status_code == 401, (attempt, r.text)
    locked = AppClient(world.base).login("lock.victim", "Lock_victim_pw1")  # even the right password
    assert locked.status_code == 429, locked.text
    assert int(locked.headers["Retry-After"]) > 800 and "too many failed logins" in locked.json()["error"]
    # Other users are not affected.
    assert AppClient(world.base).login("bob.meyer").status_code == 200
    # The window passing (failures older than 15 minutes) lifts the lockout.
    pg_query(world.pg_url, "UPDATE app.login_failures SET failed_at = now() - interval '16 minutes' WHERE username = 'lock.victim'")
    assert AppClient(world.base).login("lock.victim", "Lock_victim_pw1").status_code == 200


def test_no_session_is_401_everywhere_but_login(world):
    anonymous = AppClient(world.base)
    for method, path in [("GET", "/api/v1/applications"), ("GET", "/api/v1/applications/1"), ("POST", "/api/v1/applications"),
                         ("POST", "/api/v1/applications/1/decision"), ("GET", "/api/v1/customers"), ("GET", "/api/v1/customers/1"),
                         ("DELETE", "/api/v1/session"), ("GET", "/api/v1/openapi.json")]:
        r = anonymous.http.request(method, world.base + path, json={} if method == "POST" else None, timeout=10)
        assert r.status_code == 401, (method, path, r.status_code, r.text)
        assert "log in" in r.json()["error"]
    forged = AppClient(world.base)
    forged.http.cookies.set("sluice_session", "forged-session-id")
    assert forged.get("/api/v1/applications").status_code == 401
    page = anonymous.http.get(world.base + "/search", allow_redirects=False, timeout=10)
    assert page.status_code == 303 and page.headers["Location"].startswith("/login")


def test_unsafe_requests_need_the_sessions_csrf_token(world):
    c = world.client("alice.kern")
    body = {"customer_id": 1, "product": "personal_loan", "requested_amount": 1000, "term_months": 12}
    missing = c.post("/api/v1/applications", body, csrf=False)
    assert missing.status_code == 403 and "CSRF" in missing.json()["error"]
    wrong = c.post("/api/v1/applications", body, headers={"X-CSRF-Token": "x" * 43})
    assert wrong.status_code == 403
    other = world.client("bob.meyer")  # a valid token, but of another session
    assert c.post("/api/v1/applications", body, headers={"X-CSRF-Token": other.csrf}).status_code == 403
    cross_site = c.post("/api/v1/applications", body, headers={"Sec-Fetch-Site": "cross-site"})
    assert cross_site.status_code == 403
    assert c.delete("/api/v1/session", csrf=False).status_code == 403
    # Forms carry the token as a hidden field: a page form post without it is refused too.
    form = c.http.post(world.base + "/logout", data={}, allow_redirects=False, timeout=10)
    assert form.status_code == 403
    form = c.http.post(world.base + "/logout", data={"csrf_token": c.csrf}, allow_redirects=False, timeout=10)
    assert form.status_code == 303


def test_json_bodies_must_be_application_json(world):
    c = world.client("alice.kern")
    r = c.http.post(world.base + "/api/v1/applications", data='{"product": "bnpl"}',
                    headers={"X-CSRF-Token": c.csrf, "Content-Type": "text/plain"}, timeout=10)
    assert r.status_code == 415, r.text
    r = c.http.post(world.base + "/api/v1/session", data="username=alice.kern&password=x",
                    headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=10)
    assert r.status_code == 415
    r = c.http.post(world.base + "/api/v1/applications", data="{not json",
                    headers={"X-CSRF-Token": c.csrf, "Content-Type": "application/json"}, timeout=10)
    assert r.status_code == 400 and "not valid JSON" in r.json()["error"]


def test_logout_ends_the_session_in_postgres(world):
    c = world.client("bob.meyer")
    assert c.delete("/api/v1/session").status_code == 204
    assert c.get("/api/v1/applications").status_code == 401


def test_restart_keeps_the_session(world):
    c = world.client("carla.diaz")
    assert c.get("/api/v1/applications?page_size=1").status_code == 200
    expired = "e" * 64  # an expired session's row, which the app's housekeeping deletes at start
    pg_query(world.pg_url, "INSERT INTO app.sessions (key_hash, value, expires_at) VALUES ($1, '{}'::jsonb, now() - interval '1 hour')",
             expired)
    world.restart_app()
    wait_for(lambda: pg_query(world.pg_url, "SELECT count(*) FROM app.sessions WHERE key_hash = $1", expired)[0][0] == 0, 30,
             "the expired session to be pruned")
    r = c.get("/api/v1/applications?page_size=1")
    assert r.status_code == 200, r.text
    assert c.post("/api/v1/applications/999999/decision", {"decision": "approve"}).status_code == 404  # CSRF token survived too


def test_idle_sessions_expire(world):
    """A second app with a 2 s idle timeout: activity keeps the session, 2 s of silence ends it."""
    import time
    from world import Process, free_port_in
    port = free_port_in(18120, 18139)
    env = world.app_env()
    env["SLUICE_APP_IDLE_TIMEOUT"] = "2"
    app = Process("short app", [world.binary, "app", "--http-port", str(port)], env, world.logs / "app-idle.log").start()
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: world._ready(base, app), 60, "the short-timeout app")
        c = AppClient(base)
        assert c.login("alice.kern").status_code == 200
        start = time.monotonic()
        for _ in range(3):  # each request moves the expiry on
            time.sleep(1)
            assert c.get("/api/v1/applications?page_size=1").status_code == 200
        assert time.monotonic() - start > 2.5
        # Poll the session's row (a request would count as activity), then use the session.
        import hashlib
        key_hash = hashlib.sha256(("s." + c.http.cookies["sluice_session"]).encode()).hexdigest()
        last = time.monotonic()
        assert pg_query(world.pg_url, "SELECT count(*) FROM app.sessions WHERE key_hash = $1", key_hash)[0][0] == 1
        wait_for(lambda: pg_query(world.pg_url, "SELECT count(*) FROM app.sessions WHERE key_hash = $1 AND expires_at > now()",
                                  key_hash)[0][0] == 0, 10, "the session's expiry to pass")
        assert time.monotonic() - last >= 1.0
        assert c.get("/api/v1/applications?page_size=1").status_code == 401
    finally:
        app.stop()


def test_health_and_metrics_like_sluice_run(world):
    import requests
    live = requests.get(world.base + "/health/live", timeout=5)
    assert live.status_code == 200 and live.json() == {"status": "up"}
    ready = requests.get(world.base + "/health/ready", timeout=5)
    assert ready.status_code == 200
    assert set(ready.json()["components"]) == {"staging", "replica", "warehouse"}
    assert all(c["status"] == "up" for c in ready.json()["components"].values())
    world.client("alice.kern")
    AppClient(world.base).login("alice.kern", "wrong")
    pg_query(world.pg_url, "DELETE FROM app.login_failures WHERE username = 'alice.kern'")
    metrics = requests.get(world.base + "/metrics", timeout=5)
    assert metrics.status_code == 200 and metrics.headers["Content-Type"].startswith("text/plain")
    assert 'sluice_app_logins_total{outcome="success"}' in metrics.text
    assert 'sluice_app_logins_total{outcome="invalid"}' in metrics.text
    assert "hb_requests" in metrics.text  # Hummingbird's request metrics
    # The components' health as gauges, as on every Sluice process (the alert rules read them).
    for component in ("staging", "replica", "warehouse"):
        assert f'sluice_component_up{{component="{component}"}} 1' in metrics.text, component


def test_readiness_names_an_unreachable_dependency(world):
    import requests
    from world import Process, free_port_in
    port, closed = free_port_in(18140, 18149), free_port_in(18170, 18179)
    env = world.app_env()
    env["SLUICE_WAREHOUSE_URL"] = f"mssql://sluice:x@127.0.0.1:{closed}/CreditWarehouse"  # nothing listens there
    app = Process("app without warehouse", [world.binary, "app", "--http-port", str(port)], env, world.logs / "app-nowh.log").start()
    try:
        base = f"http://127.0.0.1:{port}"
        def not_ready():
            r = requests.get(base + "/health/ready", timeout=5)
            ok = r.status_code == 503 and r.json()["components"]["warehouse"]["status"] == "down"
            return [r] if ok else None  # a list: a 503 Response is falsy
        r = wait_for(not_ready, 60, "/health/ready to report the warehouse down")[0]
        components = r.json()["components"]
        assert components["staging"]["status"] == "up" and components["replica"]["status"] == "up"
        assert "warehouse unreachable" in components["warehouse"]["reason"] and ":x@" not in r.text  # no password
        assert requests.get(base + "/health/live", timeout=5).status_code == 200
    finally:
        app.stop()


def test_configuration_problems_are_named_before_start(world):
    env = {k: v for k, v in world.env.items() if k not in ("SLUICE_STAGING_URL", "SLUICE_PG_URL")}
    env["SLUICE_WAREHOUSE_URL"] = "http://not-mssql"
    r = subprocess.run([world.binary, "app", "--http-port", "0"], env=env, capture_output=True, text=True, timeout=30)
    assert r.returncode == 2
    assert "SLUICE_STAGING_URL" in r.stderr and "SLUICE_PG_URL" in r.stderr and "warehouse.url" in r.stderr, r.stderr
