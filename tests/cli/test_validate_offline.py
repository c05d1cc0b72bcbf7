"""`validate` runs every offline check `up` makes: each bad case exits 2 with one line."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import pytest

from heliohub.config import load
from heliohub.providers.base import SilentReporter
from heliohub.providers.local import LocalProvider


def _heliohub(*args: str) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).parent / "heliohub"
    return subprocess.run(
        [str(exe), *args], capture_output=True, text=True, timeout=60, check=False
    )


def _problems(stderr: str) -> list[str]:
    """The problem lines after the `invalid config (...)` heading."""
    return [line.strip() for line in stderr.splitlines()[1:] if line.strip()]


CASES = {
    "empty": ("", "(file): empty config; run `heliohub init`"),
    "comments-only": ("# nothing here\n", "(file): empty config; run `heliohub init`"),
    "public-bind-without-tls": (
        "local: {bind: '0.0.0.0:18443', isolation: system-users, data_dir: DATA}\n"
        "auth: {type: native, admin_users: [ann]}\n",
        "local.bind: 0.0.0.0:18443 reaches beyond this machine, which needs TLS",
    ),
    "tls-files-missing": (
        "local: {data_dir: DATA}\nhttps: {mode: files, cert_file: nope.pem, key_file: FILE}\n",
        "https.cert_file: ",
    ),
    "data-dir-is-a-file": ("local: {data_dir: FILE}\n", "local.data_dir: "),
    "data-dir-cannot-be-created": ("local: {data_dir: FILE/sub}\n", "local.data_dir: "),
    "user-env-python-missing": (
        "local: {data_dir: DATA, user_environment: {python: FILE/bin/python}}\n",
        "local.user_environment.python: ",
    ),
    "user-env-python-not-executable": (
        "local: {data_dir: DATA, user_environment: {python: FILE}}\n",
        "local.user_environment.python: ",
    ),
    "bool-as-integer": (
        "culling: {server_idle_timeout_s: true}\n",
        "culling.server_idle_timeout_s: expected a whole number, got True",
    ),
    "profiles-on-local": (
        "profiles:\n  - {name: s, display_name: S, cpu: {guarantee: 1, limit: 2},"
        " memory_gib: {guarantee: 1, limit: 2}}\n",
        "profiles: the local provider cannot enforce server sizes",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_validate_refuses_with_one_line(tmp_path: Path, case: str) -> None:
    text, expected = CASES[case]
    a_file = tmp_path / "a-file"
    a_file.write_text("not a directory\n")
    cfg = tmp_path / "heliohub.yaml"
    cfg.write_text(text.replace("DATA", str(tmp_path / "data")).replace("FILE", str(a_file)))
    result = _heliohub("validate", "-c", str(cfg))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    problems = _problems(result.stderr)
    assert len(problems) == 1, result.stderr
    assert problems[0].startswith(expected), problems[0]


def test_tls_case_is_fixed_by_files_that_exist(tmp_path: Path) -> None:
    (tmp_path / "c.pem").write_text("cert\n")
    (tmp_path / "k.pem").write_text("key\n")
    cfg = tmp_path / "heliohub.yaml"
    cfg.write_text(
        f"local: {{data_dir: {tmp_path / 'data'}}}\n"
        "https: {mode: files, cert_file: c.pem, key_file: k.pem}\n"
    )
    assert _heliohub("validate", "-c", str(cfg)).returncode == 0


def test_public_bind_passes_validate_insecure_as_up_insecure_would(tmp_path: Path) -> None:
    cfg = tmp_path / "heliohub.yaml"
    cfg.write_text(
        f"local: {{bind: '0.0.0.0:18443', isolation: system-users, data_dir: {tmp_path / 'd'}}}\n"
        "auth: {type: native, admin_users: [ann]}\n"
    )
    result = _heliohub("validate", "--insecure", "-c", str(cfg))
    assert result.returncode == 0, result.stderr


def test_up_with_a_data_dir_that_is_a_file_is_a_message(tmp_path: Path) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("x\n")
    cfg = tmp_path / "heliohub.yaml"
    cfg.write_text(f"local: {{data_dir: {a_file / 'sub'}, isolation: none}}\n")
    result = _heliohub("up", "--detach", "-c", str(cfg))
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    assert "cannot be created" in result.stderr
    assert a_file.read_text() == "x\n"


def test_up_never_changes_the_mode_of_a_directory_it_did_not_create(tmp_path: Path) -> None:
    data = tmp_path / "existing"
    data.mkdir(mode=0o750)
    data.chmod(0o750)
    cfg = tmp_path / "heliohub.yaml"
    cfg.write_text(f"local: {{data_dir: {data}, isolation: none}}\n")
    provider = LocalProvider(load(cfg), SilentReporter())
    provider._prepare_dirs("none")
    assert stat.S_IMODE(data.stat().st_mode) == 0o750
    # What it created itself gets the mode it needs.
    assert stat.S_IMODE((data / "state").stat().st_mode) == 0o700
    assert stat.S_IMODE((data / "homes").stat().st_mode) == 0o755
    # ...and keeps managing it: a later start may tighten it again.
    (data / "homes").chmod(0o777)
    provider._prepare_dirs("none")
    assert stat.S_IMODE((data / "homes").stat().st_mode) == 0o755
    assert stat.S_IMODE(data.stat().st_mode) == 0o750


def test_the_starter_and_the_default_still_validate(tmp_path: Path) -> None:
    cfg = tmp_path / "heliohub.yaml"
    assert _heliohub("init", "-o", str(cfg)).returncode == 0
    result = _heliohub("validate", "-c", str(cfg))
    assert result.returncode == 0, result.stderr
