"""Wire tests through FreeTDS (tsql, freebcp and db-lib via ctypes) against the TDS layer serving the
fake engine (tests/fake_engine.py). TEST FIXTURE tests.

db-lib is what Sluice's Swift SQL Server client uses, so its RPC path (sp_executesql with typed
parameters, OUTPUT parameters, return status) is exercised here directly through libsybdb.
"""

from __future__ import annotations

import ctypes as C
import ctypes.util
import os
import shutil
import struct
import subprocess

import pytest

from fake_engine import fake_server  # noqa: F401  (fixture)

pytestmark = pytest.mark.skipif(shutil.which("tsql") is None or ctypes.util.find_library("sybdb") is None,
                                reason="FreeTDS (tsql, libsybdb) is not installed")


def tsql(server, script: str, *, version: str = "7.4", password: str | None = None) -> str:
    env = dict(os.environ, TDSVER=version, LANG="C.UTF-8")
    p = subprocess.run(["tsql", "-H", server.host, "-p", str(server.port), "-U", server.user,
                        "-P", password or server.password],
                       input=script.encode(), capture_output=True, env=env, timeout=60)
    return (p.stdout + p.stderr).decode("utf-8", "replace")


@pytest.mark.parametrize("version", ["7.2", "7.3", "7.4"])
def test_tsql_logs_in_with_each_tds_version(fake_server, version):  # noqa: F811
    out = tsql(fake_server, "SELECT notnull\ngo\n", version=version)
    assert "0\t7\t300\t-5\t1099511627776\t-0.25\t3.1415926535897931\t12.3400\t-1.5000" in out
    assert "(1 row affected)" in out


def test_tsql_wrong_password(fake_server):  # noqa: F811
    out = tsql(fake_server, "SELECT notnull\ngo\n", password="nope")
    assert "Msg 18456" in out and "Login failed for user 'wire'" in out


def test_tsql_every_type_and_nulls(fake_server):  # noqa: F811
    out = tsql(fake_server, "SELECT types\ngo\n")
    lines = [ln for ln in out.splitlines() if "\t" in ln]
    header, values, nulls = lines[0].split("\t"), lines[1].split("\t"), lines[2].split("\t")
    got = dict(zip(header, values))
    assert got["c_decimal"] == "-12345678901234.5678"
    assert got["c_numeric"] == "1234567890123456789012345678.0123456789"
    assert got["c_money"] == "-922337203685477.5808"
    assert got["c_varchar"] == "Grüße, 世界"  # UTF-8 collation: varchar carries UTF-8
    assert got["c_nvarchar"] == "Καλημέρα 🌍"
    assert got["c_varchar_max"] == "x" * 10000 + "ü"
    assert got["c_nvarchar_max"] == "y" * 9000 + "€"
    assert got["c_varbinary"] == "deadbeef"
    assert got["c_guid"] == "6F9619FF-8B86-D011-B42D-00C04FC964FF"
    assert nulls == ["NULL"] * len(header)


def test_tsql_multiple_results_and_errors(fake_server):  # noqa: F811
    out = tsql(fake_server, "MULTI\ngo\nSTMTERR\ngo\nRAISE 50001\ngo\n")
    assert "(2 rows affected)" in out and "(1 row affected)" in out
    assert "hello from PRINT" in out
    assert "Msg 2627 (severity 14, state 1)" in out
    assert "Msg 50001 (severity 16, state 3) from fake, Procedure fake_proc Line 4" in out


def test_freebcp_queryout(fake_server, tmp_path):  # noqa: F811
    """freebcp asks for metadata with SET FMTONLY ON ... SET FMTONLY OFF, then streams rows."""
    out = tmp_path / "rows.txt"
    p = subprocess.run(["freebcp", "STREAM 100000", "queryout", str(out), "-c", "-t", "|",
                        "-S", f"{fake_server.host}:{fake_server.port}", "-U", fake_server.user,
                        "-P", fake_server.password], capture_output=True, timeout=120)
    assert b"100000 rows copied" in p.stdout, p.stdout + p.stderr
    lines = out.read_text().splitlines()
    assert len(lines) == 100000 and lines[-1] == "99999|" + "p" * 40
    types = tmp_path / "types.txt"
    p = subprocess.run(["freebcp", "SELECT types", "queryout", str(types), "-c", "-t", "|",
                        "-S", f"{fake_server.host}:{fake_server.port}", "-U", fake_server.user,
                        "-P", fake_server.password], capture_output=True, timeout=60)
    assert b"2 rows copied" in p.stdout, p.stdout + p.stderr
    first = types.read_text(encoding="utf-8").splitlines()[0].split("|")
    assert first[12] == "Grüße, 世界" and first[20] == "2024-02-29 00:00:00.000"


# --------------------------------------------------------------------------------------------------
# db-lib through ctypes
lib = C.CDLL(ctypes.util.find_library("sybdb") or "libsybdb.so.5")
RETCODE = C.c_int
lib.dbinit.restype = RETCODE
lib.dblogin.restype = C.c_void_p
lib.dbsetlname.argtypes = [C.c_void_p, C.c_char_p, C.c_int]
lib.dbsetlversion.argtypes = [C.c_void_p, C.c_ubyte]
lib.tdsdbopen.restype = C.c_void_p
lib.tdsdbopen.argtypes = [C.c_void_p, C.c_char_p, C.c_int]
lib.dbloginfree.argtypes = [C.c_void_p]
for name in ("dbsqlexec", "dbsqlok", "dbresults", "dbnextrow", "dbnumcols", "dbrpcsend",
             "dbretstatus", "dbhasretstat", "dbnumrets", "dbcancel", "dbcount"):
    getattr(lib, name).argtypes = [C.c_void_p]
    getattr(lib, name).restype = C.c_int
lib.dbclose.argtypes = [C.c_void_p]
lib.dbcmd.argtypes = [C.c_void_p, C.c_char_p]
lib.dbrpcinit.argtypes = [C.c_void_p, C.c_char_p, C.c_short]
lib.dbrpcparam.argtypes = [C.c_void_p, C.c_char_p, C.c_ubyte, C.c_int, C.c_int, C.c_int, C.c_void_p]
lib.dbcoltype.argtypes = [C.c_void_p, C.c_int]
lib.dbcolname.argtypes = [C.c_void_p, C.c_int]
lib.dbcolname.restype = C.c_char_p
lib.dbdata.argtypes = [C.c_void_p, C.c_int]
lib.dbdata.restype = C.c_void_p
lib.dbdatlen.argtypes = [C.c_void_p, C.c_int]
lib.dbretdata.argtypes = [C.c_void_p, C.c_int]
lib.dbretdata.restype = C.c_void_p
lib.dbretlen.argtypes = [C.c_void_p, C.c_int]
lib.dbrettype.argtypes = [C.c_void_p, C.c_int]
lib.dbretname.argtypes = [C.c_void_p, C.c_int]
lib.dbretname.restype = C.c_char_p
lib.dbconvert.argtypes = [C.c_void_p, C.c_int, C.c_void_p, C.c_int, C.c_int, C.c_void_p, C.c_int]

MSGHANDLER = C.CFUNCTYPE(C.c_int, C.c_void_p, C.c_int, C.c_int, C.c_int, C.c_char_p, C.c_char_p,
                         C.c_char_p, C.c_int)
ERRHANDLER = C.CFUNCTYPE(C.c_int, C.c_void_p, C.c_int, C.c_int, C.c_int, C.c_char_p, C.c_char_p)
MESSAGES: list[tuple[int, int, int, str, str, int]] = []


@MSGHANDLER
def _msg(dbproc, msgno, state, severity, text, srv, proc, line):
    MESSAGES.append((msgno, state, severity, (text or b"").decode(), (proc or b"").decode(), line))
    return 0


@ERRHANDLER
def _err(dbproc, severity, dberr, oserr, dberrstr, oserrstr):
    MESSAGES.append((dberr, 0, severity, (dberrstr or b"").decode(), "dblib", 0))
    return 2  # INT_CANCEL


lib.dbmsghandle.argtypes = [MSGHANDLER]
lib.dberrhandle.argtypes = [ERRHANDLER]
assert lib.dbinit() == 1
lib.dbmsghandle(_msg)
lib.dberrhandle(_err)

SYBCHAR, SYBVARCHAR, SYBINT4, SYBINT8, SYBFLT8, SYBNTEXT, SYBTEXT, SYBVARBINARY, SYBBINARY = 47, 39, 56, 127, 62, 99, 35, 37, 45
SYBDECIMAL, SYBNVARCHAR, SYBMSDATETIME2, SYBBIT, SYBINTN, SYBDATETIME = 106, 103, 42, 50, 38, 61
XSYBNVARCHAR, XSYBVARCHAR = 231, 167


def connect(host: str, port: int, user: str, password: str, version: int = 8):
    login = lib.dblogin()
    lib.dbsetlname(login, user.encode(), 2)
    lib.dbsetlname(login, password.encode(), 3)
    lib.dbsetlname(login, b"dblib-test", 5)
    lib.dbsetlname(login, b"UTF-8", 10)
    lib.dbsetlversion(login, version)
    dbproc = lib.tdsdbopen(login, f"{host}:{port}".encode(), 1)
    lib.dbloginfree(login)
    return dbproc


def to_text(dbproc, ctype: int, ptr, length: int) -> str | None:
    if not ptr:
        return None
    buf = C.create_string_buffer(length * 4 + 64)
    n = lib.dbconvert(dbproc, ctype, ptr, length, SYBCHAR, buf, len(buf))
    return buf.raw[:n].decode("utf-8") if n >= 0 else f"<convert failed {n}>"


def results(dbproc):
    """All result sets: list of (columns, rows) with values as db-lib's text conversion."""
    out = []
    while (rc := lib.dbresults(dbproc)) != 2:
        if rc != 1:
            raise RuntimeError(f"dbresults failed: {MESSAGES[-3:]}")
        n = lib.dbnumcols(dbproc)
        if n == 0:
            continue
        cols = [lib.dbcolname(dbproc, i).decode() for i in range(1, n + 1)]
        rows = []
        while lib.dbnextrow(dbproc) == -1:
            rows.append(tuple(to_text(dbproc, lib.dbcoltype(dbproc, i), lib.dbdata(dbproc, i),
                                      lib.dbdatlen(dbproc, i)) for i in range(1, n + 1)))
        out.append((cols, rows))
    return out


def rpc(dbproc, name: str, params: list[tuple[str, int, int, bytes | None, bool]]):
    """params: (name, type, maxlen, data or None, output)."""
    assert lib.dbrpcinit(dbproc, name.encode(), 0) == 1
    keep = []
    for pname, ptype, maxlen, data, out in params:
        buf = C.create_string_buffer(data, len(data)) if data is not None else None
        keep.append(buf)
        rc = lib.dbrpcparam(dbproc, pname.encode() if pname else None, 1 if out else 0, ptype,
                            maxlen, 0 if data is None else len(data), buf)
        assert rc == 1, MESSAGES[-3:]
    assert lib.dbrpcsend(dbproc) == 1, MESSAGES[-3:]
    assert lib.dbsqlok(dbproc) == 1, MESSAGES[-3:]
    sets = results(dbproc)
    status = lib.dbretstatus(dbproc) if lib.dbhasretstat(dbproc) else None
    rets = {}
    for i in range(1, lib.dbnumrets(dbproc) + 1):
        rets[lib.dbretname(dbproc, i).decode()] = to_text(dbproc, lib.dbrettype(dbproc, i),
                                                          lib.dbretdata(dbproc, i), lib.dbretlen(dbproc, i))
    return sets, status, rets


@pytest.fixture
def dbproc(fake_server):  # noqa: F811
    MESSAGES.clear()
    d = connect(fake_server.host, fake_server.port, fake_server.user, fake_server.password)
    assert d, MESSAGES
    yield d
    lib.dbclose(d)


def test_dblib_login_messages(dbproc):
    assert (5701, 2, 0, "Changed database context to 'master'.", "", 1) in MESSAGES


def test_dblib_sp_executesql_typed_and_output_parameters(dbproc):
    decl = "@i int, @big bigint, @f float, @s nvarchar(20), @v varchar(20), @b varbinary(10), " \
           "@o int OUTPUT, @so nvarchar(20) OUTPUT"
    sets, status, rets = rpc(dbproc, "sp_executesql", [
        ("@stmt", SYBVARCHAR, -1, b"ECHO", False),
        ("@params", SYBVARCHAR, -1, decl.encode(), False),
        ("@i", SYBINT4, -1, struct.pack("<i", -42), False),
        ("@big", SYBINT8, -1, struct.pack("<q", 1 << 50), False),
        ("@f", SYBFLT8, -1, struct.pack("<d", 0.5), False),
        ("@s", SYBVARCHAR, -1, "Grüße 世界".encode(), False),
        ("@v", SYBVARCHAR, -1, "Grüße 世界".encode(), False),
        ("@b", SYBVARBINARY, -1, b"\x01\x02\xff", False),
        ("@o", SYBINT4, -1, struct.pack("<i", 21), True),
        ("@so", SYBVARCHAR, 20, b"x", True),
    ])
    assert sets == [(["i", "big", "f", "s", "v", "b", "o", "so"],
                     [("-42", str(1 << 50), "0.5", "Grüße 世界", "Grüße 世界", "0102ff", "21", "x")])]
    assert status == 0
    assert rets == {"@o": "42", "@so": "x!"}


def test_dblib_sp_executesql_missing_parameter_is_8178(dbproc):
    lib.dbrpcinit(dbproc, b"sp_executesql", 0)
    for name, data in (("@stmt", b"ECHO"), ("@params", b"@i int")):
        buf = C.create_string_buffer(data, len(data))
        lib.dbrpcparam(dbproc, name.encode(), 0, SYBVARCHAR, -1, len(data), buf)
    lib.dbrpcsend(dbproc)
    lib.dbsqlok(dbproc)
    while lib.dbresults(dbproc) not in (2, 0):
        pass
    assert any(m[0] == 8178 and "expects the parameter '@i'" in m[3] for m in MESSAGES), MESSAGES


def test_dblib_stored_procedure_return_status_and_output(dbproc):
    sets, status, rets = rpc(dbproc, "sp_fake_proc", [("@o", SYBINT4, -1, struct.pack("<i", 5), True)])
    assert sets == [(["name"], [("proc-row",)])]
    assert status == 7
    assert rets == {"@o": "10"}


def test_dblib_cancel_in_the_middle_of_a_result_set(dbproc):
    assert lib.dbcmd(dbproc, b"STREAM 5000000") == 1
    assert lib.dbsqlexec(dbproc) == 1
    assert lib.dbresults(dbproc) == 1
    for _ in range(1000):
        assert lib.dbnextrow(dbproc) == -1
    assert lib.dbcancel(dbproc) == 1  # sends ATTENTION, reads up to DONE(DONE_ATTN)
    assert lib.dbcmd(dbproc, b"SELECT notnull") == 1
    assert lib.dbsqlexec(dbproc) == 1
    assert results(dbproc)[0][1][0][:3] == ("0", "7", "300")


def test_dblib_row_counts(dbproc):
    assert lib.dbcmd(dbproc, b"INSERT 4") == 1
    assert lib.dbsqlexec(dbproc) == 1
    assert lib.dbresults(dbproc) == 1
    assert lib.dbcount(dbproc) == 4
