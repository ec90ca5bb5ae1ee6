#!/usr/bin/env python3
"""The replica sink alone, several binaries or settings back to back on the topics a throughput run left
in the broker (`bench.py --only throughput` keeps its topics; it drops its databases and schemas).

    .venv/bin/python benchmarks/sink_ab.py --run RUN [--repeat N] BINARY[,KEY=VALUE…] …

RUN is the run id `bench.py` printed ("run e77c66"). Every run gets a fresh consumer group and schema
(dropped after it), the sink's steady rate, CPU per message, peak RSS and the machine's split as
`bench.py` measures them, and checksums against the first run's replica. For A/B pairs: single runs on
this 2-core machine swing by ±15 %, so compare medians of several pairs.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # noqa: E402
import machine  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", required=True, help="the throughput run whose topics to read")
    ap.add_argument("--repeat", type=int, default=1, help="rounds of all the binaries, in order [1]")
    ap.add_argument("--timeout", type=float, default=900)
    ap.add_argument("binaries", nargs="+", metavar="BINARY[,KEY=VALUE…]", help="a sluice binary and sink properties for it")
    args = ap.parse_args()
    topics = [f"bench{args.run}.Bench_{args.run}.dbo.{table}" for table in bench.TABLES]
    ends = bench.end_offsets(os.environ["SLUICE_KAFKA_BOOTSTRAP"], topics)
    if not any(ends.values()):
        raise SystemExit(f"no messages in {topics}: is RUN right, and has the broker been restarted since (it keeps topics in memory)?")
    workdir = Path(tempfile.mkdtemp(prefix="sluice-sink-ab-"))
    reference = None
    for _ in range(args.repeat):
        for spec in args.binaries:
            binary, *pairs = spec.split(",")
            extra = dict(pair.split("=", 1) for pair in pairs)
            tag = uuid.uuid4().hex[:6]
            schema = f"ab_{tag}"
            with machine.MachineSampler(bench.ROOT) as sampler:
                r = bench.run_replica_sink(binary, topics, schema, f"bench-ab-{tag}", workdir, ends, args.timeout, extra=extra)
            split = machine.breakdown(sampler.window(r["steady_start"], r["steady_end"]), r["steady_cpu"], r["steady_messages"])
            sums = bench.pg_checksums(schema)
            reference = reference or sums
            with bench.pg() as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            same = "equal" if sums == reference else "DIFFER from the first run"
            print(f"{spec}: {r['steady_messages'] / r['steady_seconds']:.0f} msg/s steady, "
                  f"{r['steady_cpu'] / r['steady_messages'] * 1e6:.1f} µs CPU/msg, peak RSS {r['rss_mib']:.0f} MiB, "
                  f"checksums {same} | {machine.describe(split)}", flush=True)


if __name__ == "__main__":
    main()
