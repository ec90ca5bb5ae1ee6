"""Fixtures for the terraform tests: the configuration parsed with python-hcl2, quotes stripped."""
from __future__ import annotations

import re
from pathlib import Path

import hcl2
import pytest

TERRAFORM = Path(__file__).resolve().parents[1]
ROOT = TERRAFORM.parent


def unquote(value):
    """python-hcl2 keeps HCL's quotes on keys and strings ('"docker_container"'); drop them, recursively."""
    if isinstance(value, dict):
        return {unquote(k): unquote(v) for k, v in value.items() if k not in ("__comments__", "__inline_comments__", "__is_block__")}
    if isinstance(value, list):
        return [unquote(v) for v in value]
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1].replace('\\"', '"')
    return value


class Configuration:
    def __init__(self, directory: Path):
        self.files = sorted(directory.glob("*.tf"))
        self.text = "\n".join(f.read_text() for f in self.files)
        self.resources: dict[str, dict] = {}
        self.variables: dict[str, dict] = {}
        self.outputs: dict[str, dict] = {}
        self.locals: dict = {}
        self.terraform: list = []
        for path in self.files:
            with path.open() as handle:
                document = unquote(hcl2.load(handle))
            for block in document.get("resource", []):
                for kind, named in block.items():
                    for name, body in named.items():
                        self.resources[f"{kind}.{name}"] = body
            for block in document.get("variable", []):
                self.variables.update(block)
            for block in document.get("output", []):
                self.outputs.update(block)
            for block in document.get("locals", []):
                self.locals.update(block)
            self.terraform += document.get("terraform", [])

    def containers(self) -> dict[str, dict]:
        return {k.split(".", 1)[1]: v for k, v in self.resources.items() if k.startswith("docker_container.")}

    def references(self, prefix: str) -> set[str]:
        """Names referenced as prefix.NAME in the configuration (var., local.)."""
        code = re.sub(r"#.*", "", self.text)
        return set(re.findall(rf"(?<![\w.]){re.escape(prefix)}\.([A-Za-z_][\w-]*)", code))


@pytest.fixture(scope="session")
def tf() -> Configuration:
    return Configuration(TERRAFORM)
