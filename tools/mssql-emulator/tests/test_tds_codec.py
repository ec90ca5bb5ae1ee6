"""Unit tests of the emulator's TDS codec (no server, no network). TEST FIXTURE tests."""

from __future__ import annotations

import asyncio
import datetime as dt
import struct
import sys
import uuid
from decimal import Decimal
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mssql_emulator.api import Column, Done, Message, ResultSet, SqlError, SqlType, StatementError  # noqa: E402
from mssql_emulator.tds import tokens  # noqa: E402
from mssql_emulator.tds.buffer import Reader  # noqa: E402
from mssql_emulator.tds.collation import SERVER_COLLATION, codec_of  # noqa: E402
from mssql_emulator.tds.constants import (  # noqa: E402
    DONE_COUNT, DONE_ERROR, DONE_MORE, ENCRYPT_NOT_SUP, PreloginOption, Token,
)
from mssql_emulator.tds.datatypes import column_codec, read_type_info, read_value  # noqa: E402
from mssql_emulator.tds.declarations import bind, convert, parse_declarations  # noqa: E402
from mssql_emulator.tds.login import deobfuscate_password, parse_login7  # noqa: E402
from mssql_emulator.tds.packets import PacketWriter  # noqa: E402
from mssql_emulator.tds.prelogin import build_prelogin_response, parse_prelogin  # noqa: E402
from mssql_emulator.tds.requests import parse_rpc, parse_sql_batch  # noqa: E402
from mssql_emulator.tds.response import ResponseStream, stream_items  # noqa: E402


def obfuscate(pw: str) -> bytes:
    return bytes((((b << 4) & 0xF0) | (b >> 4)) ^ 0xA5 for b in pw.encode("utf-16-le"))


def build_login7(user: str, password: str, database: str, version: int = 0x74000004) -> bytes:
    fields = ["host", user, password, "app", "server", "", "lib", "", database]
    fixed = 94
    data = bytearray()
    table = bytearray()
    for i, value in enumerate(fields):
        raw = obfuscate(value) if i == 2 else value.encode("utf-16-le")
        table += struct.pack("<HH", fixed + len(data), len(value))
        data += raw
    table += b"\x00" * 6  # ClientID
    table += struct.pack("<HH", fixed + len(data), 0)  # SSPI
    table += struct.pack("<HH", fixed + len(data), 0)  # AtchDBFile
    table += struct.pack("<HH", fixed + len(data), 0)  # ChangePassword
    table += struct.pack("<I", 0)  # cbSSPILong
    head = struct.pack("<IIIIIIBBBBiI", fixed + len(data), version, 8192, 7, 1234, 0, 0xE0, 0x03, 0, 0, 0, 0x409)
    assert len(head) + len(table) == fixed
    return head + table + data


def test_password_deobfuscation():
    assert deobfuscate_password(obfuscate("Pässwörd_1")) == "Pässwörd_1"


def test_login7_fields():
    login = parse_login7(build_login7("wire", "secret€", "fakedb"))
    assert (login.username, login.password, login.database, login.app_name) == ("wire", "secret€", "fakedb", "app")
    assert login.tds_version == 0x74000004 and login.packet_size == 8192
    assert not login.integrated_security


def test_prelogin_response_refuses_encryption():
    resp = parse_prelogin(build_prelogin_response({PreloginOption.ENCRYPTION: b"\x00"}))
    assert resp[PreloginOption.ENCRYPTION] == bytes([ENCRYPT_NOT_SUP])
    assert resp[PreloginOption.VERSION][:2] == bytes([16, 0])
    assert resp[PreloginOption.MARS] == b"\x00"


def test_collation_is_latin1_general_100_ci_as_sc_utf8():
    assert SERVER_COLLATION == bytes.fromhex("0904d02400")
    assert codec_of(SERVER_COLLATION) == "utf-8"
    assert codec_of(bytes.fromhex("0904d00034")) == "cp1252"  # SQL_Latin1_General_CP1_CI_AS


ROUND_TRIP = [
    (SqlType("bit"), True), (SqlType("tinyint"), 200), (SqlType("smallint"), -2), (SqlType("int"), -(2**31)),
    (SqlType("bigint"), 2**63 - 1), (SqlType("real"), 0.5), (SqlType("float"), 1e308),
    (SqlType("decimal", precision=38, scale=10), Decimal("-1234567890123456789012345678.0123456789")),
    (SqlType("numeric", precision=5, scale=2), Decimal("123.45")),
    (SqlType("money"), Decimal("-922337203685477.5808")), (SqlType("smallmoney"), Decimal("-214748.3648")),
    (SqlType("char", length=3), "abc"), (SqlType("varchar", length=20), "Grüße 世界"),
    (SqlType("nchar", length=2), "äö"), (SqlType("nvarchar", length=10), "𝄞 x"),
    (SqlType("varchar", length=-1), "v" * 70000), (SqlType("nvarchar", length=-1), "€" * 5000),
    (SqlType("binary", length=2), b"\x00\x01"), (SqlType("varbinary", length=-1), b"\xff" * 9000),
    (SqlType("date"), dt.date(1, 1, 1)), (SqlType("date"), dt.date(9999, 12, 31)),
    (SqlType("time", scale=7), dt.time(23, 59, 59, 999999)), (SqlType("time", scale=0), dt.time(12, 0, 1)),
    (SqlType("datetime2", scale=3), dt.datetime(2024, 2, 29, 1, 2, 3, 4000)),
    (SqlType("datetimeoffset", scale=7),
     dt.datetime(2024, 1, 1, 0, 30, tzinfo=dt.timezone(dt.timedelta(hours=-8)))),
    (SqlType("smalldatetime"), dt.datetime(2000, 1, 1, 12, 31)),
    (SqlType("datetime"), dt.datetime(2000, 1, 1, 12, 31, 5, 0)),
    (SqlType("uniqueidentifier"), uuid.UUID("6F9619FF-8B86-D011-B42D-00C04FC964FF")),
]


@pytest.mark.parametrize("sql_type,value", ROUND_TRIP, ids=lambda x: str(x)[:40])
def test_value_round_trip(sql_type, value):
    codec = column_codec(sql_type, nullable=True)
    r = Reader(codec.type_info + codec.encode(value) + codec.null)
    ti = read_type_info(r)
    assert read_value(r, ti) == value
    assert read_value(r, ti) is None
    assert r.at_end()
    assert ti.sql_type().name == {"float": "float"}.get(sql_type.name, sql_type.name)


def test_not_null_fixed_types_and_nullable_variants():
    assert column_codec(SqlType("int"), nullable=False).type_info == bytes([0x38])
    assert column_codec(SqlType("int"), nullable=True).type_info == bytes([0x26, 4])
    assert column_codec(SqlType("datetime"), nullable=False).type_info == bytes([0x3D])
    assert column_codec(SqlType("nvarchar", length=-1)).type_info == bytes([0xE7, 0xFF, 0xFF]) + SERVER_COLLATION
    assert column_codec(SqlType("decimal", precision=18, scale=2)).type_info == bytes([0x6A, 9, 18, 2])
    assert column_codec(SqlType("datetime2", scale=3)).type_info == bytes([0x2A, 3])


def test_datetime_encoding_uses_1_300_second_ticks():
    codec = column_codec(SqlType("datetime"), nullable=False)
    days, ticks = struct.unpack("<iI", codec.encode(dt.datetime(1900, 1, 2, 0, 0, 1)))
    assert (days, ticks) == (1, 300)


def test_datetime2_rounding_carries_into_the_next_day():
    codec = column_codec(SqlType("datetime2", scale=0))
    r = Reader(codec.type_info + codec.encode(dt.datetime(2024, 1, 1, 23, 59, 59, 600000)))
    assert read_value(r, read_type_info(r)) == dt.datetime(2024, 1, 2)


def test_nbcrow_and_row():
    cols = [column_codec(SqlType("int")), column_codec(SqlType("nvarchar", length=5))]
    assert tokens.row([None, "a"], cols, nbc=True) == bytes([Token.NBCROW, 0b01]) + b"\x02\x00a\x00"
    assert tokens.row([1, None], cols, nbc=False) == bytes([Token.ROW, 4, 1, 0, 0, 0, 0xFF, 0xFF])


class _Sink:
    def __init__(self) -> None:
        self.data = bytearray()

    def write(self, b: bytes) -> None:
        self.data += b

    async def drain(self) -> None:
        pass


def _done_tokens(payload: bytes) -> list[tuple[int, int, int]]:
    """(token, status, count) of every DONE-family token in a token stream of the shapes tests use."""
    out, i = [], 0
    while i < len(payload):
        t = payload[i]
        if t in (Token.DONE, Token.DONEPROC, Token.DONEINPROC):
            _, status, _, count = struct.unpack_from("<BHHQ", payload, i)
            out.append((t, status, count))
            i += 13
        elif t in (Token.ERROR, Token.INFO, Token.ENVCHANGE, Token.LOGINACK):
            (n,) = struct.unpack_from("<H", payload, i + 1)
            i += 3 + n
        else:
            raise AssertionError(f"unexpected token 0x{t:02x}")
    return out


def test_done_more_on_every_done_but_the_last():
    async def items():
        yield Done(3)
        yield Message(0, "hi")
        yield StatementError(SqlError(2627, "dup"))
        yield Done(None)
        yield Done(None)

    sink = _Sink()
    stream = ResponseStream(PacketWriter(sink, 4096, 51), "srv", nbcrow=True)  # type: ignore[arg-type]
    asyncio.run(stream_items(stream, items(), in_proc=False, capture_status=False))
    stream.finish()
    asyncio.run(stream.out.end_message())
    dones = _done_tokens(bytes(sink.data[8:]))
    assert dones == [(Token.DONE, DONE_COUNT | DONE_MORE, 3), (Token.DONE, DONE_ERROR | DONE_MORE, 0),
                     (Token.DONE, 0, 0)]


def test_packet_writer_splits_and_marks_only_the_last_packet_eom():
    sink = _Sink()
    w = PacketWriter(sink, 512, 51)  # type: ignore[arg-type]
    w.append(b"x" * 2000)
    asyncio.run(w.flush_full())
    asyncio.run(w.end_message())
    packets, i = [], 0
    while i < len(sink.data):
        ptype, status, length, spid, pid, _ = struct.unpack_from(">BBHHBB", sink.data, i)
        packets.append((status, length, spid, pid))
        i += length
    assert [p[0] for p in packets] == [0, 0, 0, 1]
    assert all(p[1] <= 512 for p in packets) and sum(p[1] - 8 for p in packets) == 2000
    assert [p[3] for p in packets] == [1, 2, 3, 4] and packets[0][2] == 51


def _all_headers() -> bytes:
    return struct.pack("<IIHQI", 22, 18, 2, 0, 1)


def test_sql_batch_and_rpc_parsing():
    assert parse_sql_batch(_all_headers() + "SELECT 1".encode("utf-16-le")).text == "SELECT 1"

    def nvarchar_param(name: str, value: str) -> bytes:
        raw = value.encode("utf-16-le")
        n = name.encode("utf-16-le")
        return (bytes([len(name)]) + n + b"\x00" + bytes([0xE7]) + struct.pack("<H", 8000)
                + SERVER_COLLATION + struct.pack("<H", len(raw)) + raw)

    payload = (_all_headers() + struct.pack("<HHH", 0xFFFF, 10, 0) + nvarchar_param("", "SELECT @a")
               + nvarchar_param("", "@a int") + bytes([2]) + "@a".encode("utf-16-le") + b"\x01"
               + bytes([0x26, 4, 4]) + struct.pack("<i", 7))
    req = parse_rpc(payload)
    call = req.calls[0]
    assert call.proc_id == 10 and [p.value for p in call.params] == ["SELECT @a", "@a int", 7]
    assert call.params[2].byref and call.params[2].name == "@a"


def test_parameter_declarations():
    decls = parse_declarations("@a int, @b nvarchar(max) OUTPUT, @c decimal(10, 2) = 1.5, "
                               "@d varchar, @e datetime2(3) out, @f sysname")
    assert [(d.name, d.type, d.output) for d in decls] == [
        ("@a", SqlType("int"), False), ("@b", SqlType("nvarchar", length=-1), True),
        ("@c", SqlType("decimal", precision=10, scale=2), False), ("@d", SqlType("varchar", length=1), False),
        ("@e", SqlType("datetime2", scale=3), True), ("@f", SqlType("nvarchar", length=128), False)]
    assert decls[2].default == Decimal("1.5")
    with pytest.raises(SqlError) as ei:
        parse_declarations("@a int int")
    assert ei.value.number == 102
    with pytest.raises(SqlError) as ei:
        parse_declarations("@a nosuchtype")
    assert ei.value.number == 2715


def test_binding_errors_and_conversions():
    from mssql_emulator.tds.datatypes import TypeInfo
    from mssql_emulator.tds.requests import RpcParam
    decls = parse_declarations("@a int, @b int")
    sent = [RpcParam("@a", 0, TypeInfo(0x26, 4), 1)]
    with pytest.raises(SqlError) as ei:
        bind(decls, sent, "SELECT 1", "@a int, @b int")
    assert ei.value.number == 8178
    with pytest.raises(SqlError) as ei:
        bind(decls[:1], sent + [RpcParam("", 0, TypeInfo(0x26, 4), 2)], "S", "@a int")
    assert ei.value.number == 8144
    assert convert("42", SqlType("nvarchar"), SqlType("int")) == 42
    with pytest.raises(SqlError) as ei:
        convert("x", SqlType("nvarchar"), SqlType("int"))
    assert ei.value.number == 8114
