"""What `plan` shows per helm release: the chart version change and a diff of the values.

After `up` installs the releases, the layer records what each was given (chart, version, the
values files, byte for byte) in the state directory. `plan` renders again and compares, the
way `helm diff` compares a release with what an upgrade would send. Pure: records in, text out.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass

from heliohub.config import HubConfig
from heliohub.render.helm import releases as rel


@dataclass(frozen=True)
class ReleaseRecord:
    name: str
    chart: str
    version: str
    # values file name -> its text, in the order helm gets them
    values: dict[str, str]


@dataclass(frozen=True)
class ReleaseChange:
    name: str
    old_version: str | None  # None: not installed yet
    new_version: str | None  # None: to be removed
    diff: str  # unified diff of the values files; empty when they are the same

    @property
    def changed(self) -> bool:
        return self.old_version != self.new_version or bool(self.diff)

    def headline(self) -> str:
        if self.old_version is None:
            return f"release {self.name}: install chart {self.new_version}"
        if self.new_version is None:
            return f"release {self.name}: uninstall (chart {self.old_version})"
        if self.old_version != self.new_version:
            return f"release {self.name}: chart {self.old_version} -> {self.new_version}"
        what = "values change" if self.diff else "unchanged"
        return f"release {self.name}: chart {self.new_version}, {what}"


def release_records(config: HubConfig, files: Mapping[str, bytes]) -> dict[str, ReleaseRecord]:
    """What `up` gives each release of this config, from the rendered Kubernetes files."""
    out: dict[str, ReleaseRecord] = {}
    for release in rel.releases(config):
        values = {
            name: files[f"{rel.VALUES_DIR}/{name}"].decode()
            for name in release.values
            if f"{rel.VALUES_DIR}/{name}" in files
        }
        out[release.name] = ReleaseRecord(
            release.name, release.chart.name, release.chart.version, values
        )
    return out


def _values_text(record: ReleaseRecord | None) -> list[str]:
    if record is None:
        return []
    lines: list[str] = []
    for name, text in record.values.items():
        lines += [f"# {name}\n", *text.splitlines(keepends=True)]
    return lines


def diff_releases(
    deployed: Mapping[str, ReleaseRecord], wanted: Mapping[str, ReleaseRecord]
) -> list[ReleaseChange]:
    """One change per release in either, in install order (new ones after the existing)."""
    names = list(wanted) + [n for n in deployed if n not in wanted]
    changes: list[ReleaseChange] = []
    for name in names:
        old, new = deployed.get(name), wanted.get(name)
        diff = "".join(
            # Hunk headers without line numbers: the values files name every key.
            "@@\n" if line.startswith("@@") else line
            for line in difflib.unified_diff(
                _values_text(old),
                _values_text(new),
                fromfile=f"{name} {old.version} (deployed)" if old else f"{name} (not installed)",
                tofile=f"{name} {new.version} (plan)" if new else f"{name} (removed)",
                n=2,
            )
        )
        changes.append(
            ReleaseChange(name, old.version if old else None, new.version if new else None, diff)
        )
    return changes
