"""Accounts in an AWS Cognito user pool, through its admin API.

The pool is the system of record: the hub learns a user's groups (and so admin rights, through
auth.admin_groups) from the id token at each login.
"""

from __future__ import annotations

from typing import Any

from heliohub.config.auth import CognitoAuth
from heliohub.users.model import Account, Directory, Outcome


class CognitoDirectory(Directory):
    def __init__(self, idp: Any, pool_id: str, auth: CognitoAuth, region: str) -> None:
        self.idp = idp
        self.pool_id = pool_id
        self.auth = auth
        self.where = f"Cognito user pool {pool_id}"
        self.console = (
            f"https://{region}.console.aws.amazon.com/cognito/v2/idp/user-pools/{pool_id}/users"
            f"?region={region}"
        )

    def notes(self) -> list[str]:
        return [
            f"the hub reads groups from the pool at each login; admins are members of "
            f"{', '.join(self.auth.admin_groups) or '(no admin_groups configured)'}",
            f"the same pool in the AWS console: {self.console}",
        ]

    def _user_groups(self, name: str) -> list[str]:
        groups: list[str] = []
        token = None
        while True:
            kwargs: dict[str, Any] = {"UserPoolId": self.pool_id, "Username": name}
            if token:
                kwargs["NextToken"] = token
            resp = self.idp.admin_list_groups_for_user(**kwargs)
            groups += [g["GroupName"] for g in resp.get("Groups", [])]
            token = resp.get("NextToken")
            if not token:
                return sorted(groups)

    def _get(self, name: str) -> dict[str, Any] | None:
        try:
            return self.idp.admin_get_user(UserPoolId=self.pool_id, Username=name)  # type: ignore[no-any-return]
        except self.idp.exceptions.UserNotFoundException:
            return None

    def _must(self, name: str) -> dict[str, Any]:
        user = self._get(name)
        if user is None:
            raise self.refuse(f"find {name}", "no such user in the pool")
        return user

    @staticmethod
    def _email(attrs: list[dict[str, str]]) -> str | None:
        return next((a["Value"] for a in attrs if a["Name"] == "email"), None)

    def list(self) -> list[Account]:
        accounts: list[Account] = []
        paginator = self.idp.get_paginator("list_users")
        admins = set(self.auth.admin_groups)
        for page in paginator.paginate(UserPoolId=self.pool_id):
            for user in page.get("Users", []):
                name = self._email(user.get("Attributes", [])) or user["Username"]
                groups = self._user_groups(user["Username"])
                status = user.get("UserStatus", "?").lower().replace("_", " ")
                if not user.get("Enabled", True):
                    status = "disabled"
                accounts.append(
                    Account(
                        name=name,
                        admin=bool(admins & set(groups)) or name in self.auth.admin_users,
                        status=status,
                        groups=groups,
                    )
                )
        return sorted(accounts, key=lambda a: a.name)

    def add(self, name: str, admin: bool = False) -> Outcome:
        if "@" not in name:
            raise self.refuse(f"add {name}", "pool users are e-mail addresses")
        if self._get(name) is not None:
            raise self.refuse(f"add {name}", "the pool already has this user")
        self.idp.admin_create_user(
            UserPoolId=self.pool_id,
            Username=name,
            UserAttributes=[
                {"Name": "email", "Value": name},
                {"Name": "email_verified", "Value": "true"},
            ],
            DesiredDeliveryMediums=["EMAIL"],
        )
        notes = ["Cognito e-mailed them a temporary password; they set their own at first login"]
        if admin:
            notes.append(self.set_admin(name, True).message)
        return Outcome(message=f"invited {name}", notes=notes)

    def remove(self, name: str) -> Outcome:
        self._must(name)
        self.idp.admin_delete_user(UserPoolId=self.pool_id, Username=name)
        notes = []
        if name in self.auth.admin_users or name in self.auth.allowed_users:
            notes.append(f"{name} is still listed in the config's auth section; remove them there")
        return Outcome(message=f"deleted {name} from the pool", notes=notes)

    def set_enabled(self, name: str, enabled: bool) -> Outcome:
        self._must(name)
        if enabled:
            self.idp.admin_enable_user(UserPoolId=self.pool_id, Username=name)
            return Outcome(message=f"enabled {name}")
        self.idp.admin_disable_user(UserPoolId=self.pool_id, Username=name)
        return Outcome(
            message=f"disabled {name}: they cannot log in; their account and home are kept"
        )

    def set_admin(self, name: str, admin: bool) -> Outcome:
        if not self.auth.admin_groups:
            raise self.refuse(
                "make admins",
                "admins are members of auth.admin_groups, and the config names none; add "
                "admin_groups: [admins] and run `heliohub up`",
            )
        self._must(name)
        if admin:
            group = self.auth.admin_groups[0]
            self._ensure_group(group)
            self.idp.admin_add_user_to_group(
                UserPoolId=self.pool_id, Username=name, GroupName=group
            )
            return Outcome(message=f"{name} is an admin from their next login (group {group})")
        if name in self.auth.admin_users:
            raise self.refuse(
                f"take admin rights from {name}",
                "they are in auth.admin_users of the config; remove them there and run "
                "`heliohub up`",
            )
        for group in set(self._user_groups(name)) & set(self.auth.admin_groups):
            self.idp.admin_remove_user_from_group(
                UserPoolId=self.pool_id, Username=name, GroupName=group
            )
        return Outcome(message=f"{name} is no longer an admin from their next login")

    def _ensure_group(self, group: str) -> None:
        if group not in self.groups():
            self.idp.create_group(UserPoolId=self.pool_id, GroupName=group)

    def groups(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for page in self.idp.get_paginator("list_groups").paginate(UserPoolId=self.pool_id):
            for g in page.get("Groups", []):
                members: list[str] = []
                for upage in self.idp.get_paginator("list_users_in_group").paginate(
                    UserPoolId=self.pool_id, GroupName=g["GroupName"]
                ):
                    members += [
                        self._email(u.get("Attributes", [])) or u["Username"]
                        for u in upage.get("Users", [])
                    ]
                out[g["GroupName"]] = sorted(members)
        return out

    def join(self, name: str, group: str) -> Outcome:
        self._must(name)
        self._ensure_group(group)
        self.idp.admin_add_user_to_group(UserPoolId=self.pool_id, Username=name, GroupName=group)
        return Outcome(message=f"{name} is in group {group} from their next login")

    def leave(self, name: str, group: str) -> Outcome:
        self._must(name)
        self.idp.admin_remove_user_from_group(
            UserPoolId=self.pool_id, Username=name, GroupName=group
        )
        return Outcome(message=f"{name} left group {group} from their next login")

    def approve(self, name: str) -> Outcome:
        raise self.refuse(
            "approve sign-ups",
            "the pool allows no self sign-up; invite people with `heliohub users add EMAIL`",
        )
