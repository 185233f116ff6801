"""Chaos drills: qlaud run the production way on loopback, one fault injected per drill, invariants checked after.

Run: `make chaos` (or `python -m bench.chaos [drill ...]`). See docs/reliability.md.
"""
