"""The SQL engine of the SQL Server emulator (TEST FIXTURE): T-SQL on Postgres, with CDC."""

from .emulator_server import EmulatorServer

__all__ = ["EmulatorServer"]
