"""Fixtures of the alerting tests (defined in alerting_support)."""
from alerting_support import alertmanager, slack, world_env  # noqa: F401  (pytest fixtures)
