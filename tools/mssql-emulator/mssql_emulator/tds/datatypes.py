"""TYPE_INFO and data values (MS-TDS 2.2.5.4 data type definitions, 2.2.5.5 data type values).

TEST FIXTURE: part of the SQL Server emulator.

Results: :func:`column_codec` turns an :class:`~mssql_emulator.api.SqlType` into the TYPE_INFO SQL
Server would send and a value encoder. Like SQL Server, a NOT NULL column of a fixed-size type uses
the fixed-length type id (INT4TYPE, FLT8TYPE, ...); a nullable one uses the nullable variant
(INTNTYPE with length 4, ...). (n)varchar(max) and varbinary(max) values are sent as PLP
(2.2.5.2.3).

Parameters: :func:`read_type_info` and :func:`read_value` decode what a client sends in an RPC,
including the legacy types (TEXT, NTEXT, IMAGE, VARCHAR, ...) older client code paths use.
"""

from __future__ import annotations

import datetime as dt
import struct
import uuid
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Context, Decimal, InvalidOperation
from typing import Any, Callable

from mssql_emulator.api import SqlType
from mssql_emulator.tds.buffer import Reader
from mssql_emulator.tds.collation import SERVER_COLLATION, codec_of
from mssql_emulator.tds.constants import (
    CHARBIN_NULL, PLP_NULL, PLP_UNKNOWN_LEN, USHORT_MAX_LEN, DataType as T,
)
from mssql_emulator.tds.errors import ProtocolError


class ValueEncodingError(Exception):
    """An engine value does not fit the column's declared type (an engine bug, reported as an
    error to the client rather than sent as a corrupt stream)."""


EPOCH_1900 = dt.date(1900, 1, 1)
DATE_ZERO = dt.date(1, 1, 1)
PLP_CHUNK = 1 << 20
# decimal(38) values need more than the default 28 significant digits of Python's context.
_CTX = Context(prec=80)

# --------------------------------------------------------------------------------------------------
# Encoding (results, RETURNVALUE)
# --------------------------------------------------------------------------------------------------

Encoder = Callable[[Any], bytes]


@dataclass(frozen=True)
class ColumnCodec:
    """type_info: the TYPE_INFO bytes; encode(value): the value with its length prefix as it
    appears in ROW/NBCROW/RETURNVALUE; null: the NULL encoding in ROW (None for fixed-length types,
    which cannot be NULL)."""

    sql_type: SqlType
    type_info: bytes
    encode: Encoder
    null: bytes | None


def _normalize_name(name: str) -> str:
    n = name.lower().strip()
    return {"sysname": "nvarchar", "integer": "int", "dec": "decimal", "double precision": "float",
            "character": "char", "rowversion": "binary", "timestamp": "binary"}.get(n, n)


def _fixed_int(fmt: str, lo: int, hi: int, name: str) -> Encoder:
    s = struct.Struct("<" + fmt)

    def enc(v: Any) -> bytes:
        iv = int(v)
        if not lo <= iv <= hi:
            raise ValueEncodingError(f"value {v!r} out of range for {name}")
        return s.pack(iv)
    return enc


def _with_len(inner: Encoder) -> Encoder:
    def enc(v: Any) -> bytes:
        b = inner(v)
        return bytes([len(b)]) + b
    return enc


def _bit(v: Any) -> bytes:
    return b"\x01" if v else b"\x00"


def _real(v: Any) -> bytes:
    return struct.pack("<f", float(v))


def _float(v: Any) -> bytes:
    return struct.pack("<d", float(v))


def _money_units(v: Any) -> int:
    try:
        return int(Decimal(v).scaleb(4, _CTX).to_integral_value(ROUND_HALF_UP, _CTX))
    except (InvalidOperation, ValueError, TypeError) as e:
        raise ValueEncodingError(f"value {v!r} is not a money value") from e


def _money(v: Any) -> bytes:
    u = _money_units(v)
    if not -(2**63) <= u < 2**63:
        raise ValueEncodingError(f"value {v!r} out of range for money")
    return struct.pack("<iI", u >> 32, u & 0xFFFFFFFF)  # 2.2.5.5.1.4: high DWORD first


def _smallmoney(v: Any) -> bytes:
    u = _money_units(v)
    if not -(2**31) <= u < 2**31:
        raise ValueEncodingError(f"value {v!r} out of range for smallmoney")
    return struct.pack("<i", u)


def _as_datetime(v: Any, name: str) -> dt.datetime:
    if isinstance(v, dt.datetime):
        return v
    if isinstance(v, dt.date):
        return dt.datetime(v.year, v.month, v.day)
    raise ValueEncodingError(f"value {v!r} is not a {name}")


def _datetime(v: Any) -> bytes:
    """2.2.5.5.1.8: days since 1900-01-01 (signed), then 1/300 s ticks since midnight."""
    d = _as_datetime(v, "datetime")
    days = (d.date() - EPOCH_1900).days
    micros = ((d.hour * 60 + d.minute) * 60 + d.second) * 1_000_000 + d.microsecond
    ticks = (micros * 300 + 500_000) // 1_000_000
    if ticks >= 300 * 86400:
        days, ticks = days + 1, 0
    if d.year < 1753:
        raise ValueEncodingError(f"value {v!r} out of range for datetime (1753-9999)")
    return struct.pack("<iI", days, ticks)


def _smalldatetime(v: Any) -> bytes:
    """2.2.5.5.1.8: days since 1900-01-01 (USHORT), minutes since midnight (USHORT)."""
    d = _as_datetime(v, "smalldatetime")
    days = (d.date() - EPOCH_1900).days
    minutes = d.hour * 60 + d.minute + (1 if d.second * 1_000_000 + d.microsecond >= 29_999_000 else 0)
    if minutes >= 1440:
        days, minutes = days + 1, 0
    if not 0 <= days <= 0xFFFF:
        raise ValueEncodingError(f"value {v!r} out of range for smalldatetime (1900-2079)")
    return struct.pack("<HH", days, minutes)


def _time_len(scale: int) -> int:
    return 3 if scale <= 2 else 4 if scale <= 4 else 5


def _time_units(t: dt.time | dt.datetime, scale: int) -> int:
    micros = ((t.hour * 60 + t.minute) * 60 + t.second) * 1_000_000 + t.microsecond
    if scale >= 6:
        return micros * 10 ** (scale - 6)
    div = 10 ** (6 - scale)
    return (micros + div // 2) // div  # round half up, as SQL Server does on conversion


def _date_bytes(d: dt.date) -> bytes:
    return ((d - DATE_ZERO).days).to_bytes(3, "little")


def _date(v: Any) -> bytes:
    if isinstance(v, dt.datetime):
        v = v.date()
    if not isinstance(v, dt.date):
        raise ValueEncodingError(f"value {v!r} is not a date")
    return _date_bytes(v)


def _time(scale: int) -> Encoder:
    n = _time_len(scale)

    def enc(v: Any) -> bytes:
        if not isinstance(v, (dt.time, dt.datetime)):
            raise ValueEncodingError(f"value {v!r} is not a time")
        units = _time_units(v, scale)
        units %= 86400 * 10 ** scale  # 23:59:59.9999995 rounds to midnight
        return units.to_bytes(n, "little")
    return enc


def _datetime2(scale: int) -> Encoder:
    n = _time_len(scale)

    def enc(v: Any) -> bytes:
        d = _as_datetime(v, "datetime2")
        units = _time_units(d, scale)
        day = d.date()
        if units >= 86400 * 10 ** scale:
            units -= 86400 * 10 ** scale
            day += dt.timedelta(days=1)
        return units.to_bytes(n, "little") + _date_bytes(day)
    return enc


def _datetimeoffset(scale: int) -> Encoder:
    """2.2.5.5.1.11: time and date of the UTC instant, then the offset in minutes (SHORT)."""
    inner = _datetime2(scale)

    def enc(v: Any) -> bytes:
        if not isinstance(v, dt.datetime) or v.tzinfo is None or v.utcoffset() is None:
            raise ValueEncodingError(f"value {v!r} is not an aware datetime (datetimeoffset)")
        off = v.utcoffset()
        minutes = int(off.total_seconds()) // 60
        utc = (v - off).replace(tzinfo=None)
        return inner(utc) + struct.pack("<h", minutes)
    return enc


def _decimal_size(precision: int) -> int:
    """Value bytes (sign byte included) for a precision, 2.2.5.5.1.6."""
    return 5 if precision <= 9 else 9 if precision <= 19 else 13 if precision <= 28 else 17


def _decimal(precision: int, scale: int) -> Encoder:
    size = _decimal_size(precision)

    def enc(v: Any) -> bytes:
        try:
            d = Decimal(v)
            unscaled = int(d.scaleb(scale, _CTX).to_integral_value(ROUND_HALF_UP, _CTX))
        except (InvalidOperation, ValueError, TypeError) as e:
            raise ValueEncodingError(f"value {v!r} is not a decimal") from e
        if abs(unscaled) >= 10 ** precision:
            raise ValueEncodingError(f"value {v!r} overflows decimal({precision},{scale})")
        sign = 0 if unscaled < 0 else 1
        return bytes([size, sign]) + abs(unscaled).to_bytes(size - 1, "little")
    return enc


def _guid(v: Any) -> bytes:
    if isinstance(v, str):
        v = uuid.UUID(v)
    if not isinstance(v, uuid.UUID):
        raise ValueEncodingError(f"value {v!r} is not a uniqueidentifier")
    return b"\x10" + v.bytes_le


def _text_encoder(name: str, max_bytes: int | None, codec: str) -> Encoder:
    """char/varchar/nchar/nvarchar/binary/varbinary with a USHORT length, or PLP when max_bytes is None."""
    def to_bytes(v: Any) -> bytes:
        if codec == "binary":
            if isinstance(v, (bytes, bytearray, memoryview)):
                return bytes(v)
            raise ValueEncodingError(f"value of type {type(v).__name__} is not {name}")
        if not isinstance(v, str):
            raise ValueEncodingError(f"value of type {type(v).__name__} is not {name}")
        return v.encode(codec, "surrogatepass")

    if max_bytes is None:
        def plp(v: Any) -> bytes:
            b = to_bytes(v)
            out = [struct.pack("<Q", len(b))]
            for i in range(0, len(b), PLP_CHUNK):
                chunk = b[i:i + PLP_CHUNK]
                out.append(struct.pack("<I", len(chunk)))
                out.append(chunk)
            out.append(b"\x00\x00\x00\x00")
            return b"".join(out)
        return plp

    def short(v: Any) -> bytes:
        b = to_bytes(v)
        if len(b) > max_bytes:
            raise ValueEncodingError(f"{name} value of {len(b)} bytes exceeds the column's "
                                     f"maximum of {max_bytes} bytes")
        return struct.pack("<H", len(b)) + b
    return short


def column_codec(t: SqlType, nullable: bool = True) -> ColumnCodec:
    """TYPE_INFO + encoder for one column / return value of type ``t``."""
    name = _normalize_name(t.name)
    fixed: dict[str, tuple[int, int, int, Encoder]] = {
        # name: (fixed type id, nullable type id, length, encoder)
        "bit": (T.BIT, T.BITN, 1, _bit),
        "tinyint": (T.INT1, T.INTN, 1, _fixed_int("B", 0, 255, "tinyint")),
        "smallint": (T.INT2, T.INTN, 2, _fixed_int("h", -(2**15), 2**15 - 1, "smallint")),
        "int": (T.INT4, T.INTN, 4, _fixed_int("i", -(2**31), 2**31 - 1, "int")),
        "bigint": (T.INT8, T.INTN, 8, _fixed_int("q", -(2**63), 2**63 - 1, "bigint")),
        "real": (T.FLT4, T.FLTN, 4, _real),
        "float": (T.FLT8, T.FLTN, 8, _float),
        "money": (T.MONEY, T.MONEYN, 8, _money),
        "smallmoney": (T.MONEY4, T.MONEYN, 4, _smallmoney),
        "datetime": (T.DATETIME, T.DATETIMN, 8, _datetime),
        "smalldatetime": (T.DATETIM4, T.DATETIMN, 4, _smalldatetime),
    }
    if name == "float" and t.precision is not None and t.precision <= 24:
        name = "real"
    if name in fixed:
        fixed_id, null_id, length, enc = fixed[name]
        if not nullable:
            return ColumnCodec(t, bytes([fixed_id]), enc, None)
        return ColumnCodec(t, bytes([null_id, length]), _with_len(enc), b"\x00")
    if name in ("decimal", "numeric"):
        p = t.precision if t.precision is not None else 18
        s = t.scale if t.scale is not None else 0
        if not (1 <= p <= 38 and 0 <= s <= p):
            raise ValueEncodingError(f"invalid {name}({p},{s})")
        tid = T.DECIMALN if name == "decimal" else T.NUMERICN
        return ColumnCodec(t, bytes([tid, _decimal_size(p), p, s]), _decimal(p, s), b"\x00")
    if name == "uniqueidentifier":
        return ColumnCodec(t, bytes([T.GUID, 16]), _guid, b"\x00")
    if name == "date":
        return ColumnCodec(t, bytes([T.DATEN]), _with_len(_date), b"\x00")
    if name in ("time", "datetime2", "datetimeoffset"):
        s = 7 if t.scale is None else t.scale
        if not 0 <= s <= 7:
            raise ValueEncodingError(f"invalid {name}({s})")
        tid, enc = {"time": (T.TIMEN, _time(s)), "datetime2": (T.DATETIME2N, _datetime2(s)),
                    "datetimeoffset": (T.DATETIMEOFFSETN, _datetimeoffset(s))}[name]
        return ColumnCodec(t, bytes([tid, s]), _with_len(enc), b"\x00")
    if name == "xml":
        # Untyped xml (2.2.5.5.3): TYPE_INFO is XMLTYPE plus SCHEMA_PRESENT = 0; the value is UTF-16 PLP.
        return ColumnCodec(t, bytes([T.XML, 0]), _text_encoder(name, None, "utf-16-le"), struct.pack("<Q", PLP_NULL))
    strings = {
        # name: (type id, codec, bytes per declared unit, default length, limit, has collation)
        "char": (T.BIGCHAR, "utf-8", 1, 1, 8000, True),
        "varchar": (T.BIGVARCHR, "utf-8", 1, 1, 8000, True),
        "nchar": (T.NCHAR, "utf-16-le", 2, 1, 4000, True),
        "nvarchar": (T.NVARCHAR, "utf-16-le", 2, 1, 4000, True),
        "binary": (T.BIGBINARY, "binary", 1, 1, 8000, False),
        "varbinary": (T.BIGVARBIN, "binary", 1, 1, 8000, False),
    }
    if name in strings:
        tid, codec, unit, default, limit, collated = strings[name]
        length = t.length
        if t.name.lower() == "sysname":
            length = 128
        if length is None:
            length = -1  # an expression of unknown length: send as MAX rather than truncate
        coll = SERVER_COLLATION if collated else b""
        if length == -1:
            if name in ("char", "nchar", "binary"):
                raise ValueEncodingError(f"{name}(max) does not exist")
            ti = bytes([tid]) + struct.pack("<H", USHORT_MAX_LEN) + coll
            return ColumnCodec(t, ti, _text_encoder(name, None, codec), struct.pack("<Q", PLP_NULL))
        if not 1 <= length <= limit:
            raise ValueEncodingError(f"invalid length {length} for {name} (1..{limit} or max)")
        max_bytes = length * unit
        ti = bytes([tid]) + struct.pack("<H", max_bytes) + coll
        return ColumnCodec(t, ti, _text_encoder(name, max_bytes, codec), struct.pack("<H", CHARBIN_NULL))
    raise ValueEncodingError(f"type {t.name!r} is not supported by the emulator's TDS layer")


# --------------------------------------------------------------------------------------------------
# Decoding (RPC parameters)
# --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TypeInfo:
    """A decoded TYPE_INFO. ``size`` is the fixed/maximum length in bytes (USHORT_MAX_LEN for PLP)."""

    type_id: int
    size: int = 0
    precision: int = 0
    scale: int = 0
    collation: bytes = b""

    @property
    def plp(self) -> bool:
        return self.size == USHORT_MAX_LEN and self.type_id in _USHORTLEN

    def sql_type(self) -> SqlType:
        """The SqlType a parameter sent with this TYPE_INFO has (legacy types map to their modern
        equivalents: TEXT → varchar(max), NTEXT → nvarchar(max), IMAGE → varbinary(max))."""
        tid = self.type_id
        if tid in _FIXED_SQL:
            return SqlType(_FIXED_SQL[tid])
        if tid == T.INTN:
            return SqlType({1: "tinyint", 2: "smallint", 4: "int", 8: "bigint"}[self.size])
        if tid == T.BITN:
            return SqlType("bit")
        if tid == T.FLTN:
            return SqlType("real" if self.size == 4 else "float")
        if tid == T.MONEYN:
            return SqlType("smallmoney" if self.size == 4 else "money")
        if tid == T.DATETIMN:
            return SqlType("smalldatetime" if self.size == 4 else "datetime")
        if tid in (T.DECIMALN, T.DECIMAL):
            return SqlType("decimal", precision=self.precision, scale=self.scale)
        if tid in (T.NUMERICN, T.NUMERIC):
            return SqlType("numeric", precision=self.precision, scale=self.scale)
        if tid == T.GUID:
            return SqlType("uniqueidentifier")
        if tid == T.DATEN:
            return SqlType("date")
        if tid == T.TIMEN:
            return SqlType("time", scale=self.scale)
        if tid == T.DATETIME2N:
            return SqlType("datetime2", scale=self.scale)
        if tid == T.DATETIMEOFFSETN:
            return SqlType("datetimeoffset", scale=self.scale)
        if tid in _STRING_NAMES:
            name, unit = _STRING_NAMES[tid]
            if self.plp:
                return SqlType(name, length=-1)
            return SqlType(name, length=max(1, self.size // unit))
        if tid == T.TEXT:
            return SqlType("varchar", length=-1)
        if tid == T.NTEXT:
            return SqlType("nvarchar", length=-1)
        if tid == T.IMAGE:
            return SqlType("varbinary", length=-1)
        if tid == T.NULL:
            return SqlType("int")
        raise ProtocolError(f"TDS data type 0x{tid:02X} has no SQL type")


_FIXED_SIZES = {T.NULL: 0, T.INT1: 1, T.BIT: 1, T.INT2: 2, T.INT4: 4, T.DATETIM4: 4, T.FLT4: 4,
                T.MONEY: 8, T.DATETIME: 8, T.FLT8: 8, T.MONEY4: 4, T.INT8: 8}
_FIXED_SQL = {T.INT1: "tinyint", T.BIT: "bit", T.INT2: "smallint", T.INT4: "int",
              T.DATETIM4: "smalldatetime", T.FLT4: "real", T.MONEY: "money", T.DATETIME: "datetime",
              T.FLT8: "float", T.MONEY4: "smallmoney", T.INT8: "bigint"}
_BYTELEN = {T.GUID, T.INTN, T.BITN, T.FLTN, T.MONEYN, T.DATETIMN, T.CHAR, T.VARCHAR, T.BINARY,
            T.VARBINARY}
_USHORTLEN = {T.BIGVARBIN, T.BIGVARCHR, T.BIGBINARY, T.BIGCHAR, T.NVARCHAR, T.NCHAR}
_STRING_NAMES = {T.BIGVARCHR: ("varchar", 1), T.BIGCHAR: ("char", 1), T.VARCHAR: ("varchar", 1),
                 T.CHAR: ("char", 1), T.NVARCHAR: ("nvarchar", 2), T.NCHAR: ("nchar", 2),
                 T.BIGVARBIN: ("varbinary", 1), T.BIGBINARY: ("binary", 1),
                 T.VARBINARY: ("varbinary", 1), T.BINARY: ("binary", 1)}
_COLLATED = {T.BIGVARCHR, T.BIGCHAR, T.NVARCHAR, T.NCHAR, T.TEXT, T.NTEXT}


def read_type_info(r: Reader) -> TypeInfo:
    """TYPE_INFO as sent in RPC parameters (2.2.5.6)."""
    tid = r.u8()
    if tid in _FIXED_SIZES:
        return TypeInfo(tid, _FIXED_SIZES[tid])
    if tid in (T.DECIMALN, T.NUMERICN, T.DECIMAL, T.NUMERIC):
        size = r.u8()
        return TypeInfo(tid, size, r.u8(), r.u8())
    if tid == T.DATEN:
        return TypeInfo(tid, 3)
    if tid in (T.TIMEN, T.DATETIME2N, T.DATETIMEOFFSETN):
        scale = r.u8()
        if scale > 7:
            raise ProtocolError(f"scale {scale} out of range for data type 0x{tid:02X}")
        return TypeInfo(tid, 0, 0, scale)
    if tid in _BYTELEN:
        return TypeInfo(tid, r.u8())
    if tid in _USHORTLEN:
        size = r.u16()
        coll = r.take(5) if tid in _COLLATED else b""
        return TypeInfo(tid, size, collation=coll)
    if tid in (T.TEXT, T.NTEXT, T.IMAGE):
        size = r.u32()
        coll = r.take(5) if tid in _COLLATED else b""
        return TypeInfo(tid, size, collation=coll)
    if tid in (T.XML, T.UDT, T.SSVARIANT, T.TVP):
        names = {T.XML: "xml", T.UDT: "CLR UDT", T.SSVARIANT: "sql_variant", T.TVP: "table-valued"}
        raise ProtocolError(f"{names[tid]} parameters are not supported by the emulator")
    raise ProtocolError(f"unknown TDS data type 0x{tid:02X} in a parameter")


def _read_plp(r: Reader) -> bytes | None:
    total = r.u64()
    if total == PLP_NULL:
        return None
    parts = []
    while True:
        n = r.u32()
        if n == 0:
            break
        parts.append(r.take(n))
    data = b"".join(parts)
    if total != PLP_UNKNOWN_LEN and total != len(data):
        raise ProtocolError(f"PLP value announced {total} bytes but carried {len(data)}")
    return data


def read_value(r: Reader, ti: TypeInfo) -> Any:
    """One parameter value (TYPE_VARBYTE, 2.2.5.2.3) as its Python representation (api.py)."""
    tid = ti.type_id
    if tid in _FIXED_SIZES:
        return _decode_fixed(tid, r.take(ti.size)) if tid != T.NULL else None
    if tid in _USHORTLEN:
        if ti.plp:
            raw = _read_plp(r)
        else:
            n = r.u16()
            raw = None if n == CHARBIN_NULL else r.take(n)
        return None if raw is None else _decode_bytes(tid, raw, ti.collation)
    if tid in (T.TEXT, T.NTEXT, T.IMAGE):
        n = r.u32()
        if n == 0xFFFFFFFF:
            return None
        return _decode_bytes(tid, r.take(n), ti.collation)
    n = r.u8()
    if n == 0 and tid not in (T.CHAR, T.VARCHAR, T.BINARY, T.VARBINARY):
        return None
    raw = r.take(n)
    if tid in (T.CHAR, T.VARCHAR, T.BINARY, T.VARBINARY):
        return _decode_bytes(tid, raw, ti.collation)
    if tid == T.INTN:
        return int.from_bytes(raw, "little", signed=n != 1)
    if tid == T.BITN:
        return raw != b"\x00"
    if tid == T.FLTN:
        return struct.unpack("<f" if n == 4 else "<d", raw)[0]
    if tid == T.MONEYN:
        return _decode_fixed(T.MONEY4 if n == 4 else T.MONEY, raw)
    if tid == T.DATETIMN:
        return _decode_fixed(T.DATETIM4 if n == 4 else T.DATETIME, raw)
    if tid in (T.DECIMALN, T.NUMERICN, T.DECIMAL, T.NUMERIC):
        mag = int.from_bytes(raw[1:], "little")
        return Decimal(mag if raw[0] == 1 else -mag).scaleb(-ti.scale, _CTX)
    if tid == T.GUID:
        return uuid.UUID(bytes_le=raw)
    if tid == T.DATEN:
        return DATE_ZERO + dt.timedelta(days=int.from_bytes(raw, "little"))
    if tid == T.TIMEN:
        return _decode_time(raw, ti.scale)
    if tid == T.DATETIME2N:
        tl = _time_len(ti.scale)
        t = _decode_time(raw[:tl], ti.scale)
        d = DATE_ZERO + dt.timedelta(days=int.from_bytes(raw[tl:tl + 3], "little"))
        return dt.datetime.combine(d, t)
    if tid == T.DATETIMEOFFSETN:
        tl = _time_len(ti.scale)
        t = _decode_time(raw[:tl], ti.scale)
        d = DATE_ZERO + dt.timedelta(days=int.from_bytes(raw[tl:tl + 3], "little"))
        (minutes,) = struct.unpack("<h", raw[tl + 3:tl + 5])
        tz = dt.timezone(dt.timedelta(minutes=minutes))
        return dt.datetime.combine(d, t, tzinfo=dt.timezone.utc).astimezone(tz)
    raise ProtocolError(f"cannot decode a value of data type 0x{tid:02X}")


def _decode_time(raw: bytes, scale: int) -> dt.time:
    units = int.from_bytes(raw, "little")
    # Python keeps microseconds: scale 7 loses its last digit (documented in api.py).
    micros = units * 10 ** (6 - scale) if scale <= 6 else int(
        Decimal(units).scaleb(6 - scale, _CTX).to_integral_value(ROUND_HALF_EVEN, _CTX))
    micros = min(micros, 86400 * 1_000_000 - 1)
    secs, us = divmod(micros, 1_000_000)
    return dt.time(secs // 3600, secs // 60 % 60, secs % 60, us)


def _decode_fixed(tid: int, raw: bytes) -> Any:
    if tid == T.INT1:
        return raw[0]
    if tid == T.BIT:
        return raw[0] != 0
    if tid == T.INT2:
        return struct.unpack("<h", raw)[0]
    if tid == T.INT4:
        return struct.unpack("<i", raw)[0]
    if tid == T.INT8:
        return struct.unpack("<q", raw)[0]
    if tid == T.FLT4:
        return struct.unpack("<f", raw)[0]
    if tid == T.FLT8:
        return struct.unpack("<d", raw)[0]
    if tid == T.MONEY:
        hi, lo = struct.unpack("<iI", raw)
        return Decimal((hi << 32) | lo).scaleb(-4, _CTX)
    if tid == T.MONEY4:
        return Decimal(struct.unpack("<i", raw)[0]).scaleb(-4, _CTX)
    if tid == T.DATETIME:
        days, ticks = struct.unpack("<iI", raw)
        micros = (ticks * 1_000_000 * 10 // 300 + 5) // 10  # 1/300 s → µs, rounded
        return dt.datetime.combine(EPOCH_1900, dt.time()) + dt.timedelta(days=days, microseconds=micros)
    if tid == T.DATETIM4:
        days, minutes = struct.unpack("<HH", raw)
        return dt.datetime.combine(EPOCH_1900, dt.time()) + dt.timedelta(days=days, minutes=minutes)
    raise ProtocolError(f"cannot decode fixed-length data type 0x{tid:02X}")


def _decode_bytes(tid: int, raw: bytes, collation: bytes) -> str | bytes:
    if tid in (T.NVARCHAR, T.NCHAR, T.NTEXT):
        if len(raw) % 2:
            raise ProtocolError("UCS-2 parameter value with an odd number of bytes")
        return raw.decode("utf-16-le", "surrogatepass")
    if tid in (T.BIGVARCHR, T.BIGCHAR, T.TEXT, T.VARCHAR, T.CHAR):
        return raw.decode(codec_of(collation) if collation else "utf-8", "replace")
    return raw
