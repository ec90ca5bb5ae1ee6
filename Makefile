# Sluice — the two commands are `make demo` and `make test` (see README.md).
SHELL := /bin/bash
.DEFAULT_GOAL := help

.PHONY: help bootstrap build test demo demo-down services-up services-down bench-source bench-pgsink bench

help:
	@echo "make test       install what is missing, start the local world, run every test, stop the world"
	@echo "make demo       install what is missing, start the local world, run source + sinks + a change generator, show the replica catching up"
	@echo "make demo-down  stop the demo's pipeline and the local world"

bootstrap:
	@scripts/bootstrap

build: bootstrap
	swift build

test: bootstrap
	@scripts/test

demo: bootstrap
	@scripts/demo

demo-down:
	@scripts/demo down

services-up: bootstrap
	@scripts/services up

services-down:
	@scripts/services down

bench-source: bootstrap
	swift build -c release --product sluice
	scripts/services up
	eval "$$(scripts/services env)" && .venv/bin/python benchmarks/source/bench.py --binary .build/release/sluice

bench-pgsink: bootstrap
	scripts/services up
	eval "$$(scripts/services env)" && swift run -c release sluice-bench-pgsink

# Every benchmark in one run on the local world (release build): one table, one name=value line,
# kept in benchmarks/results/latest.txt (benchmarks/README.md). Not part of `make test`.
bench: bootstrap
	swift build -c release --product sluice
	swift build -c release --product sluice-bench-pgsink
	.venv/bin/pip install -q -r benchmarks/peer/requirements.txt
	scripts/services up
	eval "$$(scripts/services env)" && .venv/bin/python benchmarks/bench.py --binary .build/release/sluice
