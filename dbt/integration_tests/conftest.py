# The dbt tests run in the main venv (.venv: pytest, pytds, asyncpg) and call dbt through scripts/dbt.
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools" / "dataflow"))
