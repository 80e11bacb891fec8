"""Steps of the sign-in pages, as a browser takes them."""

from __future__ import annotations

import re

from django.contrib.auth import SESSION_KEY
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY

PASSWORD = "correct horse battery staple"  # tests.factories.UserFactory's


def enter_password(client: Client, user, password: str = PASSWORD, next_url: str | None = None,
                   **extra):
    data = {"username": user.get_username(), "password": password}
    if next_url is not None:
        data["next"] = next_url
    return client.post("/login/", data, **extra)


def enter_code(client: Client, code: str = "", recovery_code: str = ""):
    return client.post("/login/code/", {"code": code, "recovery_code": recovery_code})


def signed_in(client: Client) -> bool:
    return SESSION_KEY in client.session


def verified_with(client: Client) -> str | None:
    """The persistent id of the device this session passed the second factor with."""
    return client.session.get(DEVICE_ID_SESSION_KEY)


def shown_secret(html: str) -> str:
    """The setup key the enrolment page shows, without its spaces."""
    match = re.search(r'<code id="setup-key" class="secret">([A-Z2-7 ]+)</code>', html)
    assert match, "no setup key on the page"
    return match.group(1).replace(" ", "")


def shown_recovery_codes(html: str) -> list[str]:
    return re.findall(r"<li><code>([a-z2-7]{4}-[a-z2-7]{4})</code></li>", html)


def text(response) -> str:
    return response.content.decode()
