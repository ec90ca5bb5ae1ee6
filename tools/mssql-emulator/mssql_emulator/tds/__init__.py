"""The emulator's TDS wire layer (MS-TDS, protocol versions 7.2, 7.3 and 7.4, no TLS).

TEST FIXTURE: part of the SQL Server emulator, test infrastructure for Sluice. It is not a database
server product; deployments use a real SQL Server.

The wire layer decodes TDS messages into calls on the engine's :class:`mssql_emulator.api.Session`
and encodes the items the session yields back into TDS tokens. It knows nothing about SQL beyond the
parameter declaration list of ``sp_executesql``.

Modules, by concern:
    constants   — numeric values of packet types, tokens, data types, status bits (MS-TDS 2.2.x)
    errors      — protocol errors (malformed or unsupported client messages)
    buffer      — a little-endian byte reader used by every decoder
    packets     — packet framing: reading messages, writing size-limited packets (2.2.3)
    prelogin    — PRELOGIN request / response (2.2.6.5)
    login       — LOGIN7 decoding incl. password de-obfuscation and FeatureExt (2.2.6.4)
    collation   — the 5-byte collation the emulator advertises (2.2.5.1.2)
    datatypes   — TYPE_INFO and value encoding (results) and decoding (RPC parameters) (2.2.5)
    tokens      — token encoders: COLMETADATA, ROW/NBCROW, DONE*, ERROR/INFO, ENVCHANGE, ... (2.2.7)
    requests    — SQL batch and RPC request decoding, ALL_HEADERS (2.2.6.6, 2.2.6.7, 2.2.5.3)
    declarations— the ``@params`` declaration list of sp_executesql / sp_prepare
    response    — turns a stream of engine items into a token stream with correct DONE status bits
    connection  — one client connection: login, request loop, ATTENTION
    server      — the asyncio listener
"""

from mssql_emulator.tds.tds_server import TdsServer

__all__ = ["TdsServer"]
