"""The config file: pydantic models, loading and error messages."""

from heliohub.config.auth import REAL_AUTH_TYPES
from heliohub.config.load import LoadedConfig, load, parse
from heliohub.config.model import HubConfig

__all__ = ["REAL_AUTH_TYPES", "HubConfig", "LoadedConfig", "load", "parse"]
