"""The emulated catalog of one SQL Server database, persisted in its backing Postgres database."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field

from ..api import SqlType
from .types import BIT, INT, SYSNAME


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


# ---------------------------------------------------------------------- virtual catalog views
# Virtual catalog views answered from the emulator's own catalog.
VIRTUAL_TABLES: dict[tuple[str, str], list[tuple[str, SqlType]]] = {
    ("sys", "databases"): [("name", SYSNAME), ("database_id", INT), ("is_cdc_enabled", BIT),
                           ("collation_name", SYSNAME), ("state", SqlType("tinyint")),
                           ("state_desc", SqlType("nvarchar", length=60)), ("compatibility_level", SqlType("tinyint")),
                           ("snapshot_isolation_state", SqlType("tinyint")),
                           ("snapshot_isolation_state_desc", SqlType("nvarchar", length=60)),
                           ("is_read_committed_snapshot_on", BIT), ("user_access", SqlType("tinyint")),
                           ("user_access_desc", SqlType("nvarchar", length=60))],
    ("sys", "schemas"): [("name", SYSNAME), ("schema_id", INT), ("principal_id", INT)],
    ("sys", "tables"): [("name", SYSNAME), ("object_id", INT), ("schema_id", INT),
                        ("type", SqlType("char", length=2)), ("type_desc", SqlType("nvarchar", length=60)),
                        ("is_tracked_by_cdc", BIT), ("is_ms_shipped", BIT)],
    ("information_schema", "tables"): [("TABLE_CATALOG", SYSNAME), ("TABLE_SCHEMA", SYSNAME),
                                       ("TABLE_NAME", SYSNAME), ("TABLE_TYPE", SqlType("varchar", length=10))],
    ("information_schema", "columns"): [
        ("TABLE_CATALOG", SYSNAME), ("TABLE_SCHEMA", SYSNAME), ("TABLE_NAME", SYSNAME), ("COLUMN_NAME", SYSNAME),
        ("ORDINAL_POSITION", INT), ("COLUMN_DEFAULT", SqlType("nvarchar", length=4000)),
        ("IS_NULLABLE", SqlType("varchar", length=3)), ("DATA_TYPE", SYSNAME), ("CHARACTER_MAXIMUM_LENGTH", INT),
        ("CHARACTER_OCTET_LENGTH", INT), ("NUMERIC_PRECISION", SqlType("tinyint")),
        ("NUMERIC_PRECISION_RADIX", SqlType("smallint")), ("NUMERIC_SCALE", INT),
        ("DATETIME_PRECISION", SqlType("smallint")), ("CHARACTER_SET_NAME", SYSNAME), ("COLLATION_NAME", SYSNAME)],
}
VIRTUAL_TABLES[("sys", "objects")] = VIRTUAL_TABLES[("sys", "tables")]
VIRTUAL_TABLES[("sys", "dm_server_services")] = [
    ("servicename", SqlType("nvarchar", length=256)), ("startup_type_desc", SqlType("nvarchar", length=256)),
    ("status", INT), ("status_desc", SqlType("nvarchar", length=256)), ("process_id", INT)]


def virtual_catalog_table(schema: str | None, name: str) -> TableInfo | None:
    key = ((schema or "").lower(), name.lower())
    cols = VIRTUAL_TABLES.get(key)
    if cols is None:
        return None
    return TableInfo(schema or "", name, [ColumnInfo(n, t, True, False, i + 1) for i, (n, t) in enumerate(cols)])


def virtual_rows(db: "Database", databases, schema: str, name: str) -> list[tuple]:
    """The rows of a virtual catalog view (databases: every Database of the server)."""
    key = (schema.lower(), name.lower())
    if key == ("sys", "databases"):
        return [(d.name, d.database_id, d.database_id == 1 and False or d.cdc_enabled,
                 "Latin1_General_100_CI_AS_SC_UTF8", 0, "ONLINE", 160,
                 1 if d.allow_snapshot_isolation else 0, "ON" if d.allow_snapshot_isolation else "OFF",
                 d.read_committed_snapshot, 1 if d.user_access == "SINGLE_USER" else 0, d.user_access)
                for d in databases()]
    if key == ("sys", "schemas"):
        return [(declared, i + 1, 1) for i, (low, declared) in enumerate(sorted(db.schemas.items()))]
    if key in (("sys", "tables"), ("sys", "objects")):
        sids = {low: i + 1 for i, low in enumerate(sorted(db.schemas))}
        tracked = getattr(db, "tracked_tables", set())
        return [(t.name, t.object_id, sids.get(t.schema.lower(), 1), "U", "USER_TABLE",
                 t.key in tracked, t.system) for t in db.tables.values()]
    if key == ("sys", "dm_server_services"):
        # The emulated SQL Server Agent always runs; a database's capture job is stopped and
        # started with sys.sp_cdc_stop_job / sys.sp_cdc_start_job.
        return [("SQL Server (MSSQLSERVER)", "Automatic", 4, "Running", 1),
                ("SQL Server Agent (MSSQLSERVER)", "Automatic", 4, "Running", 2)]
    if key == ("information_schema", "tables"):
        return [(db.name, t.schema, t.name, "BASE TABLE") for t in db.tables.values()]
    if key == ("information_schema", "columns"):
        rows = []
        for t in db.tables.values():
            for i, c in enumerate(t.columns):
                rows.append((db.name, t.schema, t.name, c.name, i + 1, None, "YES" if c.nullable else "NO")
                            + information_schema_type(c.type))
        return rows
    return []


def information_schema_type(t: SqlType) -> tuple:
    """(DATA_TYPE, CHARACTER_MAXIMUM_LENGTH, CHARACTER_OCTET_LENGTH, NUMERIC_PRECISION,
    NUMERIC_PRECISION_RADIX, NUMERIC_SCALE, DATETIME_PRECISION, CHARACTER_SET_NAME, COLLATION_NAME)
    as SQL Server's INFORMATION_SCHEMA.COLUMNS reports them."""
    n = t.name
    if n in ("char", "varchar", "nchar", "nvarchar"):
        octets = -1 if t.length == -1 else (t.length * 2 if n.startswith("n") else t.length)
        return (n, t.length, octets, None, None, None, None, "UNICODE" if n.startswith("n") else "iso_1",
                "Latin1_General_100_CI_AS_SC_UTF8")
    if n in ("binary", "varbinary"):
        return (n, t.length, t.length, None, None, None, None, None, None)
    if n == "xml":
        return (n, -1, -1, None, None, None, None, None, None)
    ints = {"tinyint": 3, "smallint": 5, "int": 10, "bigint": 19}
    if n in ints:
        return (n, None, None, ints[n], 10, 0, None, None, None)
    if n in ("decimal", "numeric"):
        return (n, None, None, t.precision, 10, t.scale, None, None, None)
    if n in ("money", "smallmoney"):
        return (n, None, None, 19 if n == "money" else 10, 10, 4, None, None, None)
    if n in ("real", "float"):
        return (n, None, None, 24 if n == "real" else 53, 2, None, None, None, None)
    if n == "bit":
        return (n, None, None, None, None, None, None, None, None)
    if n in ("date", "smalldatetime"):
        return (n, None, None, None, None, None, 0, None, None)
    if n == "datetime":
        return (n, None, None, None, None, None, 3, None, None)
    if n in ("time", "datetime2", "datetimeoffset"):
        return (n, None, None, None, None, None, t.scale, None, None)
    return (n, None, None, None, None, None, None, None, None)
