"""Webhooks (issue 11, point 8): signed deliveries to a receiver on loopback, the recipients rule
of e-mail, retries with a growing delay, and the refusal of addresses that are not public."""

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from incidents.models import WebhookDelivery, WebhookEvent
from incidents.services import incident_comment, incident_escalate, incident_transition
from incidents.webhooks import (
    EVENT_ID_HEADER,
    SIGNATURE_HEADER,
    check_url,
    deliver_due,
    sign,
    verify_signature,
    webhook_endpoint_create,
    webhook_endpoint_set_active,
)
from tests.advisories.support import AdvisoryMaker
from tests.factories import make_incident

ALL_EVENTS = list(WebhookEvent.values)


class Receiver:
    """A partner's receiver on 127.0.0.1: answers each POST with the next status of `statuses`
    (the last one repeats) and keeps what it was sent."""

    def __init__(self, statuses=(200,)):
        self.statuses = list(statuses)
        self.received: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append({"headers": dict(self.headers), "body": body,
                                          "path": self.path})
                status = receiver.statuses.pop(0) if len(receiver.statuses) > 1 else receiver.statuses[0]
                self.send_response(status)
                if status in (301, 302):
                    self.send_header("Location", "http://127.0.0.1:9/elsewhere")
                self.end_headers()
                self.wfile.write(b"x" * 5000 if status >= 500 else b"ok")

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/cert"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def loopback(settings):
    settings.WEBHOOK_ALLOW_LOOPBACK = True
    settings.NOTIFICATION_MAX_ATTEMPTS = 3
    settings.NOTIFICATION_RETRY_DELAY_SECONDS = 60


@pytest.fixture
def receiver():
    with Receiver() as running:
        yield running


def endpoint_for(member, certs, slug, url, events=ALL_EVENTS):
    return webhook_endpoint_create(actor=member(slug, "head"), cert=certs[slug], url=url,
                                   events=events)


def test_a_delivery_is_signed_and_verifies_with_the_secret(loopback, receiver, member, certs,
                                                           clock):
    endpoint, secret = endpoint_for(member, certs, "lahore", receiver.url)
    incident = make_incident(owner_cert=certs["lahore"], actor=member("lahore", "handler"))
    assert deliver_due() == 1

    [request] = receiver.received
    assert request["path"] == "/hooks/cert"
    headers, body = request["headers"], request["body"]
    assert verify_signature(secret, headers[SIGNATURE_HEADER], body,
                            tolerance=300, now=clock.now.timestamp())
    assert not verify_signature("whsec_wrong", headers[SIGNATURE_HEADER], body,
                                tolerance=300, now=clock.now.timestamp())
    assert not verify_signature(secret, headers[SIGNATURE_HEADER], body + b" ",
                                tolerance=300, now=clock.now.timestamp())
    sent = json.loads(body)
    assert sent["type"] == "incident.created" and sent["cert"] == "lahore"
    assert sent["incident"]["reference"] == incident.reference
    assert sent["incident"]["tlp"] == "TLP:AMBER"
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    assert headers[EVENT_ID_HEADER] == str(delivery.event_id) == sent["id"]
    assert delivery.delivered_at == clock.now and delivery.attempts == 1
    assert delivery.attempt_log[0]["status"] == 200
    # The secret is stored to sign, and never sent.
    assert secret.encode() not in body


def test_a_timestamp_too_old_is_refused_by_the_receiver():
    body = b'{"id":"1"}'
    header = sign("whsec_s", body, 1_000_000)
    assert verify_signature("whsec_s", header, body, tolerance=300, now=1_000_000 + 300)
    assert not verify_signature("whsec_s", header, body, tolerance=300, now=1_000_000 + 301)
    assert not verify_signature("whsec_s", header, body, tolerance=300, now=1_000_000 - 301)
    assert not verify_signature("whsec_s", "t=abc,v1=00", body, tolerance=300, now=1_000_000)
    assert not verify_signature("whsec_s", "", body)


def test_an_endpoint_of_a_cert_that_may_not_see_the_incident_gets_nothing(
        loopback, receiver, member, certs, clock):
    endpoint_for(member, certs, "karachi", receiver.url)
    with Receiver() as lahore_receiver:
        lahore, _ = endpoint_for(member, certs, "lahore", lahore_receiver.url)
        make_incident(owner_cert=certs["lahore"], actor=member("lahore", "handler"))
        assert deliver_due() == 1
        assert len(lahore_receiver.received) == 1
    assert receiver.received == []
    # Nothing of it is kept for Karachi's heads either.
    assert list(WebhookDelivery.objects.values_list("endpoint_id", flat=True)) == [lahore.pk]


def test_the_oversight_cert_hears_of_amber_but_not_of_red(loopback, receiver, member, certs,
                                                          clock):
    endpoint_for(member, certs, "punjab", receiver.url, events=["incident.created"])
    make_incident(owner_cert=certs["lahore"], actor=member("lahore", "handler"), tlp="TLP:RED",
                  title="Red one")
    amber = make_incident(owner_cert=certs["lahore"], actor=member("lahore", "handler"))
    deliver_due()
    assert [json.loads(r["body"])["incident"]["reference"] for r in receiver.received] == [
        amber.reference]


def test_events_chosen_and_escalated_to_us(loopback, receiver, member, certs, clock):
    endpoint_for(member, certs, "punjab", receiver.url,
                 events=["incident.received", "incident.status_changed"])
    handler = member("lahore", "handler")
    incident = make_incident(owner_cert=certs["lahore"], actor=handler)
    incident_comment(incident=incident, actor=handler, body="Looking into it")  # not chosen
    incident_escalate(incident=incident, actor=handler, reason="Beyond us")
    incident.refresh_from_db()
    incident_transition(incident=incident, actor=member("punjab", "handler"),
                        to_status="acknowledged")
    deliver_due()
    sent = [json.loads(r["body"]) for r in receiver.received]
    assert [(s["type"], s["data"]) for s in sent] == [
        ("incident.received", {"how": "escalated"}),
        ("incident.status_changed", {"old": "new", "new": "acknowledged"}),
    ]


def test_a_failing_receiver_is_retried_later_then_delivered_once(loopback, member, certs, clock):
    with Receiver(statuses=(500, 200)) as receiver:
        endpoint, _ = endpoint_for(member, certs, "lahore", receiver.url)
        make_incident(owner_cert=certs["lahore"], actor=member("lahore", "handler"))
        assert deliver_due() == 0
        delivery = WebhookDelivery.objects.get(endpoint=endpoint)
        assert delivery.attempts == 1 and delivery.delivered_at is None
        assert delivery.next_attempt_at == clock.now.replace(minute=1)
        assert delivery.attempt_log[0]["status"] == 500
        # Only an excerpt of the answer is kept.
        assert delivery.attempt_log[0]["excerpt"] == "x" * 200
        assert deliver_due() == 0  # not yet due
        assert len(receiver.received) == 1
        clock.advance(minutes=1)
        assert deliver_due() == 1
        assert deliver_due() == 0  # delivered once
        assert len(receiver.received) == 2
        first, second = receiver.received
        assert first["headers"][EVENT_ID_HEADER] == second["headers"][EVENT_ID_HEADER]
    delivery.refresh_from_db()
    assert delivery.attempts == 2 and delivery.delivered_at == clock.now
    assert [entry["status"] for entry in delivery.attempt_log] == [500, 200]


def test_gives_up_after_the_last_attempt_with_growing_delays(loopback, member, certs, clock):
    with Receiver(statuses=(302,)) as receiver:
        endpoint, _ = endpoint_for(member, certs, "lahore", receiver.url)
        make_incident(owner_cert=certs["lahore"], actor=member("lahore", "handler"))
        waits = []
        for _ in range(3):
            start = clock.now
            deliver_due()
            delivery = WebhookDelivery.objects.get(endpoint=endpoint)
            if delivery.next_attempt_at and not delivery.failed_at:
                waits.append(delivery.next_attempt_at - start)
                clock.set(delivery.next_attempt_at)
        clock.advance(hours=1)
        deliver_due()
    delivery.refresh_from_db()
    assert [wait.total_seconds() for wait in waits] == [60, 120]
    assert delivery.failed_at is not None and delivery.attempts == 3
    assert len(receiver.received) == 3  # redirects were never followed to 127.0.0.1:9
    assert "redirects are not followed" in delivery.last_error


def test_advisory_published_reaches_the_certs_that_may_read_it(loopback, member, certs, clock):
    make_advisory = AdvisoryMaker(certs, member)
    with Receiver() as audience, Receiver() as other:
        endpoint_for(member, certs, "banking", audience.url, events=["advisory.published"])
        endpoint_for(member, certs, "karachi", other.url, events=["advisory.published"])
        advisory = make_advisory(tlp="TLP:AMBER", audience_ids=[certs["banking"].pk])
        deliver_due()
        assert len(audience.received) == 1 and other.received == []
        sent = json.loads(audience.received[0]["body"])
        assert sent["type"] == "advisory.published"
        assert sent["advisory"]["reference"] == advisory.reference
        assert sent["advisory"]["tlp"] == "TLP:AMBER" and sent["data"] == {"revision": 1}
        make_advisory(tlp="TLP:GREEN")
        deliver_due()
        assert len(audience.received) == 2 and len(other.received) == 1


def test_a_paused_endpoint_is_sent_nothing(loopback, receiver, member, certs, clock):
    endpoint, _ = endpoint_for(member, certs, "lahore", receiver.url)
    make_incident(owner_cert=certs["lahore"], actor=member("lahore", "handler"))
    webhook_endpoint_set_active(actor=member("lahore", "head"), endpoint=endpoint, active=False)
    make_incident(owner_cert=certs["lahore"], actor=member("lahore", "handler"))
    assert deliver_due() == 0 and receiver.received == []
    assert not WebhookDelivery.objects.exists()


@pytest.mark.parametrize("url, message", [
    ("http://partner.example.org/hook", "Use https://"),
    ("https://10.1.2.3/hook", "public one"),
    ("https://192.168.0.9/hook", "public one"),
    ("https://127.0.0.1/hook", "public one"),
    ("https://localhost/hook", "local name"),
    ("https://soar.internal/hook", "local name"),
    ("https://user:pw@partner.example.org/hook", "user name and password"),
    ("ftp://partner.example.org/", "https://"),
    ("", "Give the https:// address"),
])
def test_addresses_that_are_not_public_https_are_refused(url, message):
    with pytest.raises(ValidationError) as refused:
        check_url(url)
    assert message in " ".join(refused.value.message_dict["url"])


def test_a_public_https_address_is_accepted():
    assert check_url(" https://soar.partner.example.org/hooks?x=1 ") == (
        "https://soar.partner.example.org/hooks?x=1")


def test_a_delivery_to_a_name_that_resolves_to_loopback_is_not_sent(member, certs, clock,
                                                                     monkeypatch, settings):
    settings.NOTIFICATION_MAX_ATTEMPTS = 1
    endpoint, _ = endpoint_for(member, certs, "lahore", "https://partner.example.org/hook")
    monkeypatch.setattr("socket.getaddrinfo",
                        lambda *args, **kwargs: [(2, 1, 6, "", ("127.0.0.1", 443))])
    make_incident(owner_cert=certs["lahore"], actor=member("lahore", "handler"))
    assert deliver_due() == 0
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    assert delivery.failed_at is not None and "not public" in delivery.last_error


def test_only_a_head_registers_an_endpoint(member, certs):
    with pytest.raises(PermissionDenied):
        webhook_endpoint_create(actor=member("lahore", "handler"), cert=certs["lahore"],
                                url="https://partner.example.org/h", events=ALL_EVENTS)
    with pytest.raises(PermissionDenied):
        webhook_endpoint_create(actor=member("punjab", "head"), cert=certs["lahore"],
                                url="https://partner.example.org/h", events=ALL_EVENTS)
    with pytest.raises(ValidationError) as refused:
        webhook_endpoint_create(actor=member("lahore", "head"), cert=certs["lahore"],
                                url="https://partner.example.org/h", events=["nope"])
    assert "events" in refused.value.message_dict
