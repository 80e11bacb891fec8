"""Merging a duplicate into another incident (incidents.services.merge, issue 9 items 3 and 4), and
what the reporter of a merged public report sees and sends afterwards (incidents.public)."""

from __future__ import annotations

import secrets

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import Http404
from django.test import Client

from incidents.access import ActionNotAllowed
from incidents.models import (
    Attachment,
    Comment,
    EventKind,
    Incident,
    Notification,
    Observable,
    Source,
    Status,
    TimelineEvent,
)
from incidents.reporter_token import derive_token, hash_token
from incidents.services import (
    ConflictError,
    incident_acknowledge,
    incident_comment,
    incident_create,
    incident_merge,
    incident_transition,
)
from tests.factories import make_incident
from tests.incidents.support import FULL, VIEW_ONLY, events, grants_by_cert

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def public_report(owner, **fields) -> tuple[Incident, str]:
    """A report from the public form owned by `owner`, as incidents.public.reports.submit_report
    leaves it (routed there), and its reporter's token."""
    fields = {"title": "Fake bank SMS asking for a PIN", "classification": "fraud",
              "incident_type": "phishing", "severity": 1, "description": "",
              "reporter_token_salt": secrets.token_hex(16), **fields}
    incident = incident_create(actor=None, owner_cert=owner, source=Source.PUBLIC_FORM, **fields)
    token = derive_token(incident)
    Incident.objects.filter(pk=incident.pk).update(reporter_token_hash=hash_token(token))
    incident.refresh_from_db()
    return incident, token


def values(incident) -> set[tuple[str, str]]:
    return set(Observable.objects.filter(incident=incident).values_list("type", "value"))


def state(*incidents) -> list:
    """Everything a refused merge must leave as it was."""
    return [(Incident.objects.filter(pk=i.pk).values().get(), values(i),
             list(TimelineEvent.objects.filter(incident=i).values_list("pk", flat=True)))
            for i in incidents]


@pytest.fixture
def pair(certs):
    """A Lahore public report (the duplicate) and a Lahore staff incident (the target), sharing
    one observable."""
    duplicate, token = public_report(
        certs["lahore"], description="Link hxxp://evil-bank[.]example/login from 198.51.100.7",
        reporter_name="Ayesha", reporter_email="ayesha@example.org")
    target = make_incident(owner_cert=certs["lahore"], title="Smishing wave against bank clients",
                           description="Sender 198.51.100.7 and evil-bank.example")
    return duplicate, target, token


def test_merge_closes_the_duplicate_copies_observables_and_writes_both_timelines(
        certs, member, clock, pair):
    duplicate, target, _ = pair
    handler = member("lahore", "handler")
    before = values(target)
    versions = (duplicate.version, target.version)

    incident_merge(incident=duplicate, actor=handler, into=target, reason="Same SMS wave")

    duplicate.refresh_from_db()
    target.refresh_from_db()
    assert duplicate.status == Status.REJECTED and duplicate.merged_into == target
    assert duplicate.resolved_at == clock.now
    assert (duplicate.version, target.version) == (versions[0] + 1, versions[1] + 1)
    # The union, each once: the address both had is not doubled.
    assert values(target) == before | values(duplicate)
    assert ("url", "http://evil-bank.example/login") in values(target)
    assert Observable.objects.filter(incident=target, value="198.51.100.7").count() == 1

    status, merged = events(duplicate)[-2:]
    assert (status.kind, status.old_value, status.new_value, status.reason) == (
        EventKind.STATUS, "New", "Rejected", f"merged into {target.reference}")
    assert (merged.kind, merged.old_value, merged.new_value, merged.actor) == (
        EventKind.MERGED, duplicate.reference, target.reference, handler)
    assert merged.reason == "Same SMS wave"
    [on_target] = events(target, EventKind.MERGED)
    assert (on_target.old_value, on_target.new_value, on_target.actor) == (
        duplicate.reference, target.reference, handler)
    assert "1 observable copied" in on_target.reason and "Same SMS wave" in on_target.reason
    # Grants re-derived: nothing about who may see either changed.
    assert grants_by_cert(duplicate)["lahore"] == FULL == grants_by_cert(target)["lahore"]
    assert grants_by_cert(target)["punjab"] == VIEW_ONLY


def test_a_duplicate_in_progress_is_merged_too(certs, member, pair):
    duplicate, target, _ = pair
    handler = member("lahore", "handler")
    incident_acknowledge(incident=duplicate, actor=handler)
    incident_transition(incident=duplicate, actor=handler, to_status=Status.IN_PROGRESS)

    incident_merge(incident=duplicate, actor=handler, into=target)

    duplicate.refresh_from_db()
    assert duplicate.status == Status.REJECTED and duplicate.merged_into_id == target.pk
    assert events(duplicate, EventKind.STATUS)[-1].old_value == "In progress"


def test_earlier_duplicates_follow_when_their_target_is_merged(certs, member, pair):
    first, middle, _ = pair
    handler = member("lahore", "handler")
    last = make_incident(owner_cert=certs["lahore"], title="The campaign")
    incident_merge(incident=first, actor=handler, into=middle)

    incident_merge(incident=middle, actor=handler, into=last)

    first.refresh_from_db()
    assert first.merged_into_id == last.pk  # never a chain: the reporter lands on `last`
    follow = events(first, EventKind.MERGED)[-1]
    assert (follow.old_value, follow.new_value) == (first.reference, last.reference)


@pytest.mark.parametrize("role", ["analyst", "liaison"])
def test_who_may_see_but_not_work_the_duplicate_is_refused_and_nothing_changes(
        certs, member, pair, role):
    duplicate, target, _ = pair
    before = state(duplicate, target)
    with pytest.raises(ActionNotAllowed):
        incident_merge(incident=duplicate, actor=member("lahore", role), into=target)
    assert state(duplicate, target) == before


def test_an_overseeing_cert_may_see_but_not_merge(certs, member, pair):
    duplicate, target, _ = pair
    with pytest.raises(ActionNotAllowed):
        incident_merge(incident=duplicate, actor=member("punjab", "handler"), into=target)


def test_an_unrelated_cert_gets_404_for_either_incident(certs, member, pair):
    duplicate, target, _ = pair
    sindh = make_incident(owner_cert=certs["sindh"])
    before = state(duplicate, target, sindh)
    with pytest.raises(Http404):
        incident_merge(incident=duplicate, actor=member("sindh", "handler"), into=target)
    # Lahore may not see Sindh's incident: merging into it answers as if it did not exist.
    with pytest.raises(Http404):
        incident_merge(incident=duplicate, actor=member("lahore", "handler"), into=sindh)
    assert state(duplicate, target, sindh) == before


def test_invalid_merges_are_refused_with_a_reason(certs, member, pair):
    duplicate, target, _ = pair
    handler = member("lahore", "handler")
    other = make_incident(owner_cert=certs["lahore"], title="Another")
    before = state(duplicate, target, other)

    with pytest.raises(ValidationError, match="cannot be merged into itself"):
        incident_merge(incident=duplicate, actor=handler, into=duplicate)
    incident_merge(incident=other, actor=handler, into=target)
    with pytest.raises(ValidationError, match=f"was itself merged into {target.reference}"):
        incident_merge(incident=duplicate, actor=handler, into=Incident.objects.get(pk=other.pk))
    with pytest.raises(ValidationError, match="was merged already|Only open incidents"):
        incident_merge(incident=Incident.objects.get(pk=other.pk), actor=handler, into=target)
    assert state(duplicate, target) != before[:2]  # the one allowed merge touched the target
    before = state(duplicate, target)

    resolved = make_incident(owner_cert=certs["lahore"], title="Done")
    incident_acknowledge(incident=resolved, actor=handler)
    incident_transition(incident=resolved, actor=handler, to_status=Status.RESOLVED)
    with pytest.raises(ValidationError, match="Only open incidents are merged"):
        incident_merge(incident=resolved, actor=handler, into=target)

    rejected = make_incident(owner_cert=certs["lahore"], title="Not an incident")
    incident_transition(incident=rejected, actor=handler, to_status=Status.REJECTED)
    with pytest.raises(ValidationError, match="was rejected"):
        incident_merge(incident=duplicate, actor=handler, into=rejected)

    green = make_incident(owner_cert=certs["lahore"], title="Public campaign", tlp="TLP:GREEN")
    with pytest.raises(ValidationError, match="would reach more people"):
        incident_merge(incident=duplicate, actor=handler, into=green)
    assert state(duplicate, target) == before


def test_a_stale_version_of_either_incident_is_a_conflict_and_writes_nothing(certs, member, pair):
    duplicate, target, _ = pair
    handler = member("lahore", "handler")
    stale_duplicate = Incident.objects.get(pk=duplicate.pk)
    stale_target = Incident.objects.get(pk=target.pk)
    incident_comment(incident=duplicate, actor=handler, body="x")  # no version change
    incident_acknowledge(incident=duplicate, actor=handler)
    before = state(duplicate, target)

    with pytest.raises(ConflictError):
        incident_merge(incident=stale_duplicate, actor=handler, into=target)
    assert state(duplicate, target) == before

    incident_acknowledge(incident=target, actor=handler)
    before = state(duplicate, target)
    with pytest.raises(ConflictError):
        incident_merge(incident=Incident.objects.get(pk=duplicate.pk), actor=handler,
                       into=stale_target)
    assert state(duplicate, target) == before


# --- The reporter of the merged report ---------------------------------------------------------


def look_up(reference: str, token: str) -> Client:
    client = Client()
    response = client.post("/report/status/", {"reference": reference, "token": token})
    assert response.status_code == 302, response.content.decode()
    return client


@pytest.fixture
def merged(certs, member, pair):
    """The pair after the merge; the target has a reporter and messages of its own."""
    duplicate, target, token = pair
    handler = member("lahore", "handler")
    incident_comment(incident=duplicate, actor=handler, body="Thanks, we are looking at it.",
                     reporter_visible=True)
    target_report, target_token = public_report(certs["lahore"], title="Secret title of Bilal",
                                                reporter_name="Bilal")
    incident_comment(incident=target_report, actor=handler, body="A note for Bilal only.",
                     reporter_visible=True)
    incident_merge(incident=duplicate, actor=handler, into=target_report)
    incident_acknowledge(incident=Incident.objects.get(pk=target_report.pk), actor=handler)
    return Incident.objects.get(pk=duplicate.pk), target_report, token, target_token


def test_the_reporter_sees_the_target_reference_and_status_and_nothing_else_of_it(merged):
    duplicate, target, token, _ = merged
    client = look_up(duplicate.reference, token)
    page = client.get(f"/report/status/{duplicate.reference}/").content.decode()

    assert ("Your report was merged with another report of the same incident; it is now handled "
            f"as part of {target.reference}.") in page
    assert "Acknowledged" in page  # the target's status, not the duplicate's "Rejected"
    assert "Rejected" not in page
    assert duplicate.title in page and "Thanks, we are looking at it." in page
    assert "Secret title of Bilal" not in page and "Bilal" not in page
    assert "A note for Bilal only." not in page


def test_the_browser_that_sent_the_report_follows_the_merge_too(certs, member, rules, media):
    client = Client()
    data = {"submission_key": secrets.token_urlsafe(24), "category": "phishing",
            "title": "Fake bank SMS", "description": "It asked for my PIN.", "indicators": "",
            "started_at": "", "detected_at": "", "affected_organization": "", "region": "",
            "sector": "", "impact": "", "reporter_name": "", "reporter_email": "",
            "reporter_phone": "", "website": ""}
    assert client.post("/report/", data).status_code == 302
    report = Incident.objects.get(submission_key=data["submission_key"])
    target = make_incident(owner_cert=report.owner_cert, title="Campaign")
    incident_merge(incident=report, actor=member(report.owner_cert.slug, "handler"), into=target)

    page = client.get(f"/report/status/{report.reference}/").content.decode()
    assert f"it is now handled as part of {target.reference}" in page


def test_a_follow_up_after_the_merge_lands_on_the_target(merged, media):
    duplicate, target, token, target_token = merged
    client = look_up(duplicate.reference, token)
    upload = SimpleUploadedFile("screen.png", PNG, content_type="image/png")

    response = client.post(f"/report/status/{duplicate.reference}/",
                           {"message": "They sent a second SMS today.", "attachments": [upload]})

    assert response.status_code == 302
    note = Comment.objects.filter(incident=target).latest("pk")
    assert not note.reporter_visible and note.author is None
    assert note.body.startswith(f"From the reporter of {duplicate.reference}, merged into this "
                                "incident (1 file attached):")
    assert "They sent a second SMS today." in note.body
    [attachment] = Attachment.objects.filter(incident=target)
    assert attachment.original_name == f"{duplicate.reference} screen.png"
    assert not Attachment.objects.filter(incident=duplicate).exists()
    assert Notification.objects.filter(kind=Notification.Kind.REPORTER_FOLLOW_UP, incident=target,
                                       cert=target.owner_cert).count() == 1
    # The reporter still finds what they wrote; the target's reporter does not see it.
    mine = client.get(f"/report/status/{duplicate.reference}/").content.decode()
    assert "They sent a second SMS today." in mine
    theirs = look_up(target.reference, target_token).get(
        f"/report/status/{target.reference}/").content.decode()
    assert "They sent a second SMS today." not in theirs


def test_a_merged_reporters_files_count_against_the_target(merged, media, settings):
    duplicate, target, token, _ = merged
    settings.PUBLIC_REPORT_MAX_STORED_FILES = 1
    client = look_up(duplicate.reference, token)
    for _ in range(2):
        response = client.post(f"/report/status/{duplicate.reference}/", {
            "message": "", "attachments": [SimpleUploadedFile("s.png", PNG,
                                                              content_type="image/png")]})
    assert response.status_code == 400
    assert "already has 1 files from you" in response.content.decode()
    assert Attachment.objects.filter(incident=target).count() == 1
