"""Every verb on every provider gives a result or a clear message, never a traceback.

Nothing is deployed: the local hub is stopped, the Kubernetes cluster does not exist (the
kubeconfig points at a closed loopback port), and AWS is a closed loopback endpoint with dummy
credentials. What is tested is the contract of the CLI and the providers: each verb either does
its job or says, in one line, why it cannot.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import get_args

import pytest
import typer
from typer.testing import CliRunner

from heliohub.cli.main import app
from heliohub.config import HubConfig, LoadedConfig
from heliohub.config.model import Provider
from heliohub.errors import UserError
from heliohub.providers import REGISTRY, get_provider
from heliohub.providers.base import SilentReporter

# Commands that do not act on a deployment (no -c), and so not on a provider.
NOT_ON_A_DEPLOYMENT = {"init", "schema", "kube-credentials"}
VERBS: dict[str, list[str]] = {
    "validate": ["validate"],
    "render": ["render", "-o", "{tmp}/rendered"],
    "up": ["up", "--detach"],
    "down": ["down"],
    "status": ["status"],
    "logs": ["logs"],
    "plan": ["plan"],
    "check": ["check"],
    "doctor": ["doctor"],
    "cost": ["cost"],
    "users": ["users", "list"],
    "service": ["service", "install", "--unit-dir", "{tmp}/units"],
}
CONFIGS = {
    # A public bind without TLS: `up` must refuse it before starting anything.
    "local": "provider: local\nlocal: {bind: '0.0.0.0:8000', data_dir: ./data}\n",
    "kubernetes": "provider: kubernetes\nauth: {type: native}\nlocal: {data_dir: ./data}\n",
    "aws": "provider: aws\nauth: {type: native}\nlocal: {data_dir: ./data}\n",
}


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _kubeconfig(path: Path, port: int) -> None:
    path.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: nowhere\n"
        f"clusters: [{{name: nowhere, cluster: {{server: 'https://127.0.0.1:{port}'}}}}]\n"
        "contexts: [{name: nowhere, context: {cluster: nowhere, user: nobody}}]\n"
        "users: [{name: nobody, user: {token: none}}]\n"
    )


def test_the_verbs_here_are_every_verb_of_the_cli() -> None:
    names = set(typer.main.get_command(app).commands)  # type: ignore[attr-defined]
    assert names - NOT_ON_A_DEPLOYMENT == set(VERBS)


def test_every_provider_of_the_config_is_registered() -> None:
    assert set(get_args(Provider)) == set(REGISTRY)


@pytest.mark.parametrize("provider", sorted(CONFIGS))
@pytest.mark.parametrize("verb", sorted(VERBS))
def test_verb_gives_a_result_or_a_clear_message(
    provider: str, verb: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = tmp_path / "heliohub.yaml"
    cfg.write_text(CONFIGS[provider])
    port = _closed_port()
    _kubeconfig(tmp_path / "kubeconfig", port)
    env = {
        "KUBECONFIG": str(tmp_path / "kubeconfig"),
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_MAX_ATTEMPTS": "1",
        "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials"),
        "HOME": str(tmp_path),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    args = [a.replace("{tmp}", str(tmp_path)) for a in VERBS[verb]]
    result = CliRunner().invoke(app, [*args, "-c", str(cfg)])
    output = result.output
    assert "Traceback" not in output
    # Any exception other than the CLI's own exit is a crash the user would see.
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"{provider} {verb}: {result.exception!r}\n{output}"
    )
    if result.exit_code != 0:
        lines = [line for line in output.splitlines() if line.strip()]
        assert lines, f"{provider} {verb} failed without a word"
        # A failure says so in words: an error line, an invalid config, failed checks, or (for
        # status, whose exit code is the deployment's health) the state it found.
        markers = ("error:", "invalid config", "✗", "FAIL", "refus", "): stopped", "): partial")
        assert any(marker in output for marker in markers), (
            f"{provider} {verb}: exit {result.exit_code} without a clear message:\n{output}"
        )


def test_an_unknown_provider_is_refused_not_guessed(tmp_path: Path) -> None:
    # The model refuses it; a config built around the model must not fall through to another.
    config = HubConfig().model_copy(update={"provider": "gcp"})
    loaded = LoadedConfig(config, None, tmp_path)
    with pytest.raises(UserError, match="provider: 'gcp' is unknown; allowed: local, kubernetes"):
        get_provider(loaded, SilentReporter())
