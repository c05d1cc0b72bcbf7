"""NativeAuthenticator's own accounts: its `users_info` table in the hub's database.

NativeAuthenticator keeps password hashes and approval there, next to the hub's tables. Adding
an account writes a row as its sign-up form would (bcrypt hash, authorized by an admin), so it
works even with `signup: off`, where the form is closed; approval sets the row's flag as its
/hub/authorize page does, but only ever to approved (the page toggles).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from heliohub.errors import UserError


@contextmanager
def _session(db_file: Path) -> Iterator[object]:
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    if not db_file.exists():
        raise UserError(f"no hub database at {db_file}: start the hub once with `heliohub up`")
    engine = create_engine(f"sqlite:///{db_file}")
    try:
        with Session(engine) as session:
            yield session
    finally:
        engine.dispose()


class NativeAccounts:
    def __init__(self, db_file: Path, minimum_password_length: int) -> None:
        self.db_file = db_file
        self.minimum_password_length = minimum_password_length

    def all(self) -> dict[str, bool]:
        """username -> approved."""
        from nativeauthenticator.orm import UserInfo

        with _session(self.db_file) as s:
            return {u.username: bool(u.is_authorized) for u in s.query(UserInfo).all()}  # type: ignore[attr-defined]

    def create(self, name: str) -> str:
        """A new approved account with a random password, which is returned."""
        import bcrypt
        from nativeauthenticator.orm import UserInfo

        password = secrets.token_urlsafe(max(12, self.minimum_password_length))
        with _session(self.db_file) as s:
            if UserInfo.find(s, name) is not None:
                raise UserError(f"{name} already has an account")
            s.add(  # type: ignore[attr-defined]
                UserInfo(
                    username=name,
                    password=bcrypt.hashpw(password.encode(), bcrypt.gensalt()),
                    is_authorized=True,
                )
            )
            s.commit()  # type: ignore[attr-defined]
        return password

    def approve(self, name: str) -> bool:
        """Approve a sign-up; False if it was approved already."""
        from nativeauthenticator.orm import UserInfo

        with _session(self.db_file) as s:
            info = UserInfo.find(s, name)
            if info is None:
                raise UserError(f"{name} has not signed up; `heliohub users list` shows who has")
            if info.is_authorized:
                return False
            info.is_authorized = True
            s.commit()  # type: ignore[attr-defined]
            return True

    def delete(self, name: str) -> bool:
        from nativeauthenticator.orm import UserInfo

        with _session(self.db_file) as s:
            info = UserInfo.find(s, name)
            if info is None:
                return False
            s.delete(info)  # type: ignore[attr-defined]
            s.commit()  # type: ignore[attr-defined]
            return True
