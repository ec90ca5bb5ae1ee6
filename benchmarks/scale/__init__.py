"""The scale stage of `make bench` (benchmarks/bench.py calls stage.run)."""
