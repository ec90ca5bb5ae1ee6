"""Errors of the TDS wire layer (TEST FIXTURE: part of the SQL Server emulator)."""

from __future__ import annotations


class ProtocolError(Exception):
    """The client sent something that is not valid TDS, or a TDS feature the emulator does not
    implement. The connection is closed after logging the message (a real server does the same for
    malformed input)."""
