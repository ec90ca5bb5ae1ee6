# Sluice — the two commands are `make demo` and `make test` (see README.md).
SHELL := /bin/bash
.DEFAULT_GOAL := help

.PHONY: help bootstrap build test demo demo-down services-up services-down bench-source bench-pgsink dbt airflow airflow-down

help:
	@echo "make test       install what is missing, start the local world, run every test, stop the world"
	@echo "make demo       install what is missing, start the local world, run source + sinks + a change generator, show the replica catching up"
	@echo "make demo-down  stop the demo's pipeline and the local world"
	@echo "make dbt        dbt build + source freshness on the local world's replica (dbt/)"
	@echo "make airflow    start Airflow 3 on 127.0.0.1:8081 (SLUICE_AIRFLOW_PORT) with the DAGs in airflow/dags; make airflow-down stops it"

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

# dbt on the local world's replica: deps (if any), build, source freshness; non-zero on any failure.
dbt: bootstrap
	@scripts/services up
	@eval "$$(scripts/services env)" && scripts/dbt make

# Airflow 3 (its own venv, installed on first use) with the DAGs in airflow/dags, on the local world.
airflow: bootstrap
	@scripts/services up
	@eval "$$(scripts/services env)" && scripts/airflow up

airflow-down:
	@scripts/airflow down
