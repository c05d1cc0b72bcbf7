"""What `plan` shows per helm release: the chart version change and a diff of the values.

After `up` installs the releases, the layer records what each was given (chart, version, the
values files, byte for byte) in the state directory. `plan` renders again and compares, the
way `helm diff` compares a release with what an upgrade would send. Pure: records in, text out.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

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
    # unified diff of the manifests the chart renders (helm template), Secrets' values hidden
    manifest_diff: str = ""

    @property
    def changed(self) -> bool:
        return self.old_version != self.new_version or bool(self.diff or self.manifest_diff)

    def headline(self) -> str:
        if self.old_version is None:
            return f"release {self.name}: install chart {self.new_version}"
        if self.new_version is None:
            return f"release {self.name}: uninstall (chart {self.old_version})"
        if self.old_version != self.new_version:
            return f"release {self.name}: chart {self.old_version} -> {self.new_version}"
        what = "values change" if self.diff or self.manifest_diff else "unchanged"
        return f"release {self.name}: chart {self.new_version}, {what}"


def _unified(old: list[str], new: list[str], fromfile: str, tofile: str) -> str:
    return "".join(
        # Hunk headers without line numbers: the text around each change names it.
        "@@\n" if line.startswith("@@") else line
        for line in difflib.unified_diff(old, new, fromfile=fromfile, tofile=tofile, n=2)
    )


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (config files in ConfigMaps) as blocks, so a diff shows their lines."""


def _represent_str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _represent_str)


def _hide_checksums(value: Any) -> Any:
    """Checksum annotations of Secrets follow the secret values, hidden as they are."""
    if isinstance(value, list):
        return [_hide_checksums(v) for v in value]
    if not isinstance(value, dict):
        return value
    out = {}
    for key, item in value.items():
        if key == "annotations" and isinstance(item, dict):
            out[key] = {
                k: "(hidden)"
                if k.startswith("checksum/") and ("secret" in k or "token" in k)
                else v
                for k, v in item.items()
            }
        else:
            out[key] = _hide_checksums(item)
    return out


def _hide_secret(doc: dict[str, Any]) -> dict[str, Any]:
    """helm diff hides Secrets' values too; offline, the chart also makes up random tokens."""
    out = _hide_checksums(doc)
    if doc.get("kind") != "Secret":
        return out
    for key in ("data", "stringData"):
        if isinstance(doc.get(key), dict):
            out[key] = dict.fromkeys(doc[key], "(hidden)")
    return out


def normalized_manifests(text: str) -> list[str]:
    """The manifests as stable YAML lines: one document per object, sorted by kind and name."""
    docs = [d for d in yaml.safe_load_all(text or "") if isinstance(d, dict)]

    def key(d: dict[str, Any]) -> tuple[str, str, str]:
        meta = d.get("metadata") or {}
        return (str(d.get("kind")), str(meta.get("namespace", "")), str(meta.get("name")))

    lines: list[str] = []
    for doc in sorted(docs, key=key):
        kind, ns, name = key(doc)
        lines.append(f"# {kind} {ns + '/' if ns else ''}{name}\n")
        lines += yaml.dump(
            _hide_secret(doc), Dumper=_Dumper, sort_keys=True, width=2**31
        ).splitlines(keepends=True)
    return lines


def manifest_diff(name: str, old: str | None, new: str | None) -> str:
    return _unified(
        normalized_manifests(old or ""),
        normalized_manifests(new or ""),
        f"{name} manifests (deployed)" if old is not None else f"{name} (not installed)",
        f"{name} manifests (plan)" if new is not None else f"{name} (removed)",
    )


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
    deployed: Mapping[str, ReleaseRecord],
    wanted: Mapping[str, ReleaseRecord],
    manifests: Mapping[str, tuple[str | None, str | None]] | None = None,
) -> list[ReleaseChange]:
    """One change per release in either, in install order (new ones after the existing).

    manifests: per release, (deployed, planned) manifests as `helm template` renders them.
    """
    names = list(wanted) + [n for n in deployed if n not in wanted]
    changes: list[ReleaseChange] = []
    for name in names:
        old, new = deployed.get(name), wanted.get(name)
        diff = _unified(
            _values_text(old),
            _values_text(new),
            f"{name} {old.version} (deployed)" if old else f"{name} (not installed)",
            f"{name} {new.version} (plan)" if new else f"{name} (removed)",
        )
        rendered = (manifests or {}).get(name)
        changes.append(
            ReleaseChange(
                name,
                old.version if old else None,
                new.version if new else None,
                diff,
                manifest_diff(name, *rendered) if rendered else "",
            )
        )
    return changes
