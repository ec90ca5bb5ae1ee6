"""EmulatorServer: one emulated SQL Server instance backed by Postgres (TEST FIXTURE)."""

from __future__ import annotations

import asyncio
import logging
import random
import re
from urllib.parse import urlparse, urlunparse

import asyncpg

from ..api import SqlError
from . import cdc
from .catalog import Database, TableInfo
from .openjson import OPENJSON_SQL

log = logging.getLogger("mssql_emulator.engine")

BOOTSTRAP_SQL = r"""
CREATE SCHEMA IF NOT EXISTS _mssql;
CREATE SCHEMA IF NOT EXISTS dbo;
DO $$ BEGIN
  CREATE COLLATION _mssql.ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
EXCEPTION WHEN duplicate_object THEN NULL; END $$;
CREATE TABLE IF NOT EXISTS _mssql.meta(key text PRIMARY KEY, value text);
CREATE TABLE IF NOT EXISTS _mssql.tables(schema_name text, table_name text, info jsonb NOT NULL,
                                         PRIMARY KEY (schema_name, table_name));
CREATE TABLE IF NOT EXISTS _mssql.schemas(name text PRIMARY KEY, declared text NOT NULL);
INSERT INTO _mssql.schemas VALUES ('dbo', 'dbo') ON CONFLICT DO NOTHING;
CREATE TABLE IF NOT EXISTS _mssql.databases(name_ci text PRIMARY KEY, name text NOT NULL,
    database_id int NOT NULL, pg_name text NOT NULL, create_date timestamp NOT NULL DEFAULT now());
CREATE OR REPLACE FUNCTION _mssql.datediff(part text, a timestamp, b timestamp) RETURNS integer
LANGUAGE sql IMMUTABLE AS $f$
  SELECT CASE part
    WHEN 'year' THEN (extract(year FROM b) - extract(year FROM a))::int
    WHEN 'quarter' THEN ((extract(year FROM b) - extract(year FROM a)) * 4
                         + extract(quarter FROM b) - extract(quarter FROM a))::int
    WHEN 'month' THEN ((extract(year FROM b) - extract(year FROM a)) * 12
                       + extract(month FROM b) - extract(month FROM a))::int
    WHEN 'day' THEN (b::date - a::date)
    WHEN 'week' THEN ((b::date - extract(dow FROM b)::int) - (a::date - extract(dow FROM a)::int)) / 7
    WHEN 'hour' THEN (extract(epoch FROM date_trunc('hour', b) - date_trunc('hour', a)) / 3600)::int
    WHEN 'minute' THEN (extract(epoch FROM date_trunc('minute', b) - date_trunc('minute', a)) / 60)::int
    WHEN 'second' THEN extract(epoch FROM date_trunc('second', b) - date_trunc('second', a))::int
    WHEN 'millisecond' THEN (extract(epoch FROM date_trunc('milliseconds', b) - date_trunc('milliseconds', a)) * 1000)::int
    WHEN 'microsecond' THEN (extract(epoch FROM b - a) * 1000000)::int
  END
$f$;
CREATE OR REPLACE FUNCTION _mssql.bytea_larger(a bytea, b bytea) RETURNS bytea LANGUAGE sql IMMUTABLE STRICT
  AS 'SELECT CASE WHEN a > b THEN a ELSE b END';
CREATE OR REPLACE FUNCTION _mssql.bytea_smaller(a bytea, b bytea) RETURNS bytea LANGUAGE sql IMMUTABLE STRICT
  AS 'SELECT CASE WHEN a < b THEN a ELSE b END';
DO $$ BEGIN
  CREATE AGGREGATE _mssql.max(bytea) (SFUNC = _mssql.bytea_larger, STYPE = bytea, COMBINEFUNC = _mssql.bytea_larger, PARALLEL = SAFE);
  CREATE AGGREGATE _mssql.min(bytea) (SFUNC = _mssql.bytea_smaller, STYPE = bytea, COMBINEFUNC = _mssql.bytea_smaller, PARALLEL = SAFE);
EXCEPTION WHEN duplicate_function THEN NULL; END $$;
CREATE OR REPLACE FUNCTION _mssql.dt(ts timestamp) RETURNS timestamp(3) LANGUAGE sql IMMUTABLE AS $f$
  -- SQL Server's datetime: 1/300 s ticks, shown to 3 decimals
  SELECT CAST(date_trunc('second', ts) + make_interval(secs => round(round(
           (extract(microseconds FROM ts)::numeric % 1000000) * 300 / 1000000) / 300.0, 3)) AS timestamp(3))
$f$;
DO $$ BEGIN
  -- datetimeoffset: the instant and the offset it was written with (minutes east of UTC)
  CREATE TYPE _mssql.dto AS (ts timestamptz, off smallint);
EXCEPTION WHEN duplicate_object THEN NULL; END $$;
CREATE OR REPLACE FUNCTION _mssql.to_dto(v _mssql.dto) RETURNS _mssql.dto LANGUAGE sql IMMUTABLE AS 'SELECT v';
CREATE OR REPLACE FUNCTION _mssql.to_dto(v timestamp) RETURNS _mssql.dto LANGUAGE sql IMMUTABLE
  AS $f$ SELECT CASE WHEN v IS NULL THEN NULL ELSE ROW(v AT TIME ZONE 'UTC', 0)::_mssql.dto END $f$;
CREATE OR REPLACE FUNCTION _mssql.to_dto(v date) RETURNS _mssql.dto LANGUAGE sql IMMUTABLE
  AS $f$ SELECT CASE WHEN v IS NULL THEN NULL ELSE ROW(v::timestamp AT TIME ZONE 'UTC', 0)::_mssql.dto END $f$;
CREATE OR REPLACE FUNCTION _mssql.to_dto(v timestamptz) RETURNS _mssql.dto LANGUAGE sql STABLE
  AS $f$ SELECT CASE WHEN v IS NULL THEN NULL ELSE ROW(v, (extract(timezone FROM v) / 60)::smallint)::_mssql.dto END $f$;
CREATE OR REPLACE FUNCTION _mssql.to_dto(v text) RETURNS _mssql.dto LANGUAGE plpgsql IMMUTABLE AS $f$
DECLARE m text[]; off int := 0; t text := btrim(v);
BEGIN
  IF v IS NULL THEN RETURN NULL; END IF;
  IF left(t, 1) = '(' THEN  -- the composite's own text form
    m := regexp_match(t, '^\("?([^",]*)"?,(-?\d+)\)$');
    RETURN ROW(m[1]::timestamptz, m[2]::smallint)::_mssql.dto;
  END IF;
  m := regexp_match(t, '^(.*?)\s*(Z|[+-]\d{1,2}:\d{2})$');
  IF m IS NULL THEN  -- no offset: +00:00, as SQL Server converts
    RETURN ROW(t::timestamp AT TIME ZONE 'UTC', 0)::_mssql.dto;
  END IF;
  IF m[2] <> 'Z' THEN
    off := (CASE WHEN left(m[2], 1) = '-' THEN -1 ELSE 1 END)
           * (split_part(substr(m[2], 2), ':', 1)::int * 60 + split_part(substr(m[2], 2), ':', 2)::int);
  END IF;
  IF off < -840 OR off > 840 THEN
    RAISE EXCEPTION 'invalid datetimeoffset offset: %', m[2] USING ERRCODE = '22007';
  END IF;
  RETURN ROW(m[1]::timestamp AT TIME ZONE make_interval(mins => off), off)::_mssql.dto;
END $f$;
CREATE OR REPLACE FUNCTION _mssql.dto_local(d _mssql.dto) RETURNS timestamp LANGUAGE sql IMMUTABLE
  AS $f$ SELECT (d).ts AT TIME ZONE make_interval(mins => (d).off) $f$;
CREATE OR REPLACE FUNCTION _mssql.dto_text(d _mssql.dto) RETURNS text LANGUAGE sql IMMUTABLE
  AS $f$ SELECT to_char(_mssql.dto_local(d), 'YYYY-MM-DD HH24:MI:SS.US') || '0 '
              || CASE WHEN (d).off < 0 THEN '-' ELSE '+' END
              || lpad((abs((d).off) / 60)::text, 2, '0') || ':' || lpad((abs((d).off) % 60)::text, 2, '0') $f$;
DO $$ BEGIN
  CREATE CAST (text AS _mssql.dto) WITH FUNCTION _mssql.to_dto(text) AS ASSIGNMENT;
EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN
  CREATE CAST (timestamp AS _mssql.dto) WITH FUNCTION _mssql.to_dto(timestamp) AS ASSIGNMENT;
EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN
  CREATE CAST (timestamptz AS _mssql.dto) WITH FUNCTION _mssql.to_dto(timestamptz) AS ASSIGNMENT;
EXCEPTION WHEN duplicate_object THEN NULL; END $$;
CREATE OR REPLACE FUNCTION _mssql.reseed(tbl text, col text) RETURNS void LANGUAGE plpgsql AS $f$
-- after an explicit identity value (IDENTITY_INSERT ON): a larger value becomes the current identity
DECLARE seq text := pg_get_serial_sequence(tbl, col); mx bigint; cur bigint; called boolean; inc bigint;
BEGIN
  IF seq IS NULL THEN RETURN; END IF;
  EXECUTE format('SELECT max(%I) FROM %s', col, tbl) INTO mx;
  EXECUTE format('SELECT last_value, is_called FROM %s', seq) INTO cur, called;
  SELECT seqincrement INTO inc FROM pg_sequence WHERE seqrelid = seq::regclass;
  IF mx IS NOT NULL AND ((inc > 0 AND (mx > cur OR (NOT called AND mx >= cur)))
                         OR (inc < 0 AND (mx < cur OR (NOT called AND mx <= cur)))) THEN
    PERFORM setval(seq, mx, true);
  END IF;
END $f$;
CREATE OR REPLACE FUNCTION _mssql.utf16le(s text) RETURNS bytea LANGUAGE sql IMMUTABLE STRICT AS $f$
  -- the bytes of an nvarchar value (UTF-16LE, surrogate pairs above U+FFFF), as HASHBYTES sees them
  SELECT coalesce(string_agg(CASE WHEN cp < 65536
           THEN decode(lpad(to_hex(cp & 255), 2, '0') || lpad(to_hex(cp >> 8), 2, '0'), 'hex')
           ELSE decode(lpad(to_hex((55296 + ((cp - 65536) >> 10)) & 255), 2, '0')
                    || lpad(to_hex((55296 + ((cp - 65536) >> 10)) >> 8), 2, '0')
                    || lpad(to_hex((56320 + ((cp - 65536) & 1023)) & 255), 2, '0')
                    || lpad(to_hex((56320 + ((cp - 65536) & 1023)) >> 8), 2, '0'), 'hex') END,
         ''::bytea ORDER BY ord), ''::bytea)
  FROM (SELECT ascii(ch) AS cp, ord FROM regexp_split_to_table(s COLLATE "C", '') WITH ORDINALITY AS t(ch, ord)) x
$f$;
CREATE OR REPLACE FUNCTION _mssql.json_str(s text) RETURNS text LANGUAGE sql IMMUTABLE STRICT AS $f$
  -- a JSON string as FOR JSON writes it: \" \\ \/ \b \f \n \r \t and \u00xx for other control characters
  SELECT replace(to_json(s COLLATE "C")::text, '/', '\/')
$f$;
CREATE OR REPLACE FUNCTION _mssql.iso_fraction(ts timestamp, digits int) RETURNS text LANGUAGE sql IMMUTABLE STRICT AS $f$
  -- ".fffffff" with the type's digits, none when the fraction is zero (ISO 8601 style 126)
  SELECT CASE WHEN digits = 0 OR extract(microseconds FROM ts)::bigint % 1000000 = 0 THEN ''
              ELSE '.' || left(rpad(lpad((extract(microseconds FROM ts)::bigint % 1000000)::text, 6, '0'), 7, '0'), digits) END
$f$;
CREATE OR REPLACE FUNCTION _mssql.object_id(name text) RETURNS integer LANGUAGE plpgsql STABLE AS $f$
DECLARE parts text[]; r regclass;
BEGIN
  IF name IS NULL THEN RETURN NULL; END IF;
  parts := string_to_array(replace(replace(lower(name), '[', ''), ']', ''), '.');
  IF array_length(parts, 1) = 1 THEN parts := ARRAY['dbo'] || parts; END IF;
  IF array_length(parts, 1) > 2 THEN parts := parts[array_length(parts, 1) - 1:]; END IF;
  r := to_regclass(quote_ident(parts[1]) || '.' || quote_ident(parts[2]));
  RETURN CASE WHEN r IS NULL THEN NULL ELSE r::oid::int END;
END $f$;
"""
BOOTSTRAP_SQL += OPENJSON_SQL  # OPENJSON's functions (openjson.py)


def _time_encode(v) -> str:
    return v.isoformat()


def _time_decode(text: str):
    import datetime as _dt
    hh, mm, rest = text.split(":")
    if "." in rest:
        ss, frac = rest.split(".")
        us = int((frac + "000000")[:6])
    else:
        ss, us = rest, 0
    if int(hh) >= 24:
        return _dt.time(23, 59, 59, 999999)
    return _dt.time(int(hh), int(mm), int(ss), us)


def _sanitize(s: str) -> str:
    return re.sub(r"[^a-z0-9_]", "_", s.lower())


class EmulatorServer:
    """One emulated SQL Server. See api.py for the contract."""

    def __init__(self, backing_url: str, server_name: str, logins: dict[str, str],
                 capture_interval: float = 5.0, timezone: str | None = None,
                 drop_on_exit: bool = False) -> None:
        self.backing_url = backing_url
        self.server_name = server_name
        self.logins = {k.lower(): (k, v) for k, v in logins.items()}
        self.capture_interval = capture_interval
        self.timezone = timezone or "UTC"
        from zoneinfo import ZoneInfo
        self.tzinfo = ZoneInfo(self.timezone)
        self.drop_on_exit = drop_on_exit
        self.prefix = f"mssql_{_sanitize(server_name)}__"
        self.databases: dict[str, Database] = {}
        self.sessions: set = set()
        self._admin: asyncpg.Connection | None = None
        self._canceller: asyncpg.Connection | None = None  # cancel_backend's own connection
        self._cancel_lock = asyncio.Lock()
        self._master_conn: asyncpg.Connection | None = None
        self._capture_task: asyncio.Task | None = None
        self._capture_conns: dict[str, asyncpg.Connection] = {}
        self._next_spid = 51
        self._lock = asyncio.Lock()
        self.version = ("Microsoft SQL Server 2022 (RTM) - 16.0.1000.6 (X64) -- SQL Server emulator "
                        "(TEST FIXTURE, Postgres-backed)")

    # ------------------------------------------------------------------ urls/connections
    def url_for(self, pg_db: str) -> str:
        u = urlparse(self.backing_url)
        return urlunparse(u._replace(path="/" + pg_db))

    async def connect_pg(self, pg_db: str) -> asyncpg.Connection:
        conn = await asyncpg.connect(self.url_for(pg_db), server_settings={
            "TimeZone": self.timezone, "search_path": "public, _mssql", "application_name": f"mssql-emulator:{self.server_name}"})
        # time(7) '23:59:59.9999999' rounds to Postgres' '24:00:00', which Python's time cannot hold
        await conn.set_type_codec("time", schema="pg_catalog", encoder=_time_encode, decoder=_time_decode,
                                  format="text")
        return conn

    async def cancel_backend(self, pid: int) -> None:
        """Asks Postgres to cancel what backend `pid` runs, on a connection of its own: the admin
        connection may be busy for seconds (CREATE DATABASE), and a second command on it fails."""
        async with self._cancel_lock:
            try:
                if self._canceller is None or self._canceller.is_closed():
                    self._canceller = await asyncpg.connect(self.backing_url)
                await self._canceller.execute("SELECT pg_cancel_backend($1)", pid)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as e:
                log.warning("cancelling Postgres backend %d failed: %s", pid, e)

    def pg_name_for(self, db_name: str) -> str:
        name = self.prefix + _sanitize(db_name)
        if len(name) > 63:
            import hashlib
            name = name[:50] + "_" + hashlib.sha1(db_name.lower().encode()).hexdigest()[:12]
        return name

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        self._admin = await asyncpg.connect(self.backing_url)
        master_pg = self.pg_name_for("master")
        await self._ensure_pg_database(master_pg)
        self._master_conn = await self.connect_pg(master_pg)
        await self._master_conn.execute(BOOTSTRAP_SQL)
        await self._master_conn.execute(
            "INSERT INTO _mssql.databases(name_ci, name, database_id, pg_name) VALUES ('master', 'master', 1, $1) "
            "ON CONFLICT DO NOTHING", master_pg)
        for r in await self._master_conn.fetch("SELECT name, database_id, pg_name FROM _mssql.databases ORDER BY database_id"):
            self.databases[r["name"].lower()] = Database(r["name"], r["database_id"], r["pg_name"])
        for db in list(self.databases.values()):
            await self.load_catalog(db)
        self._capture_task = asyncio.create_task(self._capture_loop(), name="cdc-capture")

    async def stop(self) -> None:
        if self._capture_task:
            self._capture_task.cancel()
            try:
                await self._capture_task
            except (asyncio.CancelledError, Exception):
                pass
        for s in list(self.sessions):
            try:
                await s.close()
            except Exception:  # noqa: BLE001
                pass
        for c in list(self._capture_conns.values()):
            await c.close()
        self._capture_conns.clear()
        if self._master_conn:
            await self._master_conn.close()
        if self.drop_on_exit and self._admin:
            for db in list(self.databases.values()):
                await self._admin.execute(f'DROP DATABASE IF EXISTS "{db.pg_name}" WITH (FORCE)')
        if self._canceller:
            await self._canceller.close()
        if self._admin:
            await self._admin.close()

    async def _ensure_pg_database(self, pg_name: str) -> None:
        exists = await self._admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", pg_name)
        if not exists:
            try:
                await self._admin.execute(f'CREATE DATABASE "{pg_name}" TEMPLATE template0 ENCODING \'UTF8\'')
            except asyncpg.DuplicateDatabaseError:
                pass

    # ------------------------------------------------------------------ catalog
    def database(self, name: str | None) -> Database | None:
        if name is None:
            return None
        return self.databases.get(name.strip("[]").lower())

    async def load_catalog(self, db: Database, conn: asyncpg.Connection | None = None) -> None:
        own = conn is None
        if own:
            conn = await self.connect_pg(db.pg_name)
        try:
            await conn.execute(BOOTSTRAP_SQL)
            tables = {}
            for r in await conn.fetch(
                    "SELECT t.schema_name, t.table_name, t.info, "
                    "to_regclass(quote_ident(t.schema_name) || '.' || quote_ident(t.table_name))::oid::int AS oid "
                    "FROM _mssql.tables t"):
                ti = TableInfo.from_json(r["info"])
                ti.object_id = r["oid"] or 0
                tables[ti.key] = ti
            db.tables = tables
            db.schemas = {r["name"]: r["declared"] for r in await conn.fetch("SELECT name, declared FROM _mssql.schemas")}
            meta = {r["key"]: r["value"] for r in await conn.fetch("SELECT key, value FROM _mssql.meta")}
            db.cdc_enabled = meta.get("cdc_enabled") == "1"
            db.capture_running = meta.get("capture_running", "1") == "1"
            # master and msdb always allow snapshot isolation (it cannot be turned off there)
            db.allow_snapshot_isolation = db.database_id <= 4 or meta.get("allow_snapshot_isolation") == "1"
            db.read_committed_snapshot = meta.get("read_committed_snapshot") == "1"
            db.user_access = meta.get("user_access", "MULTI_USER")
            if db.cdc_enabled:
                async with conn.transaction():  # bring the CDC functions up to this version
                    await conn.execute(cdc.CDC_PG_SQL)
            await cdc.load_instances(db, conn)
            db.procedures = {}
            if await conn.fetchval("SELECT to_regclass('_mssql.procedures') IS NOT NULL"):
                import json as _json
                for r in await conn.fetch("SELECT schema_name, name, info FROM _mssql.procedures"):
                    info = _json.loads(r["info"]) if isinstance(r["info"], str) else r["info"]
                    db.procedures[(r["schema_name"], r["name"])] = info
            from .errors import refresh_constraints
            await refresh_constraints(db, conn)
            db.loaded = True
        finally:
            if own:
                await conn.close()

    async def create_database(self, name: str) -> Database:
        async with self._lock:
            if name.lower() in self.databases:
                raise SqlError(1801, f"Database '{name}' already exists. Choose a different database name.")
            if len(name) > 128 or not name:
                raise SqlError(102, f"Incorrect syntax near '{name}'.", severity=15)
            pg = self.pg_name_for(name)
            existing = {d.pg_name for d in self.databases.values()}
            if pg in existing:
                raise SqlError(1801, f"Database '{name}' already exists. Choose a different database name.")
            await self._admin.execute(f'DROP DATABASE IF EXISTS "{pg}" WITH (FORCE)')
            await self._admin.execute(f'CREATE DATABASE "{pg}" TEMPLATE template0 ENCODING \'UTF8\'')
            db_id = max([d.database_id for d in self.databases.values()] + [4]) + 1
            db = Database(name, db_id, pg)
            await self.load_catalog(db)
            await self._master_conn.execute(
                "INSERT INTO _mssql.databases(name_ci, name, database_id, pg_name) VALUES ($1, $2, $3, $4)",
                name.lower(), name, db_id, pg)
            self.databases[name.lower()] = db
            return db

    async def drop_database(self, name: str, requester) -> None:
        async with self._lock:
            db = self.database(name)
            if db is None:
                raise SqlError(3701, f"Cannot drop the database '{name}', because it does not exist or you "
                               "do not have permission.", severity=11)
            if db.database_id <= 4:
                raise SqlError(3708, f"Cannot drop the database '{db.name}' because it is a system database.")
            # A client that just closed its connection may not be gone yet: give it a moment.
            for _ in range(40):
                if not any(s is not requester and s.db is db for s in self.sessions):
                    break
                await asyncio.sleep(0.05)
            for s in self.sessions:
                if s is not requester and s.db is db:
                    raise SqlError(3702, f"Cannot drop database \"{db.name}\" because it is currently in use.")
            if requester is not None and requester.db is db:
                raise SqlError(3702, f"Cannot drop database \"{db.name}\" because it is currently in use.")
            for s in self.sessions:
                await s.release_database(db)
            c = self._capture_conns.pop(db.pg_name, None)
            if c is not None:
                await c.close()
            await self._admin.execute(f'DROP DATABASE IF EXISTS "{db.pg_name}" WITH (FORCE)')
            await self._master_conn.execute("DELETE FROM _mssql.databases WHERE name_ci = $1", db.name.lower())
            del self.databases[db.name.lower()]

    # ------------------------------------------------------------------ sessions
    async def authenticate(self, user: str, password: str, database: str | None, app_name: str = ""):
        from .session import EngineSession
        entry = self.logins.get((user or "").lower())
        if entry is None or entry[1] != password:
            raise SqlError(18456, f"Login failed for user '{user}'.", severity=14)
        dbname = database or "master"
        db = self.database(dbname)
        if db is None:
            raise SqlError(4060, f"Cannot open database \"{dbname}\" requested by the login. The login failed.",
                           severity=11)  # the wire layer follows it with 18456, as SQL Server does
        if db.user_access == "SINGLE_USER" and any(s.db is db and not s.closed for s in self.sessions):
            raise SqlError(924, f"Database '{db.name}' is already open and can only have one user at a time.",
                           severity=14)
        self._next_spid += 1
        session = EngineSession(self, entry[0], app_name, db, self._next_spid)
        await session.open()
        self.sessions.add(session)
        return session

    def forget(self, session) -> None:
        self.sessions.discard(session)

    # ------------------------------------------------------------------ capture job
    async def capture_conn(self, db: Database) -> asyncpg.Connection:
        c = self._capture_conns.get(db.pg_name)
        if c is None or c.is_closed():
            c = await self.connect_pg(db.pg_name)
            self._capture_conns[db.pg_name] = c
        return c

    async def harvest(self, db: Database) -> int:
        conn = await self.capture_conn(db)
        return await cdc.harvest(db, conn, self.timezone)

    async def _capture_loop(self) -> None:
        """The capture jobs. SQL Server has one per CDC-enabled database (sys.sp_cdc_add_job), each waiting
        its polling interval after its own scan cycle; so here one task per database, and one database's
        harvest never lengthens another's cycle. A job ends when its database is gone."""
        jobs: dict[str, asyncio.Task] = {}
        try:
            while True:
                for db in list(self.databases.values()):
                    task = jobs.get(db.pg_name)
                    if task is None or task.done():
                        jobs[db.pg_name] = asyncio.create_task(self._capture_job(db.pg_name), name=f"cdc-capture-{db.name}")
                await asyncio.sleep(min(self.capture_interval, 0.2))
        finally:
            for task in jobs.values():
                task.cancel()
            await asyncio.gather(*jobs.values(), return_exceptions=True)

    async def _capture_job(self, pg_name: str) -> None:
        """One database's capture job: the polling interval, then a scan cycle (harvest), until the
        database is dropped. The first wait is shortened by a random part of the interval, so that the
        jobs of many databases do not all scan at the same instant (SQL Agent starts them independently)."""
        delay = self.capture_interval * (1 - random.random())
        while True:
            await asyncio.sleep(delay)
            delay = self.capture_interval
            db = next((d for d in list(self.databases.values()) if d.pg_name == pg_name), None)
            if db is None:
                return
            if db.cdc_enabled and db.capture_running:
                try:
                    await self.harvest(db)
                except asyncio.CancelledError:
                    raise
                except Exception:  # noqa: BLE001 - the job logs and retries, as SQL Agent would
                    log.exception("capture job failed for database %s", db.name)
                    c = self._capture_conns.pop(db.pg_name, None)
                    if c is not None:
                        try:
                            await c.close()
                        except Exception:  # noqa: BLE001
                            pass
