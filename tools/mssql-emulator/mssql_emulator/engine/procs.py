"""System stored procedures of the emulator (TEST FIXTURE): their signatures, argument binding, the
dispatch, and sp_executesql. The CDC procedures are in cdc_procs.py. A procedure reaches the session
only through its public interface (execute, conn, execute_ddl, system_transaction, create_table,
map_error and the session's state attributes)."""

from __future__ import annotations

import re
from typing import Any, AsyncIterator

from ..api import Param, ResultItem, SqlError
from . import cdc_procs
from .types import parse_type, unsupported


class _Default:
    pass


DEFAULT = _Default()
REQUIRED = object()

# name -> ordered (parameter, default)
SIGNATURES: dict[str, list[tuple[str, Any]]] = {
    "sp_cdc_enable_db": [],
    "sp_cdc_disable_db": [],
    "sp_cdc_enable_table": [("@source_schema", REQUIRED), ("@source_name", REQUIRED), ("@role_name", REQUIRED),
                            ("@capture_instance", None), ("@supports_net_changes", None), ("@index_name", None),
                            ("@captured_column_list", None), ("@filegroup_name", None),
                            ("@allow_partition_switch", 1)],
    "sp_cdc_disable_table": [("@source_schema", REQUIRED), ("@source_name", REQUIRED),
                             ("@capture_instance", REQUIRED)],
    "sp_cdc_start_job": [("@job_type", "capture")],
    "sp_cdc_stop_job": [("@job_type", "capture")],
    "sp_cdc_change_job": [("@job_type", "capture"), ("@maxtrans", None), ("@maxscans", None),
                          ("@continuous", None), ("@pollinginterval", None), ("@retention", None),
                          ("@threshold", None), ("@pollinginterval", None)],
    "sp_cdc_cleanup_change_table": [("@capture_instance", REQUIRED), ("@low_water_mark", REQUIRED),
                                    ("@threshold", 5000), ("@fcleanupfailed", 0)],
    "sp_cdc_help_change_data_capture": [("@source_schema", None), ("@source_name", None)],
    "sp_cdc_help_jobs": [],
    "sp_cdc_get_captured_columns": [("@capture_instance", REQUIRED)],
    "sp_cdc_get_ddl_history": [("@capture_instance", REQUIRED)],
    "sp_executesql": [("@stmt", REQUIRED), ("@params", None)],
}


# System procedures SQL Server has but the emulator does not implement: a clear error, not 2812.
KNOWN_UNSUPPORTED = {"sp_rename", "sp_help", "sp_helptext", "sp_who", "sp_who2", "sp_columns", "sp_tables",
                     "sp_configure", "sp_addrolemember", "sp_addlogin", "sp_adduser", "sp_cdc_add_job",
                     "sp_cdc_drop_job", "sp_cdc_scan", "sp_cdc_generate_wrapper_function", "sp_cdc_vupgrade",
                     "sp_executesql_prepare", "sp_prepare", "sp_execute", "sp_unprepare", "sp_cursoropen",
                     "sp_describe_first_result_set", "sp_set_session_context", "sp_getapplock",
                     "sp_releaseapplock", "sp_addextendedproperty", "sp_spaceused", "sp_lock"}


def _normalize(name: str) -> str:
    parts = [p.strip().strip("[]\"").lower() for p in name.split(".")]
    if len(parts) == 3 and parts[0] in ("master",):
        parts = parts[1:]
    if len(parts) == 2 and parts[0] in ("sys", "dbo"):
        parts = parts[1:]
    return ".".join(parts)


def _bind(proc: str, sig, args: dict, positional: list) -> dict:
    out = {}
    names = [n for n, _ in sig]
    if len(positional) > len(names) and proc != "sp_executesql":
        raise SqlError(8144, f"Procedure or function {proc} has too many arguments specified.")
    for i, v in enumerate(positional):
        if proc == "sp_executesql" and i >= 2:
            break
        out[names[i]] = v
    for k, v in args.items():
        if k not in names:
            if proc == "sp_executesql":
                continue
            raise SqlError(8145, f"{k} is not a parameter for procedure {proc}.")
        out[k] = v
    for n, d in sig:
        if n not in out or out[n] is DEFAULT:
            if d is REQUIRED:
                raise SqlError(201, f"Procedure or function '{proc}' expects parameter '{n}', which was not supplied.")
            out[n] = d
    return out


async def call(session, name: str, args: dict, positional: list) -> AsyncIterator[ResultItem]:
    proc = _normalize(name)
    sig = SIGNATURES.get(proc)
    if sig is None:
        if proc in KNOWN_UNSUPPORTED:
            raise unsupported(f"The system procedure {proc}")
        raise SqlError(2812, f"Could not find stored procedure '{name}'.")
    if proc == "sp_executesql":
        async for item in _sp_executesql(session, args, positional):
            yield item
        return
    bound = _bind(proc, sig, args, positional)
    fn = cdc_procs.PROCEDURES[proc]
    async for item in fn(session, bound):
        yield item


async def _sp_executesql(session, args: dict, positional: list) -> AsyncIterator[ResultItem]:
    stmt = args.pop("@stmt", positional[0] if positional else None)
    decl = args.pop("@params", positional[1] if len(positional) > 1 else None)
    if stmt is None:
        raise SqlError(201, "Procedure or function 'sp_executesql' expects parameter '@stmt', which was not supplied.")
    params: list[Param] = []
    if decl:
        names = []
        for item in re.split(r",(?![^(]*\))", decl):
            m = re.match(r"(?is)^\s*(@\w+)\s+([\w ]+(?:\([^)]*\))?)\s*(OUTPUT|OUT)?\s*$", item)
            if not m:
                raise SqlError(102, f"Incorrect syntax near '{item.strip()}'.", severity=15)
            if m.group(3):
                raise unsupported("OUTPUT parameters of sp_executesql")
            names.append((m.group(1), parse_type(m.group(2), cast=True)))
        rest = positional[2:]
        for i, (n, t) in enumerate(names):
            v = args.get(n.lower(), rest[i] if i < len(rest) else None)
            params.append(Param(n, t, v))
    saved = session.variables
    try:
        async for item in session.execute(stmt, params):
            yield item
    finally:
        session.variables = saved
