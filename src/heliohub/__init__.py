"""heliohub: one config file and one CLI for a multi-user Jupyter + Dask platform."""

__version__ = "0.1.0"
