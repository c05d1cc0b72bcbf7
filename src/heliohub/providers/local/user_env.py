"""The Python environment user servers and Dask workers run from, apart from heliohub's own.

- managed (the default): created and updated with uv under <data_dir>/user-env, from the
  packages a server and a worker need, pinned to the versions the hub and gateway run with, plus
  the team's science packages. It is reused as long as what was asked for did not change.
- existing (`python: ...`): used as it is, after checking that its Jupyter and Dask packages
  are there and fit the hub and the gateway.

Both see user site-packages, so `pip install --user` in a notebook works, and a user's Dask
workers (same OS user, same HOME) import what the notebook imports.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import re
import shutil
import stat
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from heliohub import env_versions
from heliohub.config import LoadedConfig
from heliohub.config.local import UserEnvironment, package_name
from heliohub.errors import UserError
from heliohub.files import replace_file
from heliohub.providers.local import isolation
from heliohub.providers.reporting import Reporter

# What a server and a worker need, pinned to the versions heliohub itself runs with: the hub
# and the gateway run from heliohub's environment, so these fit them by construction.
SERVER_PACKAGES = (
    "jupyterhub",
    "jupyterlab",
    "ipykernel",
    "dask-labextension",
    "dask",
    "distributed",
    "dask-gateway",
    "bokeh",
)
# `pip install --user` in a notebook runs this environment's pip.
UNPINNED = ("pip",)
# Executables the provider starts from the user environment.
EXECUTABLES = ("jupyterhub-singleuser", "dask")
SPEC_FILE = "heliohub-env.json"
# Bumped when the way the environment is built changes, so old ones are rebuilt.
FORMAT = 1
UV_TIMEOUT_S = 1800
PROBE_TIMEOUT_S = 120
# Passed on to uv: where its cache is, and how to reach the package index.
UV_ENV_KEEP = ("HOME", "PATH", "LANG", "LC_ALL", "TMPDIR", "XDG_CACHE_HOME", "SSL_CERT_FILE")
UV_ENV_PREFIXES = ("UV_",)
PROXY_VARS = ("http_proxy", "https_proxy", "no_proxy", "all_proxy")

# Run by the environment's own python: what is installed there, as JSON.
PROBE = """
import importlib.metadata as md, json, sys, sysconfig
names = %r
versions = {}
for name in names:
    try:
        versions[name] = md.version(name)
    except md.PackageNotFoundError:
        versions[name] = None
print(json.dumps({"versions": versions, "python": sys.version.split()[0],
                  "scripts": sysconfig.get_path("scripts"), "prefix": sys.prefix,
                  "path": [p for p in sys.path if p]}))
"""


# What `up` reports, and what an existing environment must have.
CORE = ("dask", "distributed", "dask-gateway", "jupyterhub", "jupyterlab")


@dataclass(frozen=True)
class UserEnv:
    """Where servers and workers run from, and what they run."""

    python: Path
    bin_dir: Path
    managed: bool
    python_version: str
    versions: dict[str, str | None] = field(default_factory=dict)

    def describe(self) -> str:
        kind = "managed" if self.managed else "existing"
        core = ", ".join(f"{n} {self.versions.get(n) or 'missing'}" for n in CORE)
        return f"{kind}, {self.python} (Python {self.python_version}): {core}"


def hub_versions() -> dict[str, str]:
    """Versions in heliohub's own environment: the hub, the gateway, and the pins."""
    out = {}
    for name in (*SERVER_PACKAGES, "dask-gateway-server"):
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError as exc:
            raise UserError(
                f"{name} is not installed next to heliohub: the local provider needs it. "
                "Install heliohub with the local extra (pip install 'heliohub[local]'), or run "
                "`make up`"
            ) from exc
    return out


def requirements(env: UserEnvironment, pins: dict[str, str]) -> list[str]:
    """What the managed environment holds: the pinned server packages, pip, the team's own."""
    own = env.packages or []
    pinned = [f"{name}=={pins[name]}" for name in SERVER_PACKAGES]
    return [*pinned, *UNPINNED, *own]


def spec_hash(reqs: list[str], base_python: Path, base_version: str) -> str:
    spec = {"format": FORMAT, "requirements": reqs, "base": str(base_python), "v": base_version}
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()


def _major_minor(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", version)[:2])


def compatibility_problems(
    found: dict[str, str | None], hub: dict[str, str]
) -> list[tuple[str, str]]:
    """(package, what is wrong) for each package an existing environment lacks or mismatches.

    - jupyterhub: the hub's major version (the server talks the hub's API);
    - jupyterlab: version 4 or newer (the Dask extension needs it);
    - dask-gateway: the gateway's release (year.month): the scheduler runs its plugin;
    - dask and distributed: present, and of one release (workers and notebook share it).
    """
    problems: list[tuple[str, str]] = []
    for name in CORE:
        if not found.get(name):
            problems.append((name, "is not installed"))
    hubv = found.get("jupyterhub")
    if hubv and _major_minor(hubv)[:1] != _major_minor(hub["jupyterhub"])[:1]:
        problems.append(
            (
                "jupyterhub",
                f"is {hubv}; the hub runs {hub['jupyterhub']} and needs the same major version",
            )
        )
    lab = found.get("jupyterlab")
    if lab and _major_minor(lab)[:1] < (4,):
        problems.append(("jupyterlab", f"is {lab}; version 4 or newer is needed"))
    client = found.get("dask-gateway")
    server = hub["dask-gateway-server"]
    if client and not env_versions.same_release(client, server):
        problems.append(
            (
                "dask-gateway",
                f"is {client}; the gateway runs dask-gateway-server {server}, and clusters "
                "start only with the same release",
            )
        )
    dask, dist = found.get("dask"), found.get("distributed")
    if dask and dist and dask != dist:
        problems.append(
            ("distributed", f"is {dist} but dask is {dask}; they must be of one release")
        )
    return problems


def _pin_for(name: str, hub: dict[str, str]) -> str:
    if name == "dask-gateway":
        return f"dask-gateway=={hub['dask-gateway-server']}"
    return f"{name}=={hub[name]}" if name in hub else name


def _others_can_enter(path: Path) -> bool:
    return bool(path.stat().st_mode & stat.S_IXOTH)


def closed_to_others(path: Path) -> Path | None:
    """The first directory on the way to path (or path itself) other users cannot enter."""
    for parent in [*reversed(path.parents), path]:
        if parent.exists() and not _others_can_enter(parent):
            return parent
    return None


def _interpreter_closed(python: Path) -> Path | None:
    real = python.resolve()
    return closed_to_others(real.parent) or (
        None if real.exists() and real.stat().st_mode & stat.S_IXOTH else real
    )


def base_interpreter(for_other_users: bool, own: Path | None = None) -> Path:
    """The Python the managed environment is made from.

    heliohub's own base interpreter, unless other OS users must run it and cannot (e.g. it lives
    under /root): then a system python3 they can run.
    """
    own = own or Path(getattr(sys, "_base_executable", "") or sys.executable)
    if not for_other_users or _interpreter_closed(own) is None:
        return own
    for candidate in ("/usr/bin/python3", "/usr/local/bin/python3"):
        path = Path(candidate)
        if path.exists() and _interpreter_closed(path) is None:
            return path
    closed = _interpreter_closed(own)
    raise UserError(
        f"isolation 'system-users': hub users cannot run heliohub's Python ({own}: {closed} is "
        "closed to them), and there is no system python3 they can run. Install python3 "
        "system-wide (e.g. apt-get install python3), or set local.user_environment.python to "
        "the python of an environment they can reach"
    )


def existing_python(loaded: LoadedConfig) -> Path | None:
    """local.user_environment.python as a path, or None for the managed environment."""
    given = loaded.config.local.user_environment.python
    if given is None:
        return None
    python = Path(given).expanduser()
    # Not resolved: a virtualenv's python is a symlink to its base interpreter.
    return python if python.is_absolute() else Path(os.path.abspath(loaded.base_dir / python))


def isolation_fallback(loaded: LoadedConfig, euid: int, env_dir: Path) -> str | None:
    """Why `auto` will run with isolation none instead of system-users, before anything is
    built: `validate` and `up` decide alike. None when it will not fall back."""
    config = loaded.config
    if config.local.isolation != "auto" or isolation.resolve(config, euid) != "system-users":
        return None
    python = existing_python(loaded)
    if python is None:
        try:
            base_interpreter(for_other_users=True)
        except UserError as exc:
            return str(exc)
        built = env_dir / "bin"
        bin_dir = built if all((built / e).exists() for e in EXECUTABLES) else None
    else:
        bin_dir = python.parent
    return isolation.fallback_reason(config, euid, loaded.data_dir, bin_dir)


def probe(
    python: Path, names: tuple[str, ...] = CORE, cache: Path | None = None
) -> dict[str, object]:
    """Run python and read its versions of names, its Python version and scripts directory.

    cache: a file that keeps the answer while the interpreter and every directory on its
    sys.path are unchanged, so that `up` does not start a Python process each time (its
    checks then run on the kept answer). Installing, removing or upgrading a package adds or
    removes entries in site-packages, which changes that directory's mtime.
    """
    key = json.dumps([str(python), list(names)])
    kept = _read_json(cache).get(key) if cache else None
    if isinstance(kept, dict) and isinstance(kept.get("result"), dict):
        found = kept["result"]
        if kept.get("fingerprint") == _fingerprint(python, found):
            return found
    found = _run_probe(python, names)
    if cache:
        _keep(cache, key, {"fingerprint": _fingerprint(python, found), "result": found})
    return found


def _stat_of(path: Path) -> list[int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns]


def _fingerprint(python: Path, found: dict[str, object]) -> dict[str, object]:
    """What changes when the interpreter, its venv config or an installed package changes."""
    paths = found.get("path")
    prefix = found.get("prefix")
    watched = [str(python), *(paths if isinstance(paths, list) else [])]
    if isinstance(prefix, str):
        watched += [prefix, str(Path(prefix) / "pyvenv.cfg")]
    return {
        "python": os.path.realpath(python),
        "stats": {p: _stat_of(Path(p)) for p in watched},
    }


def _keep(cache: Path, key: str, entry: dict[str, object]) -> None:
    data = _read_json(cache)
    data[key] = entry
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        replace_file(cache, (json.dumps(data, indent=2) + "\n").encode(), 0o600)
    except OSError:
        pass  # only a cache: the next `up` probes again


def _run_probe(python: Path, names: tuple[str, ...]) -> dict[str, object]:
    try:
        result = subprocess.run(
            [str(python), "-s", "-c", PROBE % (list(names),)],
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT_S,
            env={"PATH": os.defpath, "LANG": "C.UTF-8"},
            check=False,
        )
    except OSError as exc:
        raise UserError(f"cannot run {python}: {exc.strerror or exc}") from exc
    except subprocess.TimeoutExpired as exc:
        raise UserError(f"{python} did not answer within {PROBE_TIMEOUT_S}s") from exc
    if result.returncode != 0:
        tail = "\n".join(result.stderr.strip().splitlines()[-5:])
        raise UserError(f"{python} failed (exit {result.returncode}):\n{tail}")
    try:
        out: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError) as exc:
        raise UserError(f"{python} printed no versions: {result.stdout[-300:]}") from exc
    return out


def _scripts_dir(python: Path, reported: object) -> Path:
    """Where the environment's jupyterhub-singleuser and dask are."""
    for candidate in (python.parent, Path(str(reported)) if reported else None):
        if candidate and all((candidate / e).exists() for e in EXECUTABLES):
            return candidate
    return python.parent


def python_problem(python: Path) -> str | None:
    """Whether an existing environment's python is there to run (checked by validate too)."""
    where = "local.user_environment.python"
    if not python.exists():
        return (
            f"{where}: {python} does not exist; give the python of an existing environment "
            "(e.g. /opt/conda/envs/science/bin/python), or remove it to let heliohub manage one"
        )
    if python.is_dir() or not os.access(python, os.X_OK):
        return f"{where}: {python} is not an executable file; give the environment's python"
    return None


def existing(python: Path, hub: dict[str, str], cache: Path | None = None) -> UserEnv:
    """An existing environment, checked; UserError naming each problem and the fix.

    cache: where the probe's answer is kept while the environment is unchanged (`probe`)."""
    where = "local.user_environment.python"
    problem = python_problem(python)
    if problem:
        raise UserError(problem)
    found = probe(python, cache=cache)
    versions = found.get("versions")
    assert isinstance(versions, dict)
    problems = compatibility_problems(versions, hub)
    if problems:
        lines = [f"{where}: {python}:"]
        lines += [f"  {name} {what}" for name, what in problems]
        pins = " ".join(f"'{_pin_for(n, hub)}'" for n in dict(problems))
        lines.append(
            f"Fix: {python} -m pip install {pins} (the versions the hub and gateway run), "
            "or remove local.user_environment.python to let heliohub manage the environment"
        )
        raise UserError("\n".join(lines))
    bin_dir = _scripts_dir(python, found.get("scripts"))
    missing = [e for e in EXECUTABLES if not (bin_dir / e).exists()]
    if missing:
        raise UserError(
            f"{where}: {', '.join(missing)} not found next to {python}; give the python of a "
            "virtualenv or conda environment, whose bin directory holds them"
        )
    return UserEnv(
        python=python,
        bin_dir=bin_dir,
        managed=False,
        python_version=str(found.get("python", "")),
        versions=versions,
    )


def uv_binary() -> Path:
    try:
        from uv import find_uv_bin
    except ImportError as exc:
        raise UserError(
            "uv is not installed next to heliohub: it builds the user environment. Install "
            "heliohub with the local extra (pip install 'heliohub[local]'), or run `make up`"
        ) from exc
    return Path(find_uv_bin())


def uv_env(environ: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in environ.items() if k in UV_ENV_KEEP or k.startswith(UV_ENV_PREFIXES)}
    env.update({k: v for k, v in environ.items() if k.lower() in PROXY_VARS})
    env.setdefault("PATH", os.defpath)
    env["NO_COLOR"] = "1"
    return env


Runner = Callable[[list[str], dict[str, str], Reporter], tuple[int, str]]


def run_uv(cmd: list[str], env: dict[str, str], reporter: Reporter) -> tuple[int, str]:
    """Run uv, passing its summary lines on as progress; returns (exit code, its output)."""
    lines: list[str] = []
    # umask 022: files the environment is made of must be readable by every hub user.
    with subprocess.Popen(
        cmd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        umask=0o022,
    ) as proc:
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = raw.rstrip()
            lines.append(line)
            # " + name==version" for each package is too much to show; the summaries are not.
            if line and not line.startswith((" ", "warning: `VIRTUAL_ENV")):
                reporter.info(f"uv: {line}")
        code = proc.wait(timeout=UV_TIMEOUT_S)
    return code, "\n".join(lines)


@dataclass
class Managed:
    """The managed environment at env_dir."""

    env_dir: Path
    reporter: Reporter
    environ: dict[str, str]
    runner: Runner = run_uv
    # Where the base interpreter's probe is kept while it is unchanged (`probe`).
    probe_cache: Path | None = None

    @property
    def python(self) -> Path:
        return self.env_dir / "bin" / "python"

    @property
    def spec_file(self) -> Path:
        return self.env_dir / SPEC_FILE

    def recorded(self) -> dict[str, object]:
        try:
            data = json.loads(self.spec_file.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def ensure(self, env: UserEnvironment, hub: dict[str, str], base: Path) -> UserEnv:
        """Create or update the environment unless it already holds what is asked for."""
        base_found = probe(base, (), cache=self.probe_cache)
        base_version = str(base_found.get("python", ""))
        reqs = requirements(env, hub)
        digest = spec_hash(reqs, base, base_version)
        recorded = self.recorded()
        if recorded.get("hash") == digest and self.python.exists():
            self.reporter.info(f"user environment {self.env_dir} is up to date")
        else:
            try:
                self._build(reqs, base, base_version, recorded)
                found = probe(self.python, SERVER_PACKAGES)
                record = {"hash": digest, "requirements": reqs, "base": str(base)}
                record["versions"] = found.get("versions", {})
                record["python"] = found.get("python", base_version)
                self.spec_file.write_text(json.dumps(record, indent=2) + "\n")
                self.spec_file.chmod(0o644)
            except OSError as exc:
                raise UserError(
                    f"cannot build the user environment in {self.env_dir}: {exc.strerror or exc}"
                ) from exc
        record = self.recorded()
        versions = record.get("versions")
        assert isinstance(versions, dict)
        return UserEnv(
            python=self.python,
            bin_dir=self.python.parent,
            managed=True,
            python_version=base_version,
            versions=versions,
        )

    def _build(
        self, reqs: list[str], base: Path, base_version: str, recorded: dict[str, object]
    ) -> None:
        uv = str(uv_binary())
        env = uv_env(self.environ)
        own = ", ".join(reqs[len(SERVER_PACKAGES) + len(UNPINNED) :]) or "no extra packages"
        fresh = not self.python.exists() or recorded.get("base") != str(base)
        verb = "create" if fresh else "update"
        self.reporter.info(
            f"{verb} the user environment {self.env_dir} with uv (Python {base_version}; "
            f"{own}); servers and Dask workers run from it"
        )
        with self.reporter.stage(f"{verb} the user environment"):
            if fresh:
                if self.env_dir.exists():
                    shutil.rmtree(self.env_dir)
                self.env_dir.parent.mkdir(parents=True, exist_ok=True)
                # System site-packages on: pip refuses `--user` in a venv without them, and
                # Python turns user site-packages off there.
                self._uv(
                    [
                        uv,
                        "venv",
                        "--python",
                        str(base),
                        "--system-site-packages",
                        str(self.env_dir),
                    ],
                    env,
                    "create the environment",
                )
                self.env_dir.chmod(0o755)
            reqs_file = self.env_dir / "heliohub-requirements.in"
            reqs_file.write_text("\n".join(reqs) + "\n")
            self._uv(
                [
                    uv,
                    "pip",
                    "install",
                    "--python",
                    str(self.python),
                    # Exactly what is asked for: a package dropped from the config goes.
                    "--exact",
                    "-r",
                    str(reqs_file),
                ],
                env,
                "install the packages",
                reqs,
            )

    def _uv(
        self, cmd: list[str], env: dict[str, str], what: str, reqs: list[str] | None = None
    ) -> None:
        try:
            code, output = self.runner(cmd, env, self.reporter)
        except OSError as exc:
            raise UserError(f"could not run uv to {what}: {exc}") from exc
        if code == 0:
            return
        tail = "\n".join(output.strip().splitlines()[-12:])
        hint = "check that the package index is reachable"
        if reqs is not None:
            names = {package_name(r) for r in reqs[len(SERVER_PACKAGES) + len(UNPINNED) :]}
            pinned = [n for n in SERVER_PACKAGES if n in names]
            hint = (
                "check the names and versions in local.user_environment.packages "
                f"(these are pinned to the hub's versions: {', '.join(SERVER_PACKAGES)}"
                + (f"; you also named {', '.join(pinned)}" if pinned else "")
                + ") and that the package index is reachable"
            )
        raise UserError(
            f"uv could not {what} in {self.env_dir} (exit {code}):\n{tail}\nFix: {hint}, then "
            "run `heliohub up` again"
        )


# ----- what `heliohub status` says about it ----------------------------------------------------

# In the state directory: the existing environment `up` checked last (its versions), so that
# `status` need not run it.
CHECKED_FILE = "user-env.json"
# In the state directory: the probes' answers, kept while the interpreters are unchanged.
PROBE_CACHE_FILE = "user-env-probe.json"


def save_checked(state_dir: Path, env: UserEnv) -> None:
    """What `up` found in an existing environment, for `status`."""
    record = {"python": str(env.python), "python_version": env.python_version}
    record["versions"] = env.versions  # type: ignore[assignment]
    state_dir.mkdir(parents=True, exist_ok=True)
    (state_dir / CHECKED_FILE).write_text(json.dumps(record, indent=2) + "\n")


def _read_json(path: Path) -> dict[str, object]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _dask_versions(python_version: object, versions: object) -> str:
    found = versions if isinstance(versions, dict) else {}
    with_python = {**found, "python": str(python_version)} if python_version else found
    return env_versions.describe(with_python)


def status_line(loaded: LoadedConfig, env_dir: Path, state_dir: Path) -> str:
    """One line for `heliohub status`: which environment servers and workers run from, its
    Python and Dask versions; or that `up` has not built (or checked) it yet. Reads what `up`
    recorded, runs nothing."""
    python = existing_python(loaded)
    if python is not None:
        checked = _read_json(state_dir / CHECKED_FILE)
        if checked.get("python") != str(python):
            return f"user environment: existing, {python}: not checked yet (`heliohub up` does)"
        found = _dask_versions(checked.get("python_version"), checked.get("versions"))
        return f"user environment: existing, {python}: {found}"
    spec = _read_json(env_dir / SPEC_FILE)
    if not spec.get("versions") or not (env_dir / "bin" / "python").exists():
        return f"user environment: managed, {env_dir}: not built yet (`heliohub up` builds it)"
    line = f"user environment: managed, {env_dir}: " + _dask_versions(
        spec.get("python"), spec.get("versions")
    )
    built = spec.get("requirements")
    own = built[len(SERVER_PACKAGES) + len(UNPINNED) :] if isinstance(built, list) else []
    wanted = loaded.config.local.user_environment.packages or []
    if own != list(wanted):
        line += "; the config asks for other packages than it holds: `heliohub up` updates it"
    return line
