"""manage.py create_api_key (issue 11): a key printed once that works, and clear refusals."""

import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from organizations.models import ApiKey


def run(*args) -> str:
    out = StringIO()
    call_command("create_api_key", *args, stdout=out)
    return out.getvalue()


def test_it_prints_a_working_key_once(certs, clock):
    output = run("--cert", "banking", "--scope", "read", "--expires", "30", "--name", "MISP sync")
    secret = re.search(r"secret:\s+(cpk_\S+)", output).group(1)
    key = ApiKey.objects.get()
    assert (key.cert.slug, key.scope, key.name) == ("banking", "read", "MISP sync")
    assert (key.expires_at - clock.now).days == 30 and f"id:      {key.pk}" in output
    assert secret not in (key.key_hash, key.prefix)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert client.get("/api/v1/certs/banking/").json()["relation"] == "own"
    assert client.post("/api/v1/advisories/", {}, format="json").status_code == 403


@pytest.mark.parametrize(("args", "message"), [
    (("--cert", "nowhere", "--scope", "read"), "No CERT has the slug 'nowhere'"),
    (("--cert", "banking", "--scope", "admin"), "--scope: Choose a scope: read, read-write"),
    (("--cert", "banking", "--scope", "read", "--expires", "0"), "--expires: A key expires after"),
    (("--cert", "banking", "--scope", "read", "--expires", "99999"), "--expires: A key expires"),
    (("--cert", "banking", "--scope", "read", "--name", " "), "--name: Name the key"),
])
def test_bad_arguments_say_what_to_fix(certs, args, message):
    with pytest.raises(CommandError, match=re.escape(message)):
        run(*args)
    assert not ApiKey.objects.exists()


def test_a_non_number_of_days_is_refused(certs):
    with pytest.raises(CommandError, match="--expires"):
        run("--cert", "banking", "--scope", "read", "--expires", "soon")


def test_the_demo_key_is_made_once(certs):
    first = run("--cert", "banking", "--scope", "read", "--demo-once")
    assert "secret:  cpk_" in first
    second = run("--cert", "banking", "--scope", "read", "--demo-once")
    assert "already has a demo API key" in second and "cpk_" in second and "secret:" not in second
    assert "create_api_key --cert banking" in second
    assert ApiKey.objects.count() == 1
    ApiKey.objects.update(revoked_at=ApiKey.objects.get().created_at)
    assert "secret:  cpk_" in run("--cert", "banking", "--scope", "read", "--demo-once")
    assert ApiKey.objects.count() == 2
