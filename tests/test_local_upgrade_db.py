"""The hub database across JupyterHub versions on the local provider.

A database made by JupyterHub 5.4.3 (the 5.x line heliohub supported before 6; installed from
PyPI into a directory of its own, its ORM creates the database as a 5.x hub does), then `up`
with the JupyterHub installed here (6.x): the database is backed up, migrated with
`jupyterhub upgrade-db`, and the users and their API tokens still work against the running hub.
A migration that fails puts the backup back and says so.
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import jupyterhub
import pytest
import requests
from alembic.script import ScriptDirectory
from local_hub import LocalHub

from heliohub.errors import UserError
from heliohub.inhub.layout import Layout
from heliohub.providers.base import SilentReporter
from heliohub.providers.local import hub_db

PREVIOUS = "5.4.3"
BIN = Path(sys.executable).parent
MAKE_DB = """
import json, sys
import jupyterhub
from jupyterhub import orm
assert jupyterhub.__version__ == sys.argv[2], jupyterhub.__version__
db = orm.new_session_factory("sqlite:///" + sys.argv[1])()
# What a 5.x hub creates at its first start: its own OAuth client, which tokens belong to.
db.add(orm.OAuthClient(identifier="jupyterhub"))
db.commit()
tokens = {}
for name in ("alice", "bob"):
    user = orm.User(name=name)
    db.add(user)
    db.commit()
    tokens[name] = user.new_api_token(note="made by JupyterHub " + jupyterhub.__version__)
db.commit()
print(json.dumps(tokens))
"""


def revision(db: Path) -> str:
    with sqlite3.connect(db) as con:
        return str(con.execute("select version_num from alembic_version").fetchone()[0])


def dump(db: Path) -> list[str]:
    """The database's schema and rows as SQL."""
    with sqlite3.connect(db) as con:
        return list(con.iterdump())


def installed_head() -> str:
    script = ScriptDirectory(str(Path(jupyterhub.__file__).parent / "alembic"))
    return str(script.get_current_head())


@pytest.fixture(scope="session")
def previous_jupyterhub(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """JupyterHub 5.4.3 from PyPI, in a directory that shadows the installed one."""
    target = tmp_path_factory.mktemp("jupyterhub-5")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--target",
            str(target),
            f"jupyterhub=={PREVIOUS}",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, f"could not install jupyterhub {PREVIOUS}: {done.stderr}"
    return target


def make_previous_db(jh5: Path, db: Path) -> dict[str, str]:
    db.parent.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [sys.executable, "-c", MAKE_DB, str(db), PREVIOUS],
        env={**os.environ, "PYTHONPATH": str(jh5)},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return dict(json.loads(done.stdout))


@pytest.fixture
def upgraded(
    tmp_path: Path, previous_jupyterhub: Path, proxy_dir: Path
) -> Iterator[tuple[LocalHub, dict[str, str], str, str]]:
    hub = LocalHub(tmp_path / "deployment")
    hub.share_proxy(proxy_dir)
    db = hub.data_dir / "state" / "jupyterhub.sqlite"
    tokens = make_previous_db(previous_jupyterhub, db)
    before = revision(db)
    # What an earlier heliohub recorded after running JupyterHub 5.4.3 on this database.
    hub_db.record_version(Layout(hub.data_dir), PREVIOUS)
    try:
        result = hub.cli("up", "--detach")
        yield hub, tokens, before, result.stderr
    finally:
        hub.down()


@pytest.mark.integration
def test_up_backs_up_and_migrates_a_database_of_the_previous_jupyterhub(
    upgraded: tuple[LocalHub, dict[str, str], str, str],
) -> None:
    hub, tokens, before, output = upgraded
    state = hub.data_dir / "state"
    assert before != installed_head()  # 6.x has migrations 5.4.3 lacks
    # The migration ran: the schema is now the installed JupyterHub's.
    assert revision(state / "jupyterhub.sqlite") == installed_head()
    assert f"jupyterhub upgrade-db (JupyterHub {PREVIOUS} -> {jupyterhub.__version__})" in output
    assert hub_db.recorded_version(Layout(hub.data_dir)) == jupyterhub.__version__
    # The backup is the database as 5.4.3 left it, readable by root only.
    (backup,) = (state / "backups").glob(f"jupyterhub.sqlite.{PREVIOUS}.*")
    assert revision(backup) == before
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    # Users and their tokens survive: each token still authenticates its user on the new hub.
    for name, token in tokens.items():
        reply = requests.get(
            f"{hub.url}/hub/api/user", headers={"Authorization": f"token {token}"}, timeout=30
        )
        assert reply.status_code == 200, reply.text
        assert reply.json()["name"] == name
    assert requests.get(
        f"{hub.url}/hub/api/user", headers={"Authorization": "token not-a-token"}, timeout=30
    ).status_code in (401, 403)


def test_a_failed_migration_restores_the_backup(tmp_path: Path) -> None:
    """A database at a revision the installed JupyterHub does not know cannot be migrated."""
    layout = Layout(tmp_path)
    db = hub_db.db_file(layout)
    db.parent.mkdir(parents=True)
    with sqlite3.connect(db) as con:
        con.execute("create table alembic_version (version_num varchar(32) not null)")
        con.execute("insert into alembic_version values ('0123456789ab')")
        con.execute("create table users (id integer primary key, name text)")
        con.execute("insert into users (name) values ('alice')")
    original = dump(db)
    hub_db.record_version(layout, "99.0.0")
    env = {"PATH": f"{BIN}{os.pathsep}{os.defpath}"}
    with pytest.raises(UserError, match="failed, so it was restored from the backup") as info:
        hub_db.ensure_current(layout, BIN, env, SilentReporter())
    assert "0123456789ab" in str(info.value)  # what upgrade-db said is in the message
    assert dump(db) == original
    assert hub_db.recorded_version(layout) == "99.0.0"  # nothing claims it was migrated
    (backup,) = (layout.state_dir / "backups").glob("jupyterhub.sqlite.99.0.0.*")
    assert backup.exists()


def test_same_version_does_nothing_and_a_new_database_is_only_recorded(tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    layout.state_dir.mkdir()
    env = {"PATH": f"{BIN}{os.pathsep}{os.defpath}"}
    assert hub_db.ensure_current(layout, BIN, env, SilentReporter()) is None
    assert hub_db.recorded_version(layout) == jupyterhub.__version__
    hub_db.db_file(layout).write_bytes(b"")
    assert hub_db.ensure_current(layout, BIN, env, SilentReporter()) is None
    assert not (layout.state_dir / "backups").exists()
