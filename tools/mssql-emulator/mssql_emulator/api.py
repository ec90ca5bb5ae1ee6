"""The contract between the emulator's TDS wire layer (``tds/``) and its SQL engine (``engine/``).

TEST FIXTURE: the SQL Server emulator is test infrastructure for Sluice, not a database product.

The wire layer decodes TDS packets into calls on a :class:`Session` and encodes the items the session
yields back into TDS tokens. The engine knows nothing about TDS; the wire layer knows nothing about SQL.

Python value representation (both directions):
    bit -> bool; tinyint/smallint/int/bigint -> int;
    decimal/numeric/money/smallmoney -> decimal.Decimal (never float); real/float -> float;
    char/varchar/nchar/nvarchar (incl. MAX) -> str; binary/varbinary (incl. MAX) -> bytes;
    date -> datetime.date; time -> datetime.time;
    smalldatetime/datetime/datetime2 -> naive datetime.datetime;
    datetimeoffset -> aware datetime.datetime; uniqueidentifier -> uuid.UUID; NULL -> None.
    (Python and Postgres keep microseconds: time/datetime2/datetimeoffset with scale 7 lose the last
    digit. This is a documented difference from SQL Server.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Protocol, Union


@dataclass(frozen=True)
class SqlType:
    """A SQL Server type as it appears in metadata.

    name: lower-case SQL Server type name ('int', 'nvarchar', 'decimal', 'datetime2', ...).
    length: characters for (n)char/(n)varchar, bytes for (var)binary; -1 means MAX.
    precision/scale: decimal/numeric; scale is also the fractional-second digits of
    time/datetime2/datetimeoffset.
    """

    name: str
    length: int | None = None
    precision: int | None = None
    scale: int | None = None


@dataclass(frozen=True)
class Column:
    name: str
    type: SqlType
    nullable: bool = True
    identity: bool = False


@dataclass
class Param:
    """A typed parameter of an RPC (``sp_executesql`` parameters, stored-procedure arguments)."""

    name: str  # with the leading '@'; '' for a positional RPC argument
    type: SqlType
    value: Any
    output: bool = False


@dataclass
class ResultSet:
    """One result set. ``rows`` may be an async iterator so large results stream with flat memory."""

    columns: list[Column]
    rows: Union[list[tuple], AsyncIterator[tuple]]


@dataclass
class Done:
    """End of one statement. rowcount None means 'no count' (DDL, SET, ...)."""

    rowcount: int | None = None


@dataclass
class Message:
    """An informational message (severity <= 10): PRINT, 5701 'Changed database context', ..."""

    number: int
    text: str
    state: int = 1
    severity: int = 0
    line: int = 1
    procedure: str = ""


class SqlError(Exception):
    """A SQL Server error (severity >= 11).

    Raised out of :meth:`Session.execute` it terminates the batch (wire: ERROR token, DONE with the
    error flag, end of response). Yielded as a :class:`StatementError` item it terminates only the
    statement and the batch continues, as SQL Server does for e.g. 2627 or 547 without XACT_ABORT.

    ``preceding``: errors the wire layer sends before this one, as SQL Server sends some errors in
    pairs (4060 then 18456 at login, 5070 then 5069 from ALTER DATABASE).
    """

    def __init__(self, number: int, message: str, *, severity: int = 16, state: int = 1,
                 line: int = 1, procedure: str = "") -> None:
        super().__init__(f"Msg {number}, Level {severity}, State {state}: {message}")
        self.number = number
        self.message = message
        self.severity = severity
        self.state = state
        self.line = line
        self.procedure = procedure
        self.preceding: list[SqlError] = []

    def with_followup(self, followup: "SqlError") -> "SqlError":
        """``followup``, sent right after this error (this one becomes its ``preceding``)."""
        followup.preceding = [*self.preceding, self] + followup.preceding
        return followup


@dataclass
class StatementError:
    error: SqlError


@dataclass
class EnvChange:
    """kind: 'database' | 'begin_tran' | 'commit_tran' | 'rollback_tran' | 'language'.
    For transactions, new/old are the 8-byte transaction descriptor (bytes) per MS-TDS."""

    kind: str
    new: Any
    old: Any


@dataclass
class ReturnStatus:
    value: int


@dataclass
class ReturnValue:
    param: Param


ResultItem = Union[ResultSet, Done, Message, StatementError, EnvChange, ReturnStatus, ReturnValue]


class Session(Protocol):
    """One client connection's state: current database, open transaction, @@ROWCOUNT, ..."""

    database: str

    def execute(self, sql: str, params: list[Param] | None = None) -> AsyncIterator[ResultItem]:
        """Run a batch (SQL batch packet) or an ``sp_executesql`` statement with typed parameters."""
        ...

    def call(self, procedure: str, params: list[Param]) -> AsyncIterator[ResultItem]:
        """Run a stored procedure called by RPC name (anything but sp_executesql/sp_prepare/...)."""
        ...

    async def cancel(self) -> None:
        """ATTENTION: stop the running batch; roll back the statement that was running."""
        ...

    async def close(self) -> None:
        """Connection closed: roll back any open transaction and release resources."""
        ...


class Server(Protocol):
    """One emulated SQL Server instance (its own set of databases and logins)."""

    async def authenticate(self, user: str, password: str, database: str | None,
                           app_name: str = "") -> Session:
        """Raise SqlError(18456) for a bad login, SqlError(4060) for a database that cannot be opened."""
        ...
