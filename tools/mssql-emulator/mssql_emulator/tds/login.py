"""LOGIN7 (MS-TDS 2.2.6.4) — TEST FIXTURE: part of the SQL Server emulator.

Decodes the fixed part, the offset/length table of variable fields, the obfuscated password and the
TDS 7.4 FeatureExt block.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from mssql_emulator.tds.constants import FeatureId
from mssql_emulator.tds.errors import ProtocolError

# OptionFlags2 / OptionFlags3 / TypeFlags bits used here.
OPT2_INT_SECURITY = 0x80  # fIntSecurity: integrated (SSPI) authentication
OPT3_EXTENSION = 0x10  # fExtension: ibExtension points to FeatureExt
OPT3_CHANGE_PASSWORD = 0x01
TYPE_READONLY_INTENT = 0x20

_FIXED = struct.Struct("<IIIIIIBBBBiI")  # Length .. ClientLCID: 36 bytes


@dataclass
class Login7:
    tds_version: int
    packet_size: int
    client_prog_ver: int
    client_pid: int
    connection_id: int
    option_flags1: int
    option_flags2: int
    type_flags: int
    option_flags3: int
    client_timezone: int
    client_lcid: int
    hostname: str = ""
    username: str = ""
    password: str = ""
    app_name: str = ""
    server_name: str = ""
    library: str = ""
    language: str = ""
    database: str = ""
    client_id: bytes = b""
    sspi: bytes = b""
    attach_db_file: str = ""
    change_password: str = ""
    features: dict[int, bytes] = field(default_factory=dict)

    @property
    def integrated_security(self) -> bool:
        return bool(self.option_flags2 & OPT2_INT_SECURITY)


def deobfuscate_password(raw: bytes) -> str:
    """2.2.6.4: the client swapped the nibbles of every byte and XORed it with 0xA5; undo both."""
    out = bytearray()
    for b in raw:
        b ^= 0xA5
        out.append(((b & 0x0F) << 4) | (b >> 4))
    return out.decode("utf-16-le", "surrogatepass")


def parse_login7(payload: bytes) -> Login7:
    if len(payload) < 94:
        raise ProtocolError(f"LOGIN7 message of {len(payload)} bytes is shorter than its fixed part")
    (length, version, packet_size, prog_ver, pid, conn_id,
     of1, of2, tf, of3, tz, lcid) = _FIXED.unpack_from(payload, 0)
    if length > len(payload):
        raise ProtocolError(f"LOGIN7 Length {length} exceeds the message ({len(payload)} bytes)")

    def span(pos: int) -> tuple[int, int]:
        return struct.unpack_from("<HH", payload, pos)

    def text(pos: int, *, password: bool = False) -> str:
        off, cch = span(pos)
        if cch == 0:
            return ""
        raw = payload[off:off + 2 * cch]
        if len(raw) != 2 * cch:
            raise ProtocolError("LOGIN7 variable field points outside the message")
        return deobfuscate_password(raw) if password else raw.decode("utf-16-le", "surrogatepass")

    login = Login7(version, packet_size, prog_ver, pid, conn_id, of1, of2, tf, of3, tz, lcid)
    login.hostname = text(36)
    login.username = text(40)
    login.password = text(44, password=True)
    login.app_name = text(48)
    login.server_name = text(52)
    ext_off, ext_len = span(56)  # ibExtension/cbExtension (7.4) or unused
    login.library = text(60)
    login.language = text(64)
    login.database = text(68)
    login.client_id = payload[72:78]
    sspi_off, sspi_len = span(78)
    login.sspi = payload[sspi_off:sspi_off + sspi_len]
    login.attach_db_file = text(82)
    login.change_password = text(86, password=True)
    if of3 & OPT3_EXTENSION and ext_len >= 4:
        (feat_off,) = struct.unpack_from("<I", payload, ext_off)
        login.features = _parse_feature_ext(payload, feat_off)
    return login


def _parse_feature_ext(payload: bytes, pos: int) -> dict[int, bytes]:
    """FeatureExt: (FeatureId BYTE, FeatureDataLen DWORD, data) entries, terminated by 0xFF."""
    features: dict[int, bytes] = {}
    while pos < len(payload):
        fid = payload[pos]
        if fid == FeatureId.TERMINATOR:
            return features
        if pos + 5 > len(payload):
            break
        (n,) = struct.unpack_from("<I", payload, pos + 1)
        features[fid] = payload[pos + 5:pos + 5 + n]
        pos += 5 + n
    raise ProtocolError("LOGIN7 FeatureExt block has no terminator")
