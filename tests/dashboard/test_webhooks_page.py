"""The webhooks page (issue 11, points 8 and 9): heads register endpoints (the secret shown once),
pause and remove them, and read every delivery attempt; nobody else sees or manages them."""

import pytest

from incidents.models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from incidents.webhooks import deliver_due, webhook_endpoint_create
from tests.api.test_webhooks import Receiver
from tests.factories import make_incident

PAGE = "/dashboard/webhooks/"


@pytest.fixture
def loopback(settings):
    settings.WEBHOOK_ALLOW_LOOPBACK = True
    settings.NOTIFICATION_MAX_ATTEMPTS = 3


def register(client, url="https://soar.partner.example.org/hooks", events=None):
    return client.post(PAGE, {"url": url, "events": events or list(WebhookEvent.values)})


def test_a_head_registers_an_endpoint_and_sees_its_secret_once(member, staff_client):
    head = member("lahore", "head")
    client = staff_client(head)
    response = register(client, events=["incident.created", "advisory.published"])
    assert response.status_code == 302
    endpoint = WebhookEndpoint.objects.get(cert__slug="lahore")
    assert endpoint.events == ["advisory.published", "incident.created"]
    assert endpoint.created_by == head and endpoint.is_active
    page = client.get(PAGE).content.decode()
    assert endpoint.secret in page and "shown this once" in page
    again = client.get(PAGE).content.decode()
    assert endpoint.secret not in again and endpoint.url in again


@pytest.mark.parametrize("url, message", [
    ("http://soar.partner.example.org/hooks", "Use https://"),
    ("https://10.0.0.5/hooks", "must be a public one"),
])
def test_an_address_that_is_not_public_https_is_refused_with_a_reason(member, staff_client, url,
                                                                      message):
    response = register(staff_client(member("lahore", "head")), url=url)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_no_event_chosen_is_refused(member, staff_client):
    response = staff_client(member("lahore", "head")).post(
        PAGE, {"url": "https://soar.partner.example.org/hooks"})
    assert response.status_code == 400
    assert "Choose at least one event to receive." in response.content.decode()


def test_attempts_are_shown_to_the_heads(loopback, member, certs, staff_client, clock):
    head = member("lahore", "head")
    with Receiver(statuses=(500, 200)) as receiver:
        endpoint, _ = webhook_endpoint_create(actor=head, cert=certs["lahore"], url=receiver.url,
                                              events=["incident.created"])
        incident = make_incident(owner_cert=certs["lahore"], actor=member("lahore", "handler"))
        deliver_due()
        clock.advance(minutes=1)
        deliver_due()
    page = staff_client(head).get(f"{PAGE}{endpoint.public_id}/")
    assert page.status_code == 200
    text = page.content.decode()
    assert incident.reference in text and "Incident created" in text
    assert "HTTP 500" in text and "HTTP 200" in text and "delivered" in text
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    assert str(delivery.event_id) in text


def test_a_subject_no_longer_visible_is_not_named(loopback, member, certs, staff_client, clock):
    head = member("punjab", "head")
    with Receiver() as receiver:
        endpoint, _ = webhook_endpoint_create(actor=head, cert=certs["punjab"], url=receiver.url,
                                              events=["incident.created"])
        incident = make_incident(owner_cert=certs["lahore"], actor=member("lahore", "handler"),
                                 title="Turns red later")
        deliver_due()
        assert len(receiver.received) == 1
    from incidents.services import incident_change_tlp

    incident_change_tlp(incident=incident, actor=member("lahore", "handler"), tlp="TLP:RED")
    text = staff_client(head).get(f"{PAGE}{endpoint.public_id}/").content.decode()
    assert incident.reference not in text and "no longer visible to you" in text


def test_another_certs_endpoint_is_404(member, certs, staff_client):
    endpoint, _ = webhook_endpoint_create(actor=member("karachi", "head"), cert=certs["karachi"],
                                          url="https://karachi.example.org/h",
                                          events=["incident.created"])
    client = staff_client(member("lahore", "head"))
    assert client.get(f"{PAGE}{endpoint.public_id}/").status_code == 404
    assert client.post(f"{PAGE}{endpoint.public_id}/pause/").status_code == 404
    assert client.post(f"{PAGE}{endpoint.public_id}/remove/").status_code == 404
    assert "karachi.example.org" not in client.get(PAGE).content.decode()
    endpoint.refresh_from_db()
    assert endpoint.is_active


@pytest.mark.parametrize("role", ["handler", "analyst", "liaison"])
def test_non_heads_get_the_refused_page_or_404(member, certs, staff_client, role):
    endpoint, _ = webhook_endpoint_create(actor=member("lahore", "head"), cert=certs["lahore"],
                                          url="https://lahore.example.org/h",
                                          events=["incident.created"])
    client = staff_client(member("lahore", role))
    listing = client.get(PAGE)
    assert listing.status_code == 403
    assert "lahore.example.org" not in listing.content.decode()
    assert register(client).status_code == 403
    assert client.get(f"{PAGE}{endpoint.public_id}/").status_code == 404
    assert client.post(f"{PAGE}{endpoint.public_id}/remove/").status_code == 404
    assert WebhookEndpoint.objects.count() == 1


def test_a_head_pauses_resumes_and_removes(member, certs, staff_client):
    head = member("lahore", "head")
    endpoint, _ = webhook_endpoint_create(actor=head, cert=certs["lahore"],
                                          url="https://lahore.example.org/h",
                                          events=["incident.created"])
    client = staff_client(head)
    assert client.post(f"{PAGE}{endpoint.public_id}/pause/").status_code == 302
    endpoint.refresh_from_db()
    assert not endpoint.is_active
    assert client.post(f"{PAGE}{endpoint.public_id}/resume/").status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.is_active
    assert client.post(f"{PAGE}{endpoint.public_id}/explode/").status_code == 400
    assert client.post(f"{PAGE}{endpoint.public_id}/remove/").status_code == 302
    assert not WebhookEndpoint.objects.exists()


def test_the_empty_pages_say_so(member, certs, staff_client):
    head = member("lahore", "head")
    client = staff_client(head)
    assert "This CERT has no webhooks yet." in client.get(PAGE).content.decode()
    endpoint, _ = webhook_endpoint_create(actor=head, cert=certs["lahore"],
                                          url="https://lahore.example.org/h",
                                          events=["incident.created"])
    assert "Nothing was sent to this endpoint yet." in client.get(
        f"{PAGE}{endpoint.public_id}/").content.decode()


@pytest.mark.parametrize("count", [3, 40])
def test_the_attempts_page_costs_the_same_queries_whatever_its_length(
        member, certs, staff_client, clock, count, django_assert_num_queries):
    head = member("lahore", "head")
    endpoint, _ = webhook_endpoint_create(actor=head, cert=certs["lahore"],
                                          url="https://lahore.example.org/h",
                                          events=["incident.created"])
    incident = make_incident(owner_cert=certs["lahore"], actor=member("lahore", "handler"))
    entry = {"at": clock.now.isoformat(), "status": 500, "error": "HTTP 500", "excerpt": ""}
    WebhookDelivery.objects.bulk_create([
        WebhookDelivery(endpoint=endpoint, event="incident.created", incident=incident,
                        created_at=clock.now, attempts=1, attempt_log=[entry])
        for _ in range(count)])
    client = staff_client(head)
    client.get(f"{PAGE}{endpoint.public_id}/")
    # Session, user, OTP device, memberships, endpoint, role check, deliveries, visible
    # incidents, unread count.
    with django_assert_num_queries(9):
        response = client.get(f"{PAGE}{endpoint.public_id}/")
    shown = min(count, 25)
    assert response.content.decode().count("HTTP 500") == shown
    assert ("Older deliveries" in response.content.decode()) is (count > 25)
