"""Fixtures of the terraform tests (defined in terraform_support)."""
from terraform_support import tf  # noqa: F401  (pytest fixture)
