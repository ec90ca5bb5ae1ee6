"""What the translator knows of a statement: the session's context, the sources in scope and the
typed outputs of a projection (TEST FIXTURE)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from sqlglot import exp

from ..api import SqlType
from .catalog import ColumnInfo, Database, TableInfo


@dataclass
class Context:
    """What the translator needs from the session."""

    db: Database
    variables: dict[str, tuple[SqlType, Any]]
    globals: dict[str, Any]
    database_lookup: Callable[[str | None], Any]  # name -> Database | None (None: current)
    databases: Callable[[], list]  # all Database objects
    server_name: str = ""


@dataclass
class Source:
    """A table-like source in a FROM clause: a catalog table or a known virtual relation."""

    alias: str  # lower-case name by which columns are qualified
    columns: list[ColumnInfo]
    table: TableInfo | None = None


@dataclass
class Output:
    name: str
    type: SqlType | None
    nullable: bool = True
    identity: bool = False


@dataclass
class Translated:
    sql: str
    outputs: list[Output] | None = None  # for row-returning statements
    target: TableInfo | None = None
    identity_returning: bool = False  # the first RETURNING column is the identity (not shown)


def ident_name(e: exp.Expression | None) -> str:
    if e is None:
        return ""
    if isinstance(e, exp.Identifier):
        return e.this
    return e.name
