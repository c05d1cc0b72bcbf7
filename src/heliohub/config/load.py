"""Find, read and validate the config file."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from heliohub.config.model import HubConfig
from heliohub.config.problems import describe
from heliohub.errors import ConfigError

DEFAULT_FILE = "heliohub.yaml"
ENV_VAR = "HELIOHUB_CONFIG"


@dataclass(frozen=True)
class LoadedConfig:
    """A validated config and where it came from; relative paths resolve against base_dir."""

    config: HubConfig
    path: Path | None
    base_dir: Path

    def resolve(self, value: str) -> Path:
        p = Path(value).expanduser()
        return p if p.is_absolute() else (self.base_dir / p).resolve()

    @property
    def data_dir(self) -> Path:
        return self.resolve(self.config.local.data_dir)

    @property
    def source(self) -> str:
        return str(self.path) if self.path else "the built-in local default"


def find(explicit: Path | None, environ: Mapping[str, str], cwd: Path) -> Path | None:
    """-c FILE, then $HELIOHUB_CONFIG, then ./heliohub.yaml; None means the built-in default."""
    if explicit is not None:
        return explicit
    if environ.get(ENV_VAR):
        return Path(environ[ENV_VAR])
    candidate = cwd / DEFAULT_FILE
    return candidate if candidate.exists() else None


def parse(data: Any, source: str | None = None) -> HubConfig:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError([f"(top level): expected a mapping, got {type(data).__name__}"], source)
    try:
        return HubConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(describe(exc), source) from None


def read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([f"{path}: no such file"], str(path)) from None
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read: {exc.strerror}"], str(path)) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "not valid YAML"
        raise ConfigError([f"(file){where}: {problem}"], str(path)) from None


def load(
    explicit: Path | None = None,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> LoadedConfig:
    cwd = cwd or Path.cwd()
    path = find(explicit, os.environ if environ is None else environ, cwd)
    if path is None:
        return LoadedConfig(HubConfig(), None, cwd.resolve())
    path = (cwd / path).resolve() if not path.is_absolute() else path
    data = read_yaml(path)
    if data is None:
        # Most likely a truncated or wrong file: starting every default from it would surprise.
        raise ConfigError(
            ["(file): empty config; run `heliohub init` to write a commented starter"], str(path)
        )
    return LoadedConfig(parse(data, str(path)), path, path.parent)
