"""Accounts kept by the hub itself (shared-password, native) or known to it (oidc, github)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from heliohub.config import HubConfig
from heliohub.config.auth import GitHubAuth, NativeAuth, OIDCAuth, SharedPasswordAuth
from heliohub.users.hubapi import HubAPI
from heliohub.users.model import Account, Directory, Outcome
from heliohub.users.native import NativeAccounts


def _q(name: str) -> str:
    return quote(name, safe="")


class HubDirectory(Directory):
    def __init__(
        self, config: HubConfig, api: HubAPI, native: NativeAccounts | None = None
    ) -> None:
        self.config = config
        self.auth = config.auth
        self.api = api
        self.native = native
        self.where = f"the hub ({self.auth.type} login)"

    # -- where accounts really live ------------------------------------------------------------

    def owner(self) -> str | None:
        """The outside system that owns the accounts, or None when the hub does."""
        if isinstance(self.auth, OIDCAuth):
            return f"the OpenID Connect provider {self.auth.issuer}"
        if isinstance(self.auth, GitHubAuth):
            return "GitHub (https://github.com/settings/profile; organizations and teams there)"
        return None

    def notes(self) -> list[str]:
        owner = self.owner()
        notes = []
        if owner:
            notes.append(
                f"accounts and passwords live at {owner}: create, disable and reset them there; "
                "here are the hub's users and admin flags"
            )
        if isinstance(self.auth, NativeAuth) and self.native is None:
            notes.append(
                "native: sign-up requests and their approval are on the hub's /hub/authorize page"
            )
        if isinstance(self.auth, SharedPasswordAuth):
            notes.append(
                "shared-password: everyone logs in with the one password; admins are "
                "auth.admin_users in the config and log in with the admin password"
            )
        return notes

    @staticmethod
    def normalize(name: str) -> str:
        # The hub lower-cases user names at login; do the same so `add Alice` is alice.
        return name.strip().lower()

    # -- listing -------------------------------------------------------------------------------

    def list(self) -> list[Account]:
        users = {u["name"]: u for u in self.api.users() if u.get("kind", "user") == "user"}
        accounts = [
            Account(
                name=name,
                admin=bool(u.get("admin")),
                status="active",
                groups=sorted(u.get("groups", [])),
                last_activity=u.get("last_activity"),
            )
            for name, u in users.items()
        ]
        if self.native is not None:
            approved = self.native.all()
            for account in accounts:
                if account.name not in approved:
                    # e.g. a configured admin: signs up (approved at once) or is added
                    account.status = "no password yet"
                elif not approved[account.name]:
                    account.status = "pending approval"
            accounts += [
                Account(name=name, admin=False, status="pending approval" if not ok else "active")
                for name, ok in approved.items()
                if name not in users
            ]
        return sorted(accounts, key=lambda a: a.name)

    # -- actions -------------------------------------------------------------------------------

    def _native_unreachable(self, action: str) -> None:
        if isinstance(self.auth, NativeAuth) and self.native is None:
            raise self.refuse(
                action,
                "NativeAuthenticator keeps its accounts in the hub's database inside the hub "
                "pod; people sign up at /hub/signup and admins approve them at /hub/authorize",
            )

    def add(self, name: str, admin: bool = False) -> Outcome:
        self._native_unreachable("add native accounts from here")
        name = self.normalize(name)
        if admin:
            self._admin_allowed(name)
        notes: list[str] = []
        secret = None
        if self.native is not None:
            secret = self.native.create(name)
            notes.append("give them this initial password; they change it at /hub/change-password")
        existing = self.api.user(name)
        if existing is None:
            self.api.call("POST", f"/users/{_q(name)}", {"admin": admin} if admin else None)
        elif secret is None:
            raise self.refuse("add " + name, "the hub already has this user")
        elif admin and not existing.get("admin"):
            # a hub user without a native account yet (e.g. a configured admin)
            self.api.call("PATCH", f"/users/{_q(name)}", {"admin": True})
        owner = self.owner()
        if owner:
            notes.append(f"{name} logs in with their account at {owner}")
        if isinstance(self.auth, SharedPasswordAuth):
            notes.append(f"{name} logs in with the shared password")
        return Outcome(
            message=f"added {name}" + (" as admin" if admin else ""), secret=secret, notes=notes
        )

    def remove(self, name: str) -> Outcome:
        name = self.normalize(name)
        notes: list[str] = []
        found = False
        if self.api.user(name) is not None:
            # The hub stops the user's server and, with NativeAuthenticator, drops its account.
            self.api.call("DELETE", f"/users/{_q(name)}")
            found = True
        if self.native is not None and self.native.delete(name):
            found = True
        if not found:
            raise self.refuse(f"remove {name}", "no such user")
        if name in self.auth.admin_users or name in self.auth.allowed_users:
            notes.append(
                f"{name} is still in auth.admin_users or auth.allowed_users of the config; "
                "remove them there too, or they can log in again"
            )
        owner = self.owner()
        if owner:
            notes.append(
                f"their account at {owner} is untouched; whether they can log in again depends "
                "on the allow rules in the config"
            )
        return Outcome(message=f"removed {name} and stopped their server", notes=notes)

    def _admin_allowed(self, name: str) -> None:
        if isinstance(self.auth, SharedPasswordAuth):
            raise self.refuse(
                "make admins",
                "with shared-password, logging in with the user password always drops admin "
                f"rights; add {name} to auth.admin_users in the config and run `heliohub up` "
                "(admins log in with the admin password)",
            )
        groups = getattr(self.auth, "admin_groups", [])
        if groups:
            raise self.refuse(
                "make admins",
                f"admin rights come from the groups {', '.join(groups)} at "
                f"{self.owner()} at every login; add {name} to one of them there",
            )

    def set_admin(self, name: str, admin: bool) -> Outcome:
        name = self.normalize(name)
        self._admin_allowed(name)
        if not admin and name in self.auth.admin_users:
            raise self.refuse(
                f"take admin rights from {name}",
                "they are in auth.admin_users of the config, which the hub applies at every "
                "start; remove them there and run `heliohub up`",
            )
        if not self._ensure_hub_user(name):
            raise self.refuse(f"change {name}", "no such user; add them first")
        self.api.call("PATCH", f"/users/{_q(name)}", {"admin": admin})
        return Outcome(message=f"{name} is {'now' if admin else 'no longer'} an admin")

    def approve(self, name: str) -> Outcome:
        name = self.normalize(name)
        self._native_unreachable("approve sign-ups from here")
        if self.native is None:
            return super().approve(name)
        newly = self.native.approve(name)
        # The hub itself knows an account only from its first login; make it known now, so
        # it can be put in groups or made admin before then.
        self._ensure_hub_user(name)
        if not newly:
            return Outcome(message=f"{name} was approved already")
        return Outcome(message=f"approved {name}; they can log in now")

    def _ensure_hub_user(self, name: str) -> bool:
        """Create the hub user of an existing native account; False if there is neither."""
        if self.api.user(name) is not None:
            return True
        if self.native is not None and name in self.native.all():
            self.api.call("POST", f"/users/{_q(name)}")
            return True
        return False

    def groups(self) -> dict[str, list[str]]:
        return {g["name"]: sorted(g.get("users", [])) for g in self.api.groups()}

    def _groups_here(self) -> None:
        if isinstance(self.auth, OIDCAuth):
            raise self.refuse(
                "change groups",
                f"the hub takes each user's groups from {self.owner()} (claim "
                f"'{self.auth.groups_claim}') at every login; change them there",
            )

    def join(self, name: str, group: str) -> Outcome:
        self._groups_here()
        name = self.normalize(name)
        if not self._ensure_hub_user(name):
            raise self.refuse(f"add {name} to {group}", "no such user; add them first")
        if group not in self.groups():
            self.api.call("POST", f"/groups/{_q(group)}")
        self.api.call("POST", f"/groups/{_q(group)}/users", {"users": [name]})
        return Outcome(message=f"{name} is in group {group}")

    def leave(self, name: str, group: str) -> Outcome:
        self._groups_here()
        name = self.normalize(name)
        if name not in self.groups().get(group, []):
            raise self.refuse(f"remove {name} from {group}", "they are not in it")
        self.api.call("DELETE", f"/groups/{_q(group)}/users", {"users": [name]})
        return Outcome(message=f"{name} left group {group}")


def native_of(config: HubConfig, db_file: Path) -> NativeAccounts | None:
    if isinstance(config.auth, NativeAuth):
        return NativeAccounts(db_file, config.auth.minimum_password_length)
    return None
