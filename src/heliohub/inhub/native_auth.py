"""The hub's own accounts (`auth.type: native`) on JupyterHub 5 and 6. Runs inside the hub only.

nativeauthenticator 1.3.0, its last release, times logins with `self.statsd`, which JupyterHub
6 removed: every login there ends in a 500. Everything else in it (sign-up, the admins'
authorization page, password changes, the users table) works on both versions, so only its
login handler is replaced, by one that does what JupyterHub's own login handler does.

Only jupyterhub, nativeauthenticator and tornado are imported here, so the module can also run
in a hub image that has no heliohub installed (mounted next to the hub config on Kubernetes).
"""

from __future__ import annotations

from typing import Any

from nativeauthenticator import NativeAuthenticator
from nativeauthenticator.handlers import LoginHandler as NativeLoginHandler
from nativeauthenticator.handlers import SignUpHandler as NativeSignUpHandler
from traitlets import Bool


class LoginHandler(NativeLoginHandler):
    """nativeauthenticator's login page, with JupyterHub's own form handling and no statsd."""

    async def post(self) -> None:
        data: dict[str, str] = {}
        for arg in self.request.body_arguments:
            if arg == "_xsrf":
                # the form's token is checked by tornado and is no credential for the login
                continue
            # passwords may start or end with a space; user names may not
            data[arg] = self.get_argument(arg, strip=arg == "username")
        user = await self.login_user(data)
        if user:
            self._jupyterhub_user = user
            self.redirect(self.get_next_url(user))
            return
        username = data.get("username", "")
        error = "Invalid username or password."
        # Say why a right password is refused when the account only waits for an admin: it is
        # the one failure the user can do nothing about but wait.
        info = self.authenticator.get_user(username) if username else None
        waiting = info is not None and not info.is_authorized
        if waiting and info.is_valid_password(data.get("password", "")):
            error = f"User {username} has not been authorized by an administrator yet."
        self.set_status(403)
        self.finish(await self._render(login_error=error, username=username))


class SignUpHandler(NativeSignUpHandler):
    """nativeauthenticator's sign-up, which can keep the admins' names to the operator."""

    async def post(self) -> None:
        auth = self.authenticator
        if auth.enable_signup and not auth.admin_signup:
            name = auth.normalize_username(self.get_body_argument("username", "", strip=False))
            if name in auth.admin_users and not auth.user_exists(name):
                self.set_status(403)
                html = await self.render_template(
                    "signup.html",
                    ask_email=auth.ask_email_on_signup,
                    result_message=(
                        f"The name {name} is kept for an administrator, whose account is "
                        "created by the hub's operator."
                    ),
                    alert="alert-danger",
                    two_factor_auth=auth.allow_2fa,
                    recaptcha_key=auth.recaptcha_key,
                    tos=auth.tos,
                )
                self.finish(html)
                return
        await super().post()


class HeliohubNativeAuthenticator(NativeAuthenticator):
    """NativeAuthenticator with the handlers above."""

    admin_signup = Bool(
        True,
        config=True,
        help="Whether the names in admin_users may sign up on the web page (and are then "
        "authorized and admin at once). Whoever signs up first with such a name becomes admin, "
        "so turn it off wherever the operator can create the admins' accounts.",
    )

    def get_handlers(self, app: Any) -> list[tuple[str, Any]]:
        ours = {NativeLoginHandler: LoginHandler, NativeSignUpHandler: SignUpHandler}
        return [(path, ours.get(handler, handler)) for path, handler in super().get_handlers(app)]
