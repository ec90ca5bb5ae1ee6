"""Entry point of the SQL Server emulator — TEST FIXTURE for Sluice, not a database product.

    python -m mssql_emulator --listen 127.0.0.1:21433 \\
        --backing-url postgres://sluice:sluice@127.0.0.1:25432/postgres \\
        --server-name staging --login user:password [--login ...] \\
        --capture-interval 1.0 [--timezone Europe/Berlin] [--drop-on-exit] [--log-level info]

Starts the engine (``mssql_emulator.engine.EmulatorServer``) against its backing Postgres, then
serves TDS 7.2-7.4 (no TLS) on the listen address until SIGTERM or SIGINT, when it stops listening,
ends the connections and stops the engine.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

from mssql_emulator.tds import TdsServer

log = logging.getLogger("mssql_emulator")


def _host_port(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


def _login(text: str) -> tuple[str, str]:
    user, sep, password = text.partition(":")
    if not sep or not user:
        raise argparse.ArgumentTypeError(f"expected USER:PASSWORD, got {text!r}")
    return user, password


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m mssql_emulator",
        description="SQL Server emulator (TEST FIXTURE): TDS 7.4 over a real Postgres, with SQL "
                    "Server's CDC semantics.")
    p.add_argument("--listen", type=_host_port, required=True, metavar="HOST:PORT",
                   help="address to serve TDS on")
    p.add_argument("--backing-url", required=True, metavar="URL",
                   help="Postgres URL of the backing store (one Postgres database per emulated database)")
    p.add_argument("--server-name", required=True,
                   help="name of the emulated server (@@SERVERNAME; prefixes its backing databases)")
    p.add_argument("--login", type=_login, action="append", required=True, metavar="USER:PASSWORD",
                   help="a SQL login (repeatable)")
    p.add_argument("--capture-interval", type=float, default=5.0, metavar="SECONDS",
                   help="interval of the emulated CDC capture job (SQL Server's default is 5 s)")
    p.add_argument("--timezone", default=None,
                   help="time zone of the emulated server's clock (GETDATE, lsn_time_mapping)")
    p.add_argument("--drop-on-exit", action="store_true",
                   help="drop this server's backing databases when stopping")
    p.add_argument("--log-level", default="info",
                   choices=["debug", "info", "warning", "error", "critical"])
    return p.parse_args(argv)


async def serve(args: argparse.Namespace) -> int:
    try:
        from mssql_emulator.engine import EmulatorServer  # the SQL engine (another package)
    except ImportError as e:
        log.error("the emulator's SQL engine (mssql_emulator.engine) cannot be imported: %s", e)
        return 2

    host, port = args.listen
    server = EmulatorServer(backing_url=args.backing_url, server_name=args.server_name,
                            logins=dict(args.login), capture_interval=args.capture_interval,
                            timezone=args.timezone, drop_on_exit=args.drop_on_exit)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await server.start()
    tds = TdsServer(server, args.server_name, host, port)
    try:
        await tds.start()
        await stop.wait()
        log.info("stopping")
    finally:
        await tds.close()
        await server.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return asyncio.run(serve(args))
    except OSError as e:
        log.error("cannot serve on %s:%d: %s", args.listen[0], args.listen[1], e)
        return 1


if __name__ == "__main__":
    sys.exit(main())
