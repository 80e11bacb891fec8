"""The public's subscription to TLP:CLEAR advisories (issue 10, point 7): double opt-in, the same
answer whoever is already subscribed, signed links that never 500, one-click unsubscribe
(RFC 8058), a rate limit, English and Urdu."""

from __future__ import annotations

import re
import time as real_time
from datetime import timedelta

import pytest
from django.core import mail, signing
from django.test import Client
from django.utils import timezone

from advisories.distribution import distribute
from advisories.models import PublicSubscriber
from advisories.subscriptions.services import unsubscribe_url

BASE = "http://portal.test.example"
FORM = "/advisories/subscription/"
SENT = "/advisories/subscription/sent/"
CONFIRM_LINK = re.compile(rf"{re.escape(BASE)}(/advisories/subscription/confirm/[^/\s]+/)")


@pytest.fixture
def subscribe(db, client, django_capture_on_commit_callbacks):
    """subscribe(email, language="en", min_severity=0) -> the response to the form (the
    confirmation e-mail, sent on commit, is in mail.outbox)."""

    def post(email: str, *, language: str = "en", min_severity=0, **extra):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(FORM, {"email": email, "language": language,
                                      "min_severity": min_severity}, **extra)

    return post


def confirmation_links(to: str) -> list[str]:
    return [CONFIRM_LINK.search(message.body).group(1) for message in mail.outbox
            if message.to == [to]]


def page_text(response) -> str:
    """The page without its CSRF token (masked afresh on every response)."""
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", response.content.decode())


def advisory_mail(to: str) -> list[mail.EmailMessage]:
    return [message for message in mail.outbox
            if message.to == [to] and message.subject.startswith("[TLP:")]


def test_the_form_labels_its_fields(client, db):
    response = client.get(FORM)
    assert response.status_code == 200
    page = response.content.decode()
    for field in ("email", "language", "min_severity"):
        assert f'<label for="id_{field}">' in page
    assert "Advisories by e-mail" in page


def test_double_opt_in_then_advisories_with_an_unsubscribe_link_until_unsubscribed(
        client, subscribe, make_advisory, clock):
    response = subscribe("Reader@Public.example", min_severity=2)
    assert (response.status_code, response["Location"]) == (302, SENT)
    [confirmation] = mail.outbox
    assert confirmation.to == ["reader@public.example"]
    assert "Confirm your subscription" in confirmation.subject
    assert "7 days" in confirmation.body
    subscriber = PublicSubscriber.objects.get()
    assert (subscriber.email, subscriber.confirmed_at) == ("reader@public.example", None)

    # Nothing is sent before confirmation.
    distribute(make_advisory(tlp="TLP:CLEAR", severity=4).current_revision_id)
    assert advisory_mail("reader@public.example") == []

    [link] = confirmation_links("reader@public.example")
    page = client.get(link)
    assert page.status_code == 200
    assert "Confirm my subscription" in page.content.decode()
    subscriber.refresh_from_db()
    assert subscriber.confirmed_at is None  # a GET (a mail scanner, say) changes nothing
    confirmed = client.post(link)
    assert confirmed.status_code == 200
    assert "You are subscribed" in confirmed.content.decode()
    subscriber.refresh_from_db()
    assert subscriber.is_active and subscriber.min_severity == 2

    mail.outbox.clear()
    advisory = make_advisory(tlp="TLP:CLEAR", severity=3)
    distribute(advisory.current_revision_id)
    [message] = advisory_mail("reader@public.example")
    assert message.subject.startswith(f"[TLP:CLEAR] {advisory.reference}: ")
    header = message.extra_headers["List-Unsubscribe"]
    unsubscribe = header.strip("<>").removeprefix(BASE)
    assert header.startswith(f"<{BASE}/advisories/subscription/unsubscribe/")
    assert f"{BASE}{unsubscribe}" in message.body
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    page = client.get(unsubscribe)
    assert page.status_code == 200 and "reader@public.example" in page.content.decode()
    subscriber.refresh_from_db()
    assert subscriber.is_active  # the GET only shows the button
    done = client.post(unsubscribe)
    assert done.status_code == 200 and "You are unsubscribed" in done.content.decode()
    subscriber.refresh_from_db()
    assert not subscriber.is_active

    mail.outbox.clear()
    distribute(make_advisory(tlp="TLP:CLEAR", severity=4).current_revision_id)
    assert advisory_mail("reader@public.example") == []
    # Unsubscribing again changes nothing and says so plainly.
    again = client.post(unsubscribe)
    assert again.status_code == 200


def test_one_click_unsubscribe_works_without_a_csrf_token_and_only_there(db, make_advisory):
    subscriber = PublicSubscriber.objects.create(email="reader@public.example", language="en",
                                                 created_at=timezone.now(), confirmed_at=timezone.now())
    distribute(make_advisory(tlp="TLP:CLEAR").current_revision_id)
    [message] = advisory_mail("reader@public.example")
    unsubscribe = message.extra_headers["List-Unsubscribe"].strip("<>").removeprefix(BASE)
    mail_client = Client(enforce_csrf_checks=True)  # a mail client: no cookie, no CSRF token

    response = mail_client.post(unsubscribe, data="List-Unsubscribe=One-Click",
                                content_type="application/x-www-form-urlencoded")

    assert response.status_code == 200
    subscriber.refresh_from_db()
    assert subscriber.unsubscribed_at is not None
    # Everything else keeps its CSRF protection.
    refused = mail_client.post(FORM, {"email": "x@public.example", "language": "en",
                                      "min_severity": 0})
    assert refused.status_code == 403
    assert not PublicSubscriber.objects.filter(email="x@public.example").exists()


def test_the_page_answers_the_same_whether_or_not_the_address_was_subscribed(
        client, subscribe, clock):
    PublicSubscriber.objects.create(email="known@public.example", language="en", min_severity=3,
                                    created_at=clock.now, confirmed_at=clock.now)

    known = subscribe("known@public.example", language="ur", min_severity=0)
    unknown = subscribe("unknown@public.example", language="ur", min_severity=0)

    assert (known.status_code, known["Location"]) == (unknown.status_code, unknown["Location"])
    assert page_text(client.get(known["Location"])) == page_text(client.get(unknown["Location"]))
    # Each gets a confirmation; the known one's settings change only once it is followed.
    assert len(confirmation_links("known@public.example")) == 1
    assert len(confirmation_links("unknown@public.example")) == 1
    known_row = PublicSubscriber.objects.get(email="known@public.example")
    assert (known_row.language, known_row.min_severity, known_row.is_active) == ("en", 3, True)
    client.post(confirmation_links("known@public.example")[0])
    known_row.refresh_from_db()
    assert (known_row.language, known_row.min_severity, known_row.is_active) == ("ur", 0, True)


def test_resubscribing_after_unsubscribing_starts_a_new_confirmation(client, subscribe,
                                                                     make_advisory, clock):
    subscribe("reader@public.example")
    [old_link] = confirmation_links("reader@public.example")
    client.post(old_link)
    row = PublicSubscriber.objects.get()
    client.post(unsubscribe_url(row).removeprefix(BASE))
    row.refresh_from_db()
    assert not row.is_active

    # The old confirmation link, still within its 7 days, subscribes nobody again.
    replaced = client.post(old_link)
    assert replaced.status_code == 400
    assert "no longer valid" in replaced.content.decode()
    row.refresh_from_db()
    assert not row.is_active

    mail.outbox.clear()
    clock.advance(minutes=1)
    assert subscribe("reader@public.example")["Location"] == SENT
    [new_link] = confirmation_links("reader@public.example")
    distribute(make_advisory(tlp="TLP:CLEAR", severity=4).current_revision_id)
    assert advisory_mail("reader@public.example") == []  # not before the new confirmation
    assert client.post(new_link).status_code == 200
    row.refresh_from_db()
    assert row.is_active


def test_one_confirmation_email_per_address_in_ten_minutes(subscribe, clock):
    subscribe("reader@public.example")
    subscribe("reader@public.example")
    clock.advance(minutes=9)
    subscribe("READER@public.example")
    assert len(confirmation_links("reader@public.example")) == 1
    clock.advance(minutes=1)
    subscribe("reader@public.example")
    links = confirmation_links("reader@public.example")
    assert len(links) == 2
    # Only the latest link works.
    assert Client().get(links[0]).status_code == 400
    assert Client().get(links[1]).status_code == 200


def test_a_failed_confirmation_email_can_be_asked_for_again_at_once(subscribe, settings, clock):
    settings.EMAIL_BACKEND = "tests.advisories.test_distribution.FailingBackend"
    assert subscribe("reader@public.example")["Location"] == SENT
    assert PublicSubscriber.objects.get().confirmation_sent_at is None
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    subscribe("reader@public.example")
    assert len(confirmation_links("reader@public.example")) == 1


class EightDaysLater:
    @staticmethod
    def time():
        return real_time.time() + timedelta(days=8).total_seconds()


def test_tampered_and_expired_links_get_a_page_saying_what_to_do(client, subscribe, monkeypatch):
    subscribe("reader@public.example")
    [link] = confirmation_links("reader@public.example")
    token = link.rstrip("/").rsplit("/", 1)[1]

    tampered = client.get(link.replace(token, token[:-3] + ("AAA" if token[-3:] != "AAA" else "BBB")))
    assert tampered.status_code == 400
    assert "This link is not valid" in tampered.content.decode()
    assert client.post(link.replace(token, "nonsense")).status_code == 400
    # A confirmation link is no unsubscribe link (each has its own salt).
    wrong_kind = client.post(f"/advisories/subscription/unsubscribe/{token}/")
    assert wrong_kind.status_code == 400
    assert "unsubscribe link again" in wrong_kind.content.decode()

    monkeypatch.setattr(signing, "time", EightDaysLater)
    expired = client.get(link)
    assert expired.status_code == 400
    assert "has expired" in expired.content.decode()
    assert client.post(link).status_code == 400
    assert PublicSubscriber.objects.get().confirmed_at is None


def test_the_form_is_rate_limited_with_a_clear_429_page(subscribe, settings):
    settings.ADVISORY_SUBSCRIBE_RATE_LIMIT = "2/hour"
    assert subscribe("one@public.example").status_code == 302
    assert subscribe("not an address").status_code == 400  # a form with errors uses up nothing
    assert subscribe("two@public.example").status_code == 302

    refused = subscribe("three@public.example")

    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0
    page = refused.content.decode()
    assert "Too many attempts" in page and "Please try again in" in page
    assert not PublicSubscriber.objects.filter(email="three@public.example").exists()
    assert [message.to for message in mail.outbox] == [["one@public.example"],
                                                       ["two@public.example"]]


@pytest.mark.parametrize(("data", "field", "message"), [
    ({"email": "not an address", "language": "en", "min_severity": 0}, "email",
     "Enter a valid email address."),
    ({"email": "a@public.example", "language": "fr", "min_severity": 0}, "language",
     "Select a valid choice."),
    ({"email": "a@public.example", "language": "en", "min_severity": 9}, "min_severity",
     "Select a valid choice."),
])
def test_bad_input_is_refused_with_a_message_beside_the_field(client, db, data, field, message):
    response = client.post(FORM, data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert f'href="#id_{field}"' in response.content.decode()
    assert not PublicSubscriber.objects.exists() and mail.outbox == []


def test_urdu_subscriber_confirms_in_urdu_and_receives_advisories_in_urdu(client, subscribe,
                                                                          make_advisory):
    page = client.get(FORM, HTTP_ACCEPT_LANGUAGE="ur")
    assert 'lang="ur"' in page.content.decode()
    assert "ای میل کے ذریعے" in page.content.decode()

    subscribe("ur-reader@public.example", language="ur")
    [confirmation] = mail.outbox
    assert "تصدیق" in confirmation.subject
    [link] = confirmation_links("ur-reader@public.example")
    client.post(link)

    advisory = make_advisory(tlp="TLP:CLEAR", severity=3)
    distribute(advisory.current_revision_id)
    [message] = advisory_mail("ur-reader@public.example")
    assert message.subject.startswith(f"[TLP:CLEAR] {advisory.reference}: ")
    assert "سنگینی" in message.body and "Severity:" not in message.body
    assert "ایک کلک" in message.body  # the unsubscribe line
