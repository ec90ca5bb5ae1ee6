"""The pages in a real headless browser (Debian's chromium and chromium-driver, driven by selenium with
the driver path given, so nothing is downloaded): an officer submits through the form, an approver
approves from the queue, search finds it with its new status, the dashboard draws its charts.
Screenshots of each page go to .run/screenshots (`make screenshots` copies them to docs/images)."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from world import DEMO_PASSWORD, ROOT, wait_for

CHROMIUM = os.environ.get("SLUICE_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("SLUICE_CHROMEDRIVER", "/usr/bin/chromedriver")
SHOTS = ROOT / ".run" / "screenshots"


@pytest.fixture(scope="module")
def browser():
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.fail(f"{CHROMIUM} or {CHROMEDRIVER} is missing: run scripts/bootstrap (installs chromium and chromium-driver)")
    os.environ.setdefault("SE_OFFLINE", "true")
    os.environ.setdefault("SE_AVOID_STATS", "true")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1000", "--lang=en-US"]:
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    SHOTS.mkdir(parents=True, exist_ok=True)
    yield driver
    driver.quit()


def shot(driver, name: str):
    """The whole page (not just the window), 1280 px wide."""
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": 1280, "height": max(700, min(height, 3000)), "deviceScaleFactor": 1, "mobile": False})
    driver.save_screenshot(str(SHOTS / f"{name}.png"))
    driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def by(driver, css: str):
    from selenium.webdriver.common.by import By
    return driver.find_element(By.CSS_SELECTOR, css)


def login(driver, base: str, username: str):
    driver.get(base + "/login")
    by(driver, "#username").send_keys(username)
    by(driver, "#password").send_keys(DEMO_PASSWORD)
    by(driver, "#login").click()
    wait_for(lambda: "/dashboard" in driver.current_url, 20, f"{username}'s dashboard")
    assert f"{username} (" in by(driver, "#current-user").text


def logout(driver):
    by(driver, "#logout").click()
    wait_for(lambda: "/login" in driver.current_url, 10, "the login page after logout")


def test_submit_approve_search_and_dashboard_in_a_browser(world, browser):
    from selenium.webdriver.support.ui import Select
    base = world.base
    d = browser
    d.get(base + "/login")
    shot(d, "login")
    login(d, base, "alice.kern")

    # An officer submits through the form; a first attempt with errors shows them inline.
    d.get(base + "/applications/new")
    nid = "B" + str(time.time_ns())[-9:]
    by(d, "#find_national_id").send_keys(nid)
    by(d, "#find").click()
    wait_for(lambda: "national_id=" in d.current_url, 20, "the customer lookup")
    assert "a new customer is created" in by(d, "#found").text
    by(d, "#full_name").send_keys("Zoë Browserová")
    by(d, "#date_of_birth").send_keys("2012-02-30")
    by(d, "#email").send_keys("zoe.browser@example")
    Select(by(d, "#product")).select_by_value("car_loan")
    by(d, "#requested_amount").send_keys("18500.75")
    by(d, "#term_months").clear()
    by(d, "#term_months").send_keys("48")
    by(d, "#submit").click()
    wait_for(lambda: d.current_url.endswith("/applications"), 20, "the form with its errors")
    assert "YYYY-MM-DD" in by(d, "#error-date_of_birth").text
    assert "email address" in by(d, "#error-email").text
    shot(d, "new-application-errors")
    by(d, "#date_of_birth").clear()
    by(d, "#date_of_birth").send_keys("1988-02-29")
    by(d, "#email").clear()
    by(d, "#email").send_keys("zoe.browser@example.com")
    by(d, "#address").send_keys("Hauptstraße 5, 10115 Berlin")
    by(d, "#monthly_income").send_keys("5100")
    Select(by(d, "#employment_status")).select_by_value("employed")
    shot(d, "new-application")
    by(d, "#submit").click()
    wait_for(lambda: "/applications/" in d.current_url and "notice=submitted" in d.current_url, 20, "the submitted page")
    app_id = int(d.current_url.split("/applications/")[1].split("?")[0])
    assert "being replicated" in by(d, "#notice").text
    wait_for(lambda: d.find_elements("css selector", "#status") and by(d, "#status").text == "submitted", 60,
             "the page to show the replicated application")
    assert "behind" in by(d, "#freshness").text or "up to date" in by(d, "#freshness").text
    shot(d, "application-submitted")
    logout(d)

    # An approver approves it from the queue.
    login(d, base, "carla.diaz")
    d.get(base + "/approvals")
    row = by(d, f"#queue-{app_id}")
    row.find_element("css selector", "input[name=note]").send_keys("Income verified")
    row.find_element("css selector", "input[name=interest_rate]").send_keys("5.9")
    shot(d, "approvals")
    row.find_element("css selector", "button[value=approve]").click()
    wait_for(lambda: f"/applications/{app_id}" in d.current_url and "notice=decided" in d.current_url, 20, "the decided page")
    assert "being replicated" in by(d, "#notice").text
    wait_for(lambda: by(d, "#status").text == "approved", 60, "the approval to reach the replica")
    wait_for(lambda: (d.refresh() or True) and "approved" in by(d, "#history").text, 60, "the approval in the warehouse history")
    shot(d, "application-approved")

    # Search finds it by name without accents, with its new status.
    d.get(base + "/search")
    by(d, "#q").send_keys("zoe browserova")
    by(d, "#search").click()
    wait_for(lambda: "q=zoe" in d.current_url, 20, "the search results page")
    results = by(d, "#results").text
    assert str(app_id) in results and "approved" in results, results
    shot(d, "search")

    # The dashboard draws its charts as inline SVG.
    d.get(base + "/dashboard")
    for chart in ["#chart-status svg", "#chart-product svg", "#chart-rate svg", "#chart-amounts svg", "#chart-tables svg"]:
        assert by(d, chart).get_attribute("role") == "img", chart
    assert len(d.find_elements("css selector", "#chart-status svg rect")) >= 2
    wait_for(lambda: (d.refresh() or True) and d.find_elements("css selector", "#components"), 30, "the pipeline's health on the dashboard")
    assert "sink.replica-postgres" in by(d, "#components").text
    tables = by(d, "#tables").text
    assert "credit_applications" in tables and "?" not in tables, tables  # staging and replica counts both read
    shot(d, "dashboard")
    logout(d)


def test_lineage_page_in_a_browser(world, browser):
    """The lineage page draws the graph as inline SVG (a box per dataset), and clicking a replica table
    in the drawing shows its columns and their origins."""
    from lineage_expectations import write_manifest
    write_manifest(world)  # dbt's manifest, so the dbt models are drawn too
    try:
        base = world.base
        d = browser
        login(d, base, "alice.kern")
        by(d, "header nav a[href='/lineage']").click()
        wait_for(lambda: d.current_url.endswith("/lineage"), 20, "the lineage page")
        svg = by(d, "#lineage-graph svg")
        assert svg.get_attribute("role") == "img"
        nodes = d.find_elements("css selector", "#lineage-graph svg g.node")
        kinds = {n.get_attribute("class").split()[1] for n in nodes}
        assert {"node-source_table", "node-topic", "node-replica_table", "node-warehouse_table", "node-dbt_model"} <= kinds, kinds
        assert len(d.find_elements("css selector", "#lineage-graph svg path.edge")) >= len(nodes) - 3
        assert "rows" in svg.text  # live figures drawn in the boxes
        shot(d, "lineage")
        # Click the replica table in the drawing: its columns and their origins.
        by(d, "#lineage-graph svg a[href*='table=dbo.customers'] rect").click()
        wait_for(lambda: "table=dbo.customers" in d.current_url, 20, "the column origins of dbo.customers")
        origins = by(d, "#column-origins").text
        assert "national_id" in origins and "CreditStaging.dbo.customers" in origins, origins
        shot(d, "lineage-columns")
        logout(d)
    finally:
        shutil.rmtree(world.dbt_manifest.parent, ignore_errors=True)
