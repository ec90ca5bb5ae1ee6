# Sluice — the two commands are `make demo` and `make test` (see README.md).
SHELL := /bin/bash
.DEFAULT_GOAL := help

.PHONY: help bootstrap build test demo demo-down services-up services-down bench-source bench-pgsink test-deploy

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

# The deployment tests alone (sd_notify, systemd units under a real systemd, Containerfile); needs the local world.
test-deploy: bootstrap
	swift build --product sluice
	scripts/services up
	eval "$$(scripts/services env)" && .venv/bin/pytest -q deploy/tests
