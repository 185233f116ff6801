"""qlaud's benchmark: `make bench` (python -m bench.run). See docs/benchmarks.md for the method."""
