"""The shipped alerting configuration: promtool and amtool accept it, the promtool unit tests pass and cover
every rule both firing and not firing, every rule is actionable (severity, summary, runbook), and every
alert the inhibition rules name exists."""
from __future__ import annotations

import re
import shutil
import subprocess

import yaml

from alerting_support import DEPLOY

PROMETHEUS = DEPLOY / "prometheus"
RULES = sorted((PROMETHEUS / "rules").glob("*.yml"))
TESTS = sorted((PROMETHEUS / "tests").glob("*.test.yml"))
ALERTMANAGER = DEPLOY / "alertmanager" / "alertmanager.yml"


def rules() -> list[dict]:
    return [rule for path in RULES for group in yaml.safe_load(path.read_text())["groups"] for rule in group["rules"]]


def run(*argv: str) -> subprocess.CompletedProcess:
    assert shutil.which(argv[0]), f"{argv[0]} is not installed: run scripts/bootstrap"
    return subprocess.run(argv, capture_output=True, text=True, timeout=120)


def test_promtool_checks_the_configuration_and_rules():
    result = run("promtool", "check", "config", str(PROMETHEUS / "prometheus.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
    result = run("promtool", "check", "rules", *map(str, RULES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rules())} rules found" in result.stdout


def test_promtool_unit_tests_pass():
    result = run("promtool", "test", "rules", *map(str, TESTS))
    assert result.returncode == 0, result.stdout + result.stderr


def test_amtool_checks_the_alertmanager_configuration():
    result = run("amtool", "check-config", str(ALERTMANAGER))
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_rule_is_actionable():
    names = [rule["alert"] for rule in rules()]
    assert len(names) == len(set(names)), names
    for rule in rules():
        assert rule["labels"]["severity"] in {"critical", "warning"}, rule["alert"]
        assert rule["annotations"]["summary"].strip(), rule["alert"]
        assert len(rule["annotations"]["runbook"]) > 40, f"{rule['alert']}: the runbook must name the fix"


def test_every_rule_has_a_firing_and_a_quiet_unit_case():
    firing, quiet = set(), set()
    for path in TESTS:
        for case in yaml.safe_load(path.read_text())["tests"]:
            for check in case["alert_rule_test"]:
                (firing if check.get("exp_alerts") else quiet).add(check["alertname"])
    names = {rule["alert"] for rule in rules()}
    assert names - firing == set(), "rules without a firing case"
    assert names - quiet == set(), "rules without a not-firing case"


def test_alertmanager_routes_to_slack_with_resolved_messages_and_inhibits_known_alerts():
    config = yaml.safe_load(ALERTMANAGER.read_text())
    receivers = {r["name"]: r for r in config["receivers"]}
    assert config["route"]["receiver"] in receivers
    for receiver in receivers.values():
        for slack in receiver["slack_configs"]:
            assert slack["send_resolved"] is True
            assert "api_url" not in slack and slack["api_url_file"], "the webhook URL is a secret: read it from a file"
    assert "alertname" in config["route"]["group_by"]
    names = {rule["alert"] for rule in rules()}
    for inhibit in config["inhibit_rules"]:
        assert "instance" in inhibit["equal"]
        for matcher in inhibit["source_matchers"] + inhibit["target_matchers"]:
            match = re.fullmatch(r'alertname(=~?)"([^"]+)"', matcher)
            assert match, matcher
            for name in match.group(2).split("|"):
                assert name in names, f"inhibit rule names an unknown alert {name}"


def test_the_shipped_targets_give_each_process_its_own_port():
    targets = yaml.safe_load((PROMETHEUS / "targets" / "sluice.yml").read_text())
    ports = {t["labels"]["process"]: t["targets"][0].rsplit(":", 1)[1] for t in targets}
    assert ports == {"source": "8083", "replica": "8084", "warehouse": "8085", "app": "8080"}
