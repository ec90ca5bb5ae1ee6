"""Failure notifications: Slack's incoming webhook through providers-slack's SlackWebhookNotifier,
the webhook URL from the Airflow connection `slack_sluice` (settings.SLACK_CONN), never from code."""
from __future__ import annotations

from airflow.providers.slack.notifications.slack_webhook import SlackWebhookNotifier

from sluice_checks.settings import SLACK_CONN

FAILURE_TEXT = (
    ":red_circle: *Sluice {{ dag.dag_id }}* failed: task `{{ ti.task_id }}`"
    "{% if ti.map_index is not none and ti.map_index >= 0 %}[{{ ti.map_index }}]{% endif %}"
    " of run `{{ run_id }}` (try {{ ti.try_number }}).\n"
    "{{ (exception | string)[:2500] }}"
)


def failure_notifier() -> SlackWebhookNotifier:
    """A notifier for `on_failure_callback`; creating it reads no connection (that happens on send)."""
    return SlackWebhookNotifier(slack_webhook_conn_id=SLACK_CONN, text=FAILURE_TEXT, timeout=10)
