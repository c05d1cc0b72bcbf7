"""The user environment's rules that need no hub: what an existing environment must hold, what
the managed one is built from, when it is rebuilt, which interpreter it is made from, and how
`check` compares the notebook's, the workers' and the gateway's versions."""

from __future__ import annotations

import json
import os
import platform
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from heliohub import env_versions
from heliohub.check import _Journey, _versions_step
from heliohub.config import LoadedConfig, parse
from heliohub.config.local import UserEnvironment
from heliohub.errors import UserError
from heliohub.providers.base import SilentReporter
from heliohub.providers.local import user_env

HUB = {
    "jupyterhub": "6.1.1",
    "jupyterlab": "4.6.6",
    "ipykernel": "7.4.0",
    "dask-labextension": "7.0.0",
    "dask": "2026.8.0",
    "distributed": "2026.8.0",
    "dask-gateway": "2026.3.0",
    "bokeh": "3.9.2",
    "dask-gateway-server": "2026.3.0",
}
NATIVE = {"type": "native", "admin_users": ["admin"]}
GOOD = {
    "jupyterhub": "6.0.2",
    "jupyterlab": "4.5.0",
    "dask": "2026.6.1",
    "distributed": "2026.6.1",
    "dask-gateway": "2026.3.0",
}


def test_a_fitting_environment_has_no_problems() -> None:
    assert user_env.compatibility_problems(GOOD, HUB) == []


@pytest.mark.parametrize(
    ("change", "package", "says"),
    [
        ({"distributed": None}, "distributed", "is not installed"),
        ({"dask-gateway": "2024.1.0"}, "dask-gateway", "is 2024.1.0; the gateway runs"),
        ({"jupyterhub": "4.1.6"}, "jupyterhub", "needs the same major version"),
        ({"jupyterlab": "3.6.8"}, "jupyterlab", "version 4 or newer"),
        ({"distributed": "2026.5.0"}, "distributed", "but dask is 2026.6.1"),
    ],
)
def test_each_misfit_is_named(change: dict[str, str | None], package: str, says: str) -> None:
    problems = user_env.compatibility_problems({**GOOD, **change}, HUB)
    assert len(problems) == 1
    assert problems[0][0] == package
    assert says in problems[0][1]


def test_managed_requirements_pin_the_hubs_versions_then_add_the_teams() -> None:
    env = parse({"local": {"user_environment": {"packages": ["astropy", "sunpy>=6"]}}})
    reqs = user_env.requirements(env.local.user_environment, HUB)
    assert reqs[: len(user_env.SERVER_PACKAGES)] == [
        f"{name}=={HUB[name]}" for name in user_env.SERVER_PACKAGES
    ]
    assert "dask-gateway==2026.3.0" in reqs and "jupyterhub==6.1.1" in reqs
    assert reqs[-3:] == ["pip", "astropy", "sunpy>=6"]
    default = parse({}).local.user_environment
    assert default.managed and user_env.requirements(default, HUB)[-1] == "pip"


def test_the_spec_hash_changes_with_what_is_asked_for_only() -> None:
    base = Path("/usr/bin/python3")
    reqs = ["dask==2026.8.0", "pip"]
    first = user_env.spec_hash(reqs, base, "3.11.2")
    assert first == user_env.spec_hash(list(reqs), base, "3.11.2")
    assert first != user_env.spec_hash([*reqs, "astropy"], base, "3.11.2")
    assert first != user_env.spec_hash(reqs, Path("/usr/local/bin/python3"), "3.11.2")
    assert first != user_env.spec_hash(reqs, base, "3.12.1")


def _interpreter(where: Path) -> Path:
    where.mkdir(parents=True)
    python = where / "python3"
    shutil.copy(sys.executable, python)
    python.chmod(0o755)
    return python


def test_base_interpreter_for_other_users_avoids_a_closed_one(tmp_path: Path) -> None:
    closed = tmp_path / "closed"
    python = _interpreter(closed / "bin")
    closed.chmod(0o700)
    # Only the hub's own user runs it: heliohub's own interpreter is fine.
    assert user_env.base_interpreter(False, python) == python
    system = Path("/usr/bin/python3")
    if not system.exists() or user_env._interpreter_closed(system):
        with pytest.raises(UserError, match="closed to them"):
            user_env.base_interpreter(True, python)
        return
    assert user_env.base_interpreter(True, python) == system


def test_base_interpreter_open_to_others_is_kept(tmp_path: Path) -> None:
    opened = Path(os.environ.get("TMPDIR", "/tmp")) / f"hh-open-{os.getpid()}"
    try:
        python = _interpreter(opened / "bin")
        for d in (opened, opened / "bin"):
            d.chmod(0o755)
        if user_env.closed_to_others(opened.parent):
            pytest.skip(f"{opened.parent} is closed to other users on this machine")
        assert user_env.base_interpreter(True, python) == python
        assert stat.S_IMODE(python.stat().st_mode) == 0o755
    finally:
        shutil.rmtree(opened, ignore_errors=True)


def test_a_missing_existing_python_says_what_to_give(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"local.user_environment.python: .* does not exist"):
        user_env.existing(tmp_path / "nope" / "python", HUB)


# ----- check: the notebook, the workers and the gateway ------------------------------------

SAME = {
    "python": "3.11.2",
    "dask": "2026.8.0",
    "distributed": "2026.8.0",
    "dask-gateway": "2026.3.0",
}


def test_matching_versions_pass_and_are_reported() -> None:
    j = _Journey()
    _versions_step(
        j, {"notebook_versions": SAME, "worker_versions": SAME, "gateway_version": "2026.3.0"}
    )
    (step,) = j.steps
    assert step.ok
    assert "notebook: dask 2026.8.0, distributed 2026.8.0, dask-gateway 2026.3.0" in step.detail
    assert "gateway: dask-gateway-server 2026.3.0" in step.detail


def test_skew_between_image_and_gateway_fails_the_check() -> None:
    old_workers = {**SAME, "dask": "2025.1.0", "distributed": "2025.1.0"}
    problems = env_versions.mismatches(SAME, old_workers, "2026.3.0")
    assert problems == [
        "dask: 2026.8.0 in the notebook but 2025.1.0 on the workers",
        "distributed: 2026.8.0 in the notebook but 2025.1.0 on the workers",
    ]
    old_client = {**SAME, "dask-gateway": "2024.1.0"}
    j = _Journey()
    _versions_step(
        j,
        {
            "notebook_versions": old_client,
            "worker_versions": old_client,
            "gateway_version": "2026.3.0",
        },
    )
    assert not j.steps[0].ok
    assert (
        "dask-gateway: 2024.1.0 in the notebook, but the gateway runs 2026.3.0" in j.steps[0].detail
    )
    j = _Journey()
    _versions_step(j, {"notebook_versions": SAME, "worker_versions": SAME})
    assert not j.steps[0].ok and "version is unknown" in j.steps[0].detail


def test_validate_and_up_fall_back_by_what_hub_users_run(tmp_path: Path) -> None:
    """isolation auto as root: an existing environment other users cannot enter means none."""
    if shutil.which("useradd", path="/usr/sbin:/sbin:/usr/bin") is None:
        pytest.skip("no useradd: every fallback here would be for that reason")
    closed = tmp_path / "closed"
    python = _interpreter(closed / "bin")
    closed.chmod(0o700)
    data_dir = Path(tempfile.mkdtemp(prefix="hh-open-data-"))
    try:
        data_dir.chmod(0o755)
        if user_env.closed_to_others(data_dir):
            pytest.skip(f"{data_dir.parent} is closed to other users on this machine")
        local = {"data_dir": str(data_dir), "user_environment": {"python": str(python)}}
        # auto means system-users only for root with a login that proves who a person is.
        config = parse({"auth": NATIVE, "local": local})
        loaded = LoadedConfig(config, None, tmp_path)
        reason = user_env.isolation_fallback(loaded, 0, data_dir / "user-env")
        assert reason is not None and str(closed) in reason
        # Not root, or system-users asked for explicitly: no fallback (the latter fails hard).
        assert user_env.isolation_fallback(loaded, 1000, data_dir / "user-env") is None
        explicit = parse({"auth": NATIVE, "local": {**local, "isolation": "system-users"}})
        assert (
            user_env.isolation_fallback(LoadedConfig(explicit, None, tmp_path), 0, data_dir) is None
        )
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


# ----- status: one line about the environment ------------------------------------------------


def _loaded(tmp_path: Path, user_environment: dict[str, object]) -> LoadedConfig:
    local = {"data_dir": str(tmp_path / "data"), "user_environment": user_environment}
    return LoadedConfig(parse({"auth": NATIVE, "local": local}), None, tmp_path)


def _venv_runner(cmd: list[str], env: dict[str, str], reporter: object) -> tuple[int, str]:
    """Instead of uv: `uv venv` makes a real (empty) virtualenv, `uv pip install` nothing."""
    if cmd[1] == "venv":
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", cmd[-1]], check=True)
    return 0, ""


def test_status_says_the_managed_environment_is_not_built_yet(tmp_path: Path) -> None:
    env_dir = tmp_path / "user-env"
    line = user_env.status_line(_loaded(tmp_path, {}), env_dir, tmp_path / "state")
    assert line == (
        f"user environment: managed, {env_dir}: not built yet (`heliohub up` builds it)"
    )


def test_status_reports_the_managed_environment_and_a_config_that_moved_on(
    tmp_path: Path,
) -> None:
    env_dir = tmp_path / "user-env"
    managed = user_env.Managed(env_dir, SilentReporter(), {}, runner=_venv_runner)
    managed.ensure(UserEnvironment(packages=["astropy"]), HUB, Path(sys.executable))
    state_dir = tmp_path / "state"
    line = user_env.status_line(_loaded(tmp_path, {"packages": ["astropy"]}), env_dir, state_dir)
    # Nothing was installed by the stand-in for uv: the versions are what is really there.
    assert line == (
        f"user environment: managed, {env_dir}: dask missing, distributed missing, "
        f"dask-gateway missing, Python {platform.python_version()}"
    )
    moved = _loaded(tmp_path, {"packages": ["astropy", "sunpy"]})
    assert user_env.status_line(moved, env_dir, state_dir).endswith(
        "; the config asks for other packages than it holds: `heliohub up` updates it"
    )


def test_status_reports_an_existing_environment_once_up_checked_it(tmp_path: Path) -> None:
    python = tmp_path / "science" / "bin" / "python"
    loaded = _loaded(tmp_path, {"python": str(python)})
    state_dir = tmp_path / "state"
    line = user_env.status_line(loaded, tmp_path / "user-env", state_dir)
    assert line == f"user environment: existing, {python}: not checked yet (`heliohub up` does)"
    checked = user_env.UserEnv(python, python.parent, False, "3.12.1", dict(GOOD))
    user_env.save_checked(state_dir, checked)
    assert user_env.status_line(loaded, tmp_path / "user-env", state_dir) == (
        f"user environment: existing, {python}: dask 2026.6.1, distributed 2026.6.1, "
        "dask-gateway 2026.3.0, Python 3.12.1"
    )
    # Another environment named in the config: what `up` checked was not this one.
    other = _loaded(tmp_path, {"python": str(tmp_path / "other" / "bin" / "python")})
    assert "not checked yet" in user_env.status_line(other, tmp_path / "user-env", state_dir)


def _venv(where: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True)
    return where / "bin" / "python"


def test_the_probe_is_kept_until_a_package_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    python = _venv(tmp_path / "env")
    cache = tmp_path / "state" / user_env.PROBE_CACHE_FILE
    first = user_env.probe(python, ("heliohub-probe-pkg",), cache=cache)
    assert first["versions"] == {"heliohub-probe-pkg": None}
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600

    runs: list[Path] = []
    real = user_env._run_probe

    def counted(py: Path, names: tuple[str, ...]) -> dict[str, object]:
        runs.append(py)
        return real(py, names)

    monkeypatch.setattr(user_env, "_run_probe", counted)
    assert user_env.probe(python, ("heliohub-probe-pkg",), cache=cache) == first
    assert runs == []  # unchanged environment: answered from the cache

    # A package installed into the environment (as pip would leave it) is seen at once.
    [site] = (tmp_path / "env" / "lib").glob("python*/site-packages")
    info = site / "heliohub_probe_pkg-1.2.dist-info"
    info.mkdir()
    metadata = "Metadata-Version: 2.1\nName: heliohub-probe-pkg\nVersion: 1.2\n"
    (info / "METADATA").write_text(metadata)
    again = user_env.probe(python, ("heliohub-probe-pkg",), cache=cache)
    assert again["versions"] == {"heliohub-probe-pkg": "1.2"}
    assert runs == [python]

    # Other names asked for are probed, not answered with another question's versions.
    other = user_env.probe(python, ("heliohub-other-pkg",), cache=cache)
    assert other["versions"] == {"heliohub-other-pkg": None}
    assert len(runs) == 2


def test_a_damaged_probe_cache_is_probed_again(tmp_path: Path) -> None:
    python = _venv(tmp_path / "env")
    cache = tmp_path / user_env.PROBE_CACHE_FILE
    cache.write_text("{not json")
    found = user_env.probe(python, (), cache=cache)
    assert found["python"] == platform.python_version()
    # An answer kept for an interpreter that has changed since is not used.
    key = json.dumps([str(python), []])
    cache.write_text(json.dumps({key: {"fingerprint": {}, "result": {"python": "0.0"}}}))
    assert user_env.probe(python, (), cache=cache)["python"] == platform.python_version()
