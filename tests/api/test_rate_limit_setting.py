"""API_RATE_LIMIT=0 turns the per-key limit off, as 0 does for the public forms (issue 13: the
load test runs the API that way; "0" used to reach DRF's parser and answer every request 500)."""

import pytest

from cert_portal.api.throttling import PerKeyThrottle
from tests import startup


@pytest.mark.parametrize("value, expected", [("0", None), ("", None), ("5/minute", "5/minute")])
def test_api_rate_limit_zero_or_empty_is_no_limit_for_drf(value, expected):
    started = startup.start_django(
        "json.dumps(settings.REST_FRAMEWORK['DEFAULT_THROTTLE_RATES']['api_key'])",
        DEBUG="1", API_RATE_LIMIT=value)

    assert started.returncode == 0, started.stderr
    assert started.stdout.splitlines()[-1] == (f'"{expected}"' if expected else "null")


def test_without_a_limit_every_request_is_answered(key_client, monkeypatch):
    monkeypatch.setattr(PerKeyThrottle, "THROTTLE_RATES", {"api_key": None})
    client = key_client("banking", scope="read")

    statuses = [client.get("/api/v1/incidents/").status_code for _ in range(4)]

    assert statuses == [200, 200, 200, 200]


def test_with_a_limit_the_request_past_it_is_429(key_client, monkeypatch):
    monkeypatch.setattr(PerKeyThrottle, "THROTTLE_RATES", {"api_key": "2/minute"})
    client = key_client("banking", scope="read")

    statuses = [client.get("/api/v1/incidents/").status_code for _ in range(3)]

    assert statuses == [200, 200, 429]
