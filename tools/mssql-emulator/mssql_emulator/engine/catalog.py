"""The emulated catalog of one SQL Server database, persisted in its backing Postgres database."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field

from ..api import SqlType


@dataclass
class ColumnInfo:
    name: str  # as declared
    type: SqlType
    nullable: bool = True
    identity: bool = False
    column_id: int = 0

    @property
    def pg(self) -> str:
        return self.name.lower()

    def to_json(self) -> dict:
        t = self.type
        return {"name": self.name, "type": [t.name, t.length, t.precision, t.scale],
                "nullable": self.nullable, "identity": self.identity, "column_id": self.column_id}

    @staticmethod
    def from_json(d: dict) -> "ColumnInfo":
        n, ln, p, s = d["type"]
        return ColumnInfo(d["name"], SqlType(n, ln, p, s), d["nullable"], d["identity"], d["column_id"])


@dataclass
class TableInfo:
    schema: str
    name: str
    columns: list[ColumnInfo]
    object_id: int = 0
    next_column_id: int = 0
    system: bool = False  # cdc.* objects

    def column(self, name: str) -> ColumnInfo | None:
        low = name.lower()
        for c in self.columns:
            if c.pg == low:
                return c
        return None

    @property
    def identity(self) -> ColumnInfo | None:
        for c in self.columns:
            if c.identity:
                return c
        return None

    @property
    def key(self) -> tuple[str, str]:
        return (self.schema.lower(), self.name.lower())

    @property
    def pg_name(self) -> str:
        return f'"{self.schema.lower()}"."{self.name.lower()}"'

    @property
    def display(self) -> str:
        return f"{self.schema}.{self.name}"

    def to_json(self) -> str:
        return json.dumps({"schema": self.schema, "name": self.name, "system": self.system,
                           "next_column_id": self.next_column_id,
                           "columns": [c.to_json() for c in self.columns]})

    @staticmethod
    def from_json(s: str | dict) -> "TableInfo":
        d = json.loads(s) if isinstance(s, str) else s
        return TableInfo(d["schema"], d["name"], [ColumnInfo.from_json(c) for c in d["columns"]],
                         next_column_id=d.get("next_column_id", 0), system=d.get("system", False))


@dataclass
class Database:
    """One emulated SQL Server database: its name, id, backing Postgres database and catalog."""

    name: str
    database_id: int
    pg_name: str
    tables: dict[tuple[str, str], TableInfo] = field(default_factory=dict)
    schemas: dict[str, str] = field(default_factory=dict)  # lower -> declared
    cdc_enabled: bool = False
    capture_running: bool = True
    # ALTER DATABASE … SET options (persisted in the database's _mssql.meta)
    allow_snapshot_isolation: bool = False
    read_committed_snapshot: bool = False
    user_access: str = "MULTI_USER"  # or SINGLE_USER
    loaded: bool = False
    commit_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    ddl_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def table(self, schema: str | None, name: str) -> TableInfo | None:
        return self.tables.get(((schema or "dbo").lower(), name.lower()))
