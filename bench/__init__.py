"""heliohub's benchmarks and load test: `python -m bench` and `python -m bench load`.

Every figure of the local provider is measured next to its floor (the same work done by the
bare components, started by hand) in the same run, and written to docs/BENCHMARKS.md.
"""
