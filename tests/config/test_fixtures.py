"""Every config rule has a fixture: `*.happy.*.yaml` must load, `*.error.*.yaml` must fail with
exactly the problems its `# expect:` lines name, one line each."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from heliohub.config import HubConfig, load, parse
from heliohub.errors import ConfigError

FIXTURES = Path(__file__).parent / "fixtures"
HAPPY = sorted(FIXTURES.glob("*.happy.*.yaml"))
ERROR = sorted(FIXTURES.glob("*.error.*.yaml"))


def _expected(path: Path) -> list[str]:
    return [
        line.removeprefix("# expect:").strip()
        for line in path.read_text().splitlines()
        if line.startswith("# expect:")
    ]


@pytest.mark.parametrize("path", HAPPY, ids=lambda p: p.name)
def test_happy_configs_load_and_round_trip(path: Path) -> None:
    loaded = load(path)
    assert loaded.config.provider == path.name.split(".")[0]
    # The model dumped to YAML and read back is the same model: nothing is lost or coerced.
    dumped = yaml.safe_dump(loaded.config.model_dump(mode="json"))
    assert parse(yaml.safe_load(dumped)) == loaded.config


@pytest.mark.parametrize("path", ERROR, ids=lambda p: p.name)
def test_error_configs_name_each_problem(path: Path) -> None:
    expected = _expected(path)
    assert expected, f"{path.name} has no '# expect:' line"
    with pytest.raises(ConfigError) as info:
        load(path)
    problems = info.value.problems
    for want in expected:
        assert any(p.startswith(want) for p in problems), f"{want!r} not in {problems}"
    assert len(problems) == len(expected), problems
    assert all("\n" not in p for p in problems)


def test_every_problem_line_names_path_and_rule() -> None:
    for path in ERROR:
        try:
            load(path)
        except ConfigError as exc:
            for line in exc.problems:
                head, sep, rest = line.partition(": ")
                assert sep and head and rest, line


def test_defaults_mirror_the_heliocloud_reference() -> None:
    c = HubConfig()
    assert c.provider == "local"
    assert [p.display_name for p in c.profiles] == ["Small", "Large", "Extra Large", "GPU"]
    assert c.default_profile.name == "small"
    assert (c.dask.worker_cores.min, c.dask.worker_cores.max) == (1, 4)
    assert (c.dask.worker_memory_gib.min, c.dask.worker_memory_gib.max) == (1, 8)
    assert c.dask.cluster_idle_timeout_s == 1800
    assert c.culling.server_idle_timeout_s == 3600
    pools = {p.name: p for p in c.aws.node_pools}
    assert pools["services"].capacity == "on-demand" and pools["services"].max_size == 2
    assert pools["user"].max_size == 15
    assert pools["gpu"].capacity == "spot" and pools["gpu"].labels["nvidia.com/gpu"] == "true"
    assert any(t.key == "nvidia.com/gpu" for t in pools["gpu"].taints)
    assert pools["burst"].capacity == "spot" and pools["burst"].max_size == 10
    assert c.local.bind == "127.0.0.1:8000"


def test_relative_paths_resolve_against_the_config_file(tmp_path: Path) -> None:
    sub = tmp_path / "deploy"
    sub.mkdir()
    (sub / "heliohub.yaml").write_text("local: {data_dir: ./state}\n")
    loaded = load(Path("deploy/heliohub.yaml"), environ={}, cwd=tmp_path)
    assert loaded.data_dir == sub / "state"


def test_config_discovery_order(tmp_path: Path) -> None:
    (tmp_path / "heliohub.yaml").write_text("name: from-cwd\n")
    (tmp_path / "env.yaml").write_text("name: from-env\n")
    (tmp_path / "flag.yaml").write_text("name: from-flag\n")
    env = {"HELIOHUB_CONFIG": str(tmp_path / "env.yaml")}
    assert load(tmp_path / "flag.yaml", env, tmp_path).config.name == "from-flag"
    assert load(None, env, tmp_path).config.name == "from-env"
    assert load(None, {}, tmp_path).config.name == "from-cwd"
    empty = tmp_path / "empty"
    empty.mkdir()
    built_in = load(None, {}, empty)
    assert built_in.path is None and built_in.config == HubConfig()


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path / "nope.yaml")
    assert info.value.problems == [f"{tmp_path / 'nope.yaml'}: no such file"]
