"""Numeric constants of MS-TDS (TEST FIXTURE: part of the SQL Server emulator).

Section numbers refer to [MS-TDS] (Tabular Data Stream Protocol), the version current for SQL Server
2022.
"""

from __future__ import annotations

from enum import IntEnum


class PacketType(IntEnum):
    """Packet header Type (2.2.3.1.1)."""

    SQL_BATCH = 1
    PRE_TDS7_LOGIN = 2
    RPC = 3
    TABULAR_RESULT = 4
    ATTENTION = 6
    BULK_LOAD = 7
    FEDAUTH_TOKEN = 8
    TRANSACTION_MANAGER = 14
    LOGIN7 = 16
    SSPI = 17
    PRELOGIN = 18


# Packet header Status bits (2.2.3.1.2).
STATUS_NORMAL = 0x00
STATUS_EOM = 0x01
STATUS_IGNORE = 0x02
STATUS_RESETCONNECTION = 0x08
STATUS_RESETCONNECTIONSKIPTRAN = 0x10

HEADER_SIZE = 8
DEFAULT_PACKET_SIZE = 4096
MIN_PACKET_SIZE = 512
MAX_PACKET_SIZE = 32767

# TDS versions as they appear (little-endian DWORD) in LOGIN7 and (big-endian) in LOGINACK (2.2.6.4).
TDS72 = 0x72090002
TDS73A = 0x730A0003
TDS73B = 0x730B0003
TDS74 = 0x74000004
MIN_SUPPORTED_TDS = TDS72
MAX_SUPPORTED_TDS = TDS74

# The product version the emulator claims: SQL Server 2022 RTM, 16.0.1000.6.
SERVER_VERSION = (16, 0, 1000, 6)
SERVER_PROGRAM_NAME = "Microsoft SQL Server"


class Token(IntEnum):
    """Token types of the tabular result stream (2.2.7)."""

    ALTMETADATA = 0x88
    ALTROW = 0xD3
    COLINFO = 0xA5
    COLMETADATA = 0x81
    DONE = 0xFD
    DONEPROC = 0xFE
    DONEINPROC = 0xFF
    ENVCHANGE = 0xE3
    ERROR = 0xAA
    FEATUREEXTACK = 0xAE
    INFO = 0xAB
    LOGINACK = 0xAD
    NBCROW = 0xD2
    ORDER = 0xA9
    RETURNSTATUS = 0x79
    RETURNVALUE = 0xAC
    ROW = 0xD1
    SSPI = 0xED
    TABNAME = 0xA4


# DONE / DONEPROC / DONEINPROC Status bits (2.2.7.6).
DONE_FINAL = 0x00
DONE_MORE = 0x01
DONE_ERROR = 0x02
DONE_INXACT = 0x04
DONE_COUNT = 0x10
DONE_ATTN = 0x20
DONE_SRVERROR = 0x100

# CurCmd values SQL Server puts in DONE tokens (application-defined per 2.2.7.6; these are the ones
# SQL Server uses and clients such as FreeTDS print).
CMD_NONE = 0x00
CMD_SELECT = 0xC1
CMD_EXECUTE = 0xE0


class EnvChangeType(IntEnum):
    """ENVCHANGE Type (2.2.7.9)."""

    DATABASE = 1
    LANGUAGE = 2
    CHARSET = 3
    PACKET_SIZE = 4
    SQL_COLLATION = 7
    BEGIN_TRANSACTION = 8
    COMMIT_TRANSACTION = 9
    ROLLBACK_TRANSACTION = 10
    TRANSACTION_ENDED = 17
    RESET_CONNECTION_ACK = 18


class PreloginOption(IntEnum):
    """PRELOGIN option tokens (2.2.6.5)."""

    VERSION = 0x00
    ENCRYPTION = 0x01
    INSTOPT = 0x02
    THREADID = 0x03
    MARS = 0x04
    TRACEID = 0x05
    FEDAUTHREQUIRED = 0x06
    NONCEOPT = 0x07
    TERMINATOR = 0xFF


ENCRYPT_OFF = 0x00
ENCRYPT_ON = 0x01
ENCRYPT_NOT_SUP = 0x02
ENCRYPT_REQ = 0x03


class FeatureId(IntEnum):
    """LOGIN7 FeatureExt / FEATUREEXTACK feature ids (2.2.6.4, 2.2.7.11)."""

    SESSIONRECOVERY = 0x01
    FEDAUTH = 0x02
    COLUMNENCRYPTION = 0x04
    GLOBALTRANSACTIONS = 0x05
    AZURESQLSUPPORT = 0x08
    DATACLASSIFICATION = 0x09
    UTF8_SUPPORT = 0x0A
    AZURESQLDNSCACHING = 0x0B
    TERMINATOR = 0xFF


class ProcId(IntEnum):
    """Well-known procedure ids of RPC requests (ProcIDSwitch = 0xFFFF, 2.2.6.6)."""

    SP_CURSOR = 1
    SP_CURSOROPEN = 2
    SP_CURSORPREPARE = 3
    SP_CURSOREXECUTE = 4
    SP_CURSORPREPEXEC = 5
    SP_CURSORUNPREPARE = 6
    SP_CURSORFETCH = 7
    SP_CURSOROPTION = 8
    SP_CURSORCLOSE = 9
    SP_EXECUTESQL = 10
    SP_PREPARE = 11
    SP_EXECUTE = 12
    SP_PREPEXEC = 13
    SP_PREPEXECRPC = 14
    SP_UNPREPARE = 15


# RPC parameter StatusFlags (2.2.6.6).
PARAM_BYREF = 0x01
PARAM_DEFAULT = 0x02
PARAM_ENCRYPTED = 0x08

# RETURNVALUE Status (2.2.7.19).
RETVAL_OUTPUT = 0x01
RETVAL_UDF = 0x02

# RPC batch separators (2.2.6.6): 0xFF in TDS 7.2+, 0x80 before; 0xFE = NoExecFlag.
RPC_BATCH_FLAG = 0xFF
RPC_BATCH_FLAG_OLD = 0x80
RPC_NOEXEC_FLAG = 0xFE


class DataType(IntEnum):
    """TYPE_INFO type ids (2.2.5.4)."""

    # fixed-length (2.2.5.4.1)
    NULL = 0x1F
    INT1 = 0x30
    BIT = 0x32
    INT2 = 0x34
    INT4 = 0x38
    DATETIM4 = 0x3A
    FLT4 = 0x3B
    MONEY = 0x3C
    DATETIME = 0x3D
    FLT8 = 0x3E
    MONEY4 = 0x7A
    INT8 = 0x7F
    # variable-length, BYTELEN (2.2.5.4.2)
    GUID = 0x24
    INTN = 0x26
    DECIMAL = 0x37  # legacy
    NUMERIC = 0x3F  # legacy
    BITN = 0x68
    DECIMALN = 0x6A
    NUMERICN = 0x6C
    FLTN = 0x6D
    MONEYN = 0x6E
    DATETIMN = 0x6F
    DATEN = 0x28
    TIMEN = 0x29
    DATETIME2N = 0x2A
    DATETIMEOFFSETN = 0x2B
    CHAR = 0x2F  # legacy
    VARCHAR = 0x27  # legacy
    BINARY = 0x2D  # legacy
    VARBINARY = 0x25  # legacy
    # variable-length, USHORTLEN
    BIGVARBIN = 0xA5
    BIGVARCHR = 0xA7
    BIGBINARY = 0xAD
    BIGCHAR = 0xAF
    NVARCHAR = 0xE7
    NCHAR = 0xEF
    # variable-length, LONGLEN
    IMAGE = 0x22
    TEXT = 0x23
    NTEXT = 0x63
    SSVARIANT = 0x62
    XML = 0xF1
    UDT = 0xF0
    TVP = 0xF3


USHORT_MAX_LEN = 0xFFFF  # MaxLength of a (n)varchar(max) / varbinary(max): values are PLP
PLP_NULL = 0xFFFFFFFFFFFFFFFF
PLP_UNKNOWN_LEN = 0xFFFFFFFFFFFFFFFE
CHARBIN_NULL = 0xFFFF
