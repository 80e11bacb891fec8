"""The incident workspace (incidents/dashboard/workspace.py): the page, its actions by persona,
refusals posted by hand, conflicts on a stale page, what an escalation says, the tabs, and its
query count. The guarantees the admin's incident pages had (tests/incidents/test_admin.py before
issue 9) are kept here.

Personas on a TLP:AMBER incident owned by Lahore (local, below Punjab, below Government, below
National): Lahore's members work it by role, its ancestors (Punjab, National) oversee it (view
only), Sindh has nothing to do with it (404), and an outsider belongs to no CERT (refused).
"""

from __future__ import annotations

import re

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from incidents.models import (
    Attachment,
    Comment,
    EventKind,
    Incident,
    IncidentShare,
    IncidentVisit,
    IncidentWatch,
    Observable,
    Source,
    Status,
    TimelineEvent,
)
from incidents.services import (
    incident_acknowledge,
    incident_add_observable,
    incident_assign,
    incident_change_severity,
    incident_comment,
)
from tests.factories import make_incident
from tests.incidents.support import T0, bulk_incidents

pytestmark = pytest.mark.django_db


def page_url(incident, **query) -> str:
    url = reverse("dashboard:incident", args=[incident.reference])
    if query:
        url += "?" + "&".join(f"{key}={value}" for key, value in query.items())
    return url


def action_url(incident, action: str) -> str:
    return reverse("dashboard:incident_action", args=[incident.reference, action])


def post(client, incident, action, data=None, **kwargs):
    """Post an action as the page would: with the version the member is looking at."""
    return client.post(action_url(incident, action), {"version": incident.version, **(data or {})},
                       **kwargs)


def same_page(response, reference: str) -> str:
    """The page without what differs between two requests: the reference asked for, the CSRF
    tokens."""
    text = response.content.decode().replace(reference, "<reference>")
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', 'name="csrfmiddlewaretoken"', text)


def message_texts(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def events(incident, kind) -> list[TimelineEvent]:
    return list(TimelineEvent.objects.filter(incident=incident, kind=kind).order_by("pk"))


def snapshot(incident) -> tuple:
    """What a refused or conflicting action must leave exactly as it was."""
    return (Incident.objects.values().get(pk=incident.pk),
            TimelineEvent.objects.filter(incident=incident).count(),
            Comment.objects.filter(incident=incident).count(),
            Observable.objects.filter(incident=incident).count(),
            IncidentShare.objects.filter(incident=incident).count())


@pytest.fixture
def lahore_incident(certs):
    return make_incident(owner_cert=certs["lahore"], title="Lahore phishing wave")


# The page ------------------------------------------------------------------------------------


def test_the_page_shows_the_summary_header(certs, member, staff_client, clock):
    incident = make_incident(owner_cert=certs["lahore"], title="Lahore phishing wave", severity=3)
    analyst = member("lahore", "analyst")
    incident_assign(incident=incident, actor=None, assignee=analyst)
    clock.advance(hours=1, minutes=10)

    response = staff_client(member("lahore", "handler")).get(page_url(incident))

    assert response.status_code == 200
    content = response.content.decode()
    assert incident.reference in content and "Lahore phishing wave" in content
    assert '<span class="tlp tlp-amber">TLP:AMBER</span>' in content
    assert '<span class="severity severity-3">3 · High</span>' in content
    assert "Lahore Metropolitan CERT" in content and "lahore.analyst.test" in content
    # High: acknowledge within 4 h, resolve within 7 days; 1 h 10 min have passed.
    assert re.search(r'<time datetime="[^"]+" class="sla" data-countdown[^>]*>2 h 50 min left</time>',
                     content)
    assert "6 d 22 h left" in content
    assert response["Cache-Control"].startswith("max-age=0")  # never kept by a browser


def test_an_overdue_clock_says_so_in_words_and_red(certs, member, staff_client, clock):
    incident = make_incident(owner_cert=certs["lahore"], severity=5)  # acknowledge in 15 min
    clock.advance(minutes=45)

    content = staff_client(member("lahore", "handler")).get(page_url(incident)).content.decode()

    assert re.search(r'class="sla sla-overdue" data-countdown[^>]*>overdue by 30 min</time>', content)


def test_clocks_stop_when_acknowledged_and_resolved(certs, member, staff_client, clock):
    incident = make_incident(owner_cert=certs["lahore"], severity=3)
    incident_acknowledge(incident=incident, actor=None)

    content = staff_client(member("lahore", "handler")).get(page_url(incident)).content.decode()

    assert "acknowledged in time" in content
    assert content.count("data-countdown") == 1  # only the resolution clock still runs


def test_opening_the_page_marks_the_incident_seen(certs, member, staff_client, lahore_incident,
                                                  clock):
    handler = member("lahore", "handler")
    staff_client(handler).get(page_url(lahore_incident))
    assert IncidentVisit.objects.get(user=handler, incident=lahore_incident).seen_at == T0


@pytest.mark.parametrize(("slug", "role"), [("lahore", "handler"), ("lahore", "analyst"),
                                            ("lahore", "liaison"), ("punjab", "head"),
                                            ("punjab", "handler"), ("national", "handler")])
def test_every_member_who_may_see_it_gets_the_page(certs, member, staff_client, lahore_incident,
                                                   slug, role):
    response = staff_client(member(slug, role)).get(page_url(lahore_incident))
    assert response.status_code == 200
    assert "Lahore phishing wave" in response.content.decode()


def test_an_unrelated_cert_gets_404_exactly_like_a_missing_incident(certs, member, staff_client,
                                                                   lahore_incident, settings):
    client = staff_client(member("sindh", "handler"))
    for debug in (False, True):
        settings.DEBUG = debug
        answers = []
        for reference in (lahore_incident.reference, "PK-INC-2026-999999"):
            for url in (reverse("dashboard:incident", args=[reference]),
                        reverse("dashboard:incident_action", args=[reference, "comment"]),
                        reverse("dashboard:incident_action", args=[reference, "nonexistent"])):
                response = client.get(url)
                assert response.status_code == 404, url
                answers.append(same_page(response, reference))
        assert answers[:3] == answers[3:]
        assert "Lahore phishing wave" not in "".join(answers)
    assert client.post(action_url(lahore_incident, "comment"),
                       {"version": 1, "body": "x"}).status_code == 404
    assert not Comment.objects.exists()


def test_an_outsider_is_refused_and_learns_nothing(outsider, staff_client, lahore_incident):
    response = staff_client(outsider).get(page_url(lahore_incident))
    assert response.status_code == 403
    assert "not a member of any active CERT" in response.content.decode()
    assert "Lahore phishing wave" not in response.content.decode()


def test_signing_in_is_required(client, lahore_incident):
    response = client.get(page_url(lahore_incident))
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_user_text_is_escaped(certs, member, staff_client):
    incident = make_incident(owner_cert=certs["lahore"], title='<img src=x onerror="alert(1)">')
    Comment.objects.create(incident=incident, body='<script>alert("x")</script>\nline two',
                           created_at=timezone.now())
    client = staff_client(member("lahore", "handler"))

    content = client.get(page_url(incident, tab="comments")).content.decode()

    assert "<script>alert" not in content and "<img src=x" not in content
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in content
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;<br>line two" in content


# What each persona is offered ---------------------------------------------------------------

OFFERS = {
    "assign-me": 'data-workspace-key="a"',
    "acknowledge": "/acknowledge/",
    "status": "/status/",
    "severity": "/severity/",
    "assign": "/assign/",
    "tlp": "/tlp/",
    "escalate": "/escalate/",
    "refer": "/refer/",
    "share": "/share/",
    "comment": "/comment/",
    "watch": "/watch/",
}


def offered(client, incident, tab="timeline") -> set[str]:
    response = client.get(page_url(incident, tab=tab))
    assert response.status_code == 200
    content = response.content.decode()
    return {name for name, marker in OFFERS.items() if marker in content}


@pytest.mark.parametrize(("slug", "role", "expected"), [
    ("lahore", "handler", set(OFFERS) - {"refer"}),  # Lahore has no CERT below it
    ("lahore", "analyst", {"comment", "watch"}),
    ("lahore", "liaison", {"comment", "watch"}),
    ("punjab", "head", {"watch"}),  # oversight: view only
    ("punjab", "handler", {"watch"}),
    ("national", "handler", {"watch"}),
])
def test_actions_offered_follow_access(certs, member, staff_client, lahore_incident, slug, role,
                                       expected):
    assert offered(staff_client(member(slug, role)), lahore_incident) == expected


def test_the_tab_forms_follow_access(certs, member, staff_client, lahore_incident):
    def forms(slug, role):
        client = staff_client(member(slug, role))
        found = set()
        for tab, marker in (("observables", "/observable/"), ("files", "/attach/"),
                            ("tasks", "/task-add/"), ("related", "/link/"),
                            ("related", "/merge/")):
            if marker in client.get(page_url(lahore_incident, tab=tab)).content.decode():
                found.add(marker.strip("/"))
        return found

    assert forms("lahore", "handler") == {"observable", "attach", "task-add", "link", "merge"}
    assert forms("lahore", "analyst") == {"observable", "attach", "task-add", "link"}
    assert forms("lahore", "liaison") == set()
    assert forms("punjab", "head") == set()


def test_only_a_head_is_offered_to_lower_the_tlp_or_reopen(certs, member, staff_client):
    incident = make_incident(owner_cert=certs["lahore"], tlp="TLP:RED")
    incident_acknowledge(incident=incident, actor=None)
    incident.refresh_from_db()
    for status in ("resolved", "closed"):
        incident_transition_by_system(incident, status)

    handler_page = staff_client(member("lahore", "handler")).get(page_url(incident)).content.decode()
    head_page = staff_client(member("lahore", "head")).get(page_url(incident)).content.decode()

    assert 'id="ws-tlp"' not in handler_page  # nothing stricter than RED, nothing lower for him
    assert '<option value="TLP:GREEN">' in head_page
    assert 'name="to_status"' not in handler_page  # closed -> in progress is a head's call
    assert 'name="to_status" value="in_progress"' in head_page


def test_status_and_severity_are_one_click_each(certs, member, staff_client, lahore_incident):
    client = staff_client(member("lahore", "handler"))
    page = client.get(page_url(lahore_incident)).content.decode()
    # Each allowed choice is its own submit button; the current severity is marked, not offered.
    assert '<button type="submit" name="to_status" value="acknowledged"' in page
    assert '<button type="submit" name="to_status" value="rejected"' in page
    assert 'name="to_status" value="resolved"' not in page  # not allowed from new
    assert '<button type="submit" name="severity" value="4"' in page
    assert f'name="severity" value="{lahore_incident.severity}"' not in page
    response = post(client, lahore_incident, "severity", {"severity": 4, "reason": ""})
    assert response.status_code == 302
    lahore_incident.refresh_from_db()
    assert lahore_incident.severity == 4


def incident_transition_by_system(incident, status):
    from incidents.services import incident_transition

    incident_transition(incident=incident, actor=None, to_status=status)
    incident.refresh_from_db()


def test_assign_to_me_is_not_offered_to_the_assignee_or_outside_the_owner(certs, member,
                                                                          staff_client):
    handler = member("lahore", "handler")
    incident = make_incident(owner_cert=certs["lahore"])
    incident_assign(incident=incident, actor=None, assignee=handler)
    assert "assign-me" not in offered(staff_client(handler), incident)


# One-click actions and forms ---------------------------------------------------------------


def test_assign_to_me_in_one_click(certs, member, staff_client, lahore_incident):
    handler = member("lahore", "handler")

    response = post(staff_client(handler), lahore_incident, "assign-me", {"tab": "comments"})

    assert response.status_code == 302
    assert response["Location"] == page_url(lahore_incident, tab="comments")
    lahore_incident.refresh_from_db()
    assert lahore_incident.assignee == handler
    [event] = events(lahore_incident, EventKind.ASSIGNED)
    assert (event.actor, event.new_value) == (handler, str(handler))
    assert message_texts(response) == [f"{lahore_incident.reference} is assigned to you."]


def test_acknowledge_in_one_click(certs, member, staff_client, lahore_incident):
    handler = member("lahore", "handler")

    response = post(staff_client(handler), lahore_incident, "acknowledge")

    assert response.status_code == 302 and response["Location"] == page_url(lahore_incident)
    lahore_incident.refresh_from_db()
    assert lahore_incident.status == Status.ACKNOWLEDGED and lahore_incident.version == 2
    [event] = events(lahore_incident, EventKind.STATUS)
    assert (event.actor, event.old_value, event.new_value) == (handler, "New", "Acknowledged")
    assert "acknowledged" in message_texts(response)[0]


def test_status_change_with_a_reason(certs, member, staff_client, lahore_incident):
    handler = member("lahore", "handler")
    response = post(staff_client(handler), lahore_incident, "status",
                    {"to_status": "rejected", "reason": "Not an incident"})
    assert response.status_code == 302
    lahore_incident.refresh_from_db()
    assert lahore_incident.status == Status.REJECTED
    [event] = events(lahore_incident, EventKind.STATUS)
    assert (event.new_value, event.reason) == ("Rejected", "Not an incident")


def test_a_transition_outside_the_table_is_a_form_error(certs, member, staff_client,
                                                        lahore_incident):
    response = post(staff_client(member("lahore", "handler")), lahore_incident, "status",
                    {"to_status": "closed"})
    assert response.status_code == 400
    content = response.content.decode()
    assert 'class="error-summary"' in content and "autofocus" in content
    assert 'aria-invalid="true"' in content
    lahore_incident.refresh_from_db()
    assert lahore_incident.status == Status.NEW and not events(lahore_incident, EventKind.STATUS)


def test_severity_recomputes_the_deadlines(certs, member, staff_client, lahore_incident):
    old_ack_due = lahore_incident.ack_due_at
    response = post(staff_client(member("lahore", "handler")), lahore_incident, "severity",
                    {"severity": 5, "reason": "Ministry affected"})
    assert response.status_code == 302
    lahore_incident.refresh_from_db()
    assert lahore_incident.severity == 5 and lahore_incident.ack_due_at < old_ack_due
    [event] = events(lahore_incident, EventKind.SEVERITY)
    assert event.reason == "Ministry affected"
    assert "Emergency" in message_texts(response)[0]


def test_assign_to_another_member(certs, member, staff_client, lahore_incident):
    analyst = member("lahore", "analyst")
    response = post(staff_client(member("lahore", "handler")), lahore_incident, "assign",
                    {"assignee": analyst.pk})
    assert response.status_code == 302
    lahore_incident.refresh_from_db()
    assert lahore_incident.assignee == analyst


def test_assign_to_a_non_member_is_a_form_error(certs, member, staff_client, lahore_incident):
    stranger = member("sindh", "handler")
    response = post(staff_client(member("lahore", "handler")), lahore_incident, "assign",
                    {"assignee": stranger.pk})
    assert response.status_code == 400
    assert "action-assignee_error" in response.content.decode()
    lahore_incident.refresh_from_db()
    assert lahore_incident.assignee is None and not events(lahore_incident, EventKind.ASSIGNED)


def test_a_handler_raises_the_tlp_and_a_head_lowers_it(certs, member, staff_client,
                                                       lahore_incident):
    post(staff_client(member("lahore", "handler")), lahore_incident, "tlp", {"tlp": "TLP:RED"})
    lahore_incident.refresh_from_db()
    assert lahore_incident.tlp == "TLP:RED"

    head = member("lahore", "head")
    post(staff_client(head), lahore_incident, "tlp", {"tlp": "TLP:GREEN", "reason": "Public"})
    lahore_incident.refresh_from_db()
    assert lahore_incident.tlp == "TLP:GREEN"
    assert [(e.actor, e.old_value, e.new_value) for e in events(lahore_incident, EventKind.TLP)] == [
        (member("lahore", "handler"), "TLP:AMBER", "TLP:RED"), (head, "TLP:RED", "TLP:GREEN")]


def test_a_handler_lowering_the_tlp_by_hand_gets_the_styled_refusal(certs, member, staff_client):
    incident = make_incident(owner_cert=certs["lahore"], tlp="TLP:RED")
    before = snapshot(incident)

    response = post(staff_client(member("lahore", "handler")), incident, "tlp",
                    {"tlp": "TLP:GREEN"})

    assert response.status_code == 403
    content = response.content.decode()
    assert "Your role does not allow this" in content and "lower tlp" in content
    assert "Nothing was changed" in content
    assert snapshot(incident) == before


def test_comment_internal_or_to_the_reporter(certs, member, staff_client):
    public = make_incident(owner_cert=certs["lahore"], source=Source.PUBLIC_FORM)
    handler = member("lahore", "handler")
    client = staff_client(handler)

    page = client.get(page_url(public)).content.decode()
    assert 'name="visibility" value="reporter"' in page
    post(client, public, "comment", {"body": "  Called the registrar.  ", "visibility": "internal"})
    response = post(client, public, "comment", {"body": "We are on it.", "visibility": "reporter"})

    assert response["Location"] == page_url(public, tab="comments")
    assert list(Comment.objects.filter(incident=public).order_by("pk")
                .values_list("author", "body", "reporter_visible")) == [
        (handler.pk, "Called the registrar.", False), (handler.pk, "We are on it.", True)]
    assert [e.new_value for e in events(public, EventKind.COMMENT)] == ["internal",
                                                                       "reporter-visible"]
    assert "status page" in message_texts(response)[-1]
    comments = client.get(page_url(public, tab="comments")).content.decode()
    assert 'class="comment-label label-to-reporter">To the reporter</span>' in comments
    assert 'class="comment-label label-internal">Internal</span>' in comments


def test_a_staff_incident_has_no_reporter_to_write_to(certs, member, staff_client,
                                                      lahore_incident):
    client = staff_client(member("lahore", "handler"))
    assert 'value="reporter"' not in client.get(page_url(lahore_incident)).content.decode()
    response = post(client, lahore_incident, "comment", {"body": "Hello", "visibility": "reporter"})
    assert response.status_code == 400
    assert not Comment.objects.filter(incident=lahore_incident).exists()


def test_a_liaison_may_comment(certs, member, staff_client, lahore_incident):
    response = post(staff_client(member("lahore", "liaison")), lahore_incident, "comment",
                    {"body": "Ministry informed", "visibility": "internal"})
    assert response.status_code == 302
    assert Comment.objects.filter(incident=lahore_incident, body="Ministry informed").exists()


def test_an_empty_comment_says_what_to_fix(certs, member, staff_client, lahore_incident):
    response = post(staff_client(member("lahore", "handler")), lahore_incident, "comment",
                    {"body": "   ", "visibility": "internal"})
    assert response.status_code == 400
    assert "This field is required" in response.content.decode()


def test_observable_defanged_input_is_normalised(certs, member, staff_client, lahore_incident):
    response = post(staff_client(member("lahore", "analyst")), lahore_incident, "observable",
                    {"type": "url", "value": "hxxps://Evil[.]Example/login"})
    assert response.status_code == 302
    assert Observable.objects.filter(incident=lahore_incident, type="url",
                                     value="https://evil.example/login").exists()
    [event] = events(lahore_incident, EventKind.OBSERVABLE)
    assert event.new_value == "url: https://evil.example/login"


def test_an_observable_without_a_type_is_recognised_from_its_value(certs, member, staff_client,
                                                                   lahore_incident):
    client = staff_client(member("lahore", "analyst"))
    response = post(client, lahore_incident, "observable", {"type": "", "value": "evil[.]example"})
    assert response.status_code == 302
    assert Observable.objects.filter(incident=lahore_incident, type="domain",
                                     value="evil.example").exists()
    for value, says in [("nothing to see here", "choose its type"),
                        ("192.0.2.1 and evil.example", "holds 2 indicators")]:
        refused = post(client, lahore_incident, "observable", {"type": "", "value": value})
        assert refused.status_code == 400 and says in refused.content.decode()
    assert Observable.objects.filter(incident=lahore_incident).count() == 1


def test_an_invalid_observable_is_an_error_on_its_value(certs, member, staff_client,
                                                        lahore_incident):
    response = post(staff_client(member("lahore", "handler")), lahore_incident, "observable",
                    {"type": "ipv4", "value": "999.1.1.1"})
    assert response.status_code == 400
    content = response.content.decode()
    assert 'id="action-value_error"' in content and "999.1.1.1" in content
    assert not Observable.objects.filter(incident=lahore_incident).exists()


def test_attach_and_download(certs, member, staff_client, lahore_incident, media):
    client = staff_client(member("lahore", "handler"))
    payload = b"%PDF-1.4 evidence"

    response = post(client, lahore_incident, "attach",
                    {"file": SimpleUploadedFile("evidence.pdf", payload)})

    assert response.status_code == 302
    attachment = Attachment.objects.get(incident=lahore_incident)
    assert (attachment.original_name, attachment.size, attachment.content_type) == (
        "evidence.pdf", len(payload), "application/pdf")
    # Encrypted at rest (issue 13), served decrypted.
    assert payload not in (media / attachment.file.name).read_bytes()
    assert attachment.read_plaintext() == payload
    files = client.get(page_url(lahore_incident, tab="files")).content.decode()
    download = reverse("incidents:attachment_download", args=[attachment.pk])
    assert f'href="{download}"' in files
    assert b"".join(client.get(download).streaming_content) == payload


def test_watch_and_stop_watching(certs, member, staff_client, lahore_incident):
    overseer = member("punjab", "head")  # view only, may still watch
    client = staff_client(overseer)

    post(client, lahore_incident, "watch")
    assert IncidentWatch.objects.filter(user=overseer, incident=lahore_incident).exists()
    assert "Stop watching" in client.get(page_url(lahore_incident)).content.decode()
    post(client, lahore_incident, "unwatch")
    assert not IncidentWatch.objects.filter(user=overseer, incident=lahore_incident).exists()


def test_share(certs, member, staff_client, lahore_incident):
    handler = member("lahore", "handler")
    client = staff_client(handler)
    # Like escalating and referring, sharing asks why.
    refused = post(client, lahore_incident, "share", {"cert": certs["sindh"].pk, "reason": " "})
    assert refused.status_code == 400 and "This field is required" in refused.content.decode()
    assert not IncidentShare.objects.filter(incident=lahore_incident).exists()

    response = post(client, lahore_incident, "share",
                    {"cert": certs["sindh"].pk, "reason": "The phishing kit targets Sindh too."})
    assert response.status_code == 302
    share = IncidentShare.objects.get(incident=lahore_incident)
    assert (share.cert, share.shared_by) == (certs["sindh"], handler)
    assert (TimelineEvent.objects.get(incident=lahore_incident, kind="shared").reason
            == "The phishing kit targets Sindh too.")
    assert "now shared with Sindh Government CERT" in message_texts(response)[0]
    sindh = staff_client(member("sindh", "handler"))
    assert sindh.get(page_url(lahore_incident)).status_code == 200


def test_action_pages_work_without_javascript(certs, member, staff_client, lahore_incident):
    client = staff_client(member("lahore", "handler"))
    response = client.get(action_url(lahore_incident, "escalate"))
    assert response.status_code == 200
    content = response.content.decode()
    assert '<span class="tlp tlp-amber">TLP:AMBER</span>' in content
    assert f'name="version" value="{lahore_incident.version}"' in content
    assert "Punjab Government CERT" in content and "(required)" in content
    # A one-click action has no page of its own: back to the workspace.
    assert client.get(action_url(lahore_incident, "acknowledge")).status_code == 302


# Refusals posted by hand ---------------------------------------------------------------------

WORK_POSTS = [
    ("acknowledge", {}),
    ("assign-me", {}),
    ("assign", {"assignee": ""}),
    ("status", {"to_status": "acknowledged"}),
    ("severity", {"severity": 5}),
    ("tlp", {"tlp": "TLP:RED"}),
    ("escalate", {"to_cert": "PARENT", "reason": "x"}),
    ("refer", {"to_cert": "CHILD", "reason": "x"}),
    ("share", {"cert": "SINDH", "reason": "x"}),
    ("observable", {"type": "domain", "value": "evil.example"}),
    ("task-add", {"title": "Call the registrar"}),
    ("link", {"reference": "OTHER"}),
    ("merge", {"into": "OTHER"}),
]


@pytest.mark.parametrize(("slug", "role"), [("lahore", "liaison"), ("punjab", "head"),
                                            ("national", "handler")])
@pytest.mark.parametrize(("action", "data"), WORK_POSTS, ids=[a for a, _ in WORK_POSTS])
def test_a_work_action_posted_by_hand_is_refused_with_the_styled_page(
        certs, member, staff_client, lahore_incident, slug, role, action, data):
    other = make_incident(owner_cert=certs["lahore"], title="Other")
    data = {key: {"PARENT": certs["punjab"].pk, "CHILD": certs["punjab-it-board-cert"].pk,
                  "SINDH": certs["sindh"].pk, "OTHER": other.reference}.get(value, value)
            for key, value in data.items()}
    before = snapshot(lahore_incident)

    response = post(staff_client(member(slug, role)), lahore_incident, action, data)

    assert response.status_code == 403
    content = response.content.decode()
    assert "Your role does not allow this" in content and "Nothing was changed" in content
    assert snapshot(lahore_incident) == before


@pytest.mark.parametrize(("slug", "role"), [("punjab", "head"), ("national", "handler")])
def test_oversight_may_not_comment(certs, member, staff_client, lahore_incident, slug, role):
    response = post(staff_client(member(slug, role)), lahore_incident, "comment",
                    {"body": "x", "visibility": "internal"})
    assert response.status_code == 403
    assert not Comment.objects.exists()


def test_an_analyst_may_not_take_a_handlers_action(certs, member, staff_client, lahore_incident):
    before = snapshot(lahore_incident)
    response = post(staff_client(member("lahore", "analyst")), lahore_incident, "escalate",
                    {"to_cert": certs["punjab"].pk, "reason": "x"})
    assert response.status_code == 403 and snapshot(lahore_incident) == before


def test_a_handler_reopening_a_closed_incident_by_hand_is_refused(certs, member, staff_client):
    incident = make_incident(owner_cert=certs["lahore"])
    for status in ("acknowledged", "resolved", "closed"):
        incident_transition_by_system(incident, status)
    before = snapshot(incident)
    response = post(staff_client(member("lahore", "handler")), incident, "status",
                    {"to_status": "in_progress"})
    assert response.status_code == 403 and snapshot(incident) == before
    response = post(staff_client(member("lahore", "head")), incident, "status",
                    {"to_status": "in_progress"})
    assert response.status_code == 302


# Conflicts ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("action", "data"), [
    ("acknowledge", {}),
    ("assign-me", {}),
    ("assign", {"assignee": ""}),
    ("status", {"to_status": "acknowledged"}),
    ("severity", {"severity": 4}),
    ("tlp", {"tlp": "TLP:AMBER+STRICT"}),
    ("escalate", {"to_cert": "PARENT", "reason": "x"}),
    ("refer", {"to_cert": "CHILD", "reason": "x"}),
    ("merge", {"into": "OTHER"}),
])
def test_a_stale_page_changes_nothing_and_says_so(certs, member, staff_client, lahore_incident,
                                                  action, data):
    other = make_incident(owner_cert=certs["lahore"], title="Other")
    data = {key: {"PARENT": certs["punjab"].pk, "CHILD": certs["punjab-it-board-cert"].pk,
                  "OTHER": other.reference}.get(value, value) for key, value in data.items()}
    client = staff_client(member("lahore", "head"))
    stale_version = lahore_incident.version
    # Someone else changes the incident after the page was opened.
    incident_change_severity(incident=Incident.objects.get(pk=lahore_incident.pk),
                             actor=member("lahore", "handler"), severity=3)
    before = snapshot(lahore_incident)

    response = client.post(action_url(lahore_incident, action), {"version": stale_version, **data},
                           follow=True)

    assert response.redirect_chain == [(page_url(lahore_incident), 302)]
    assert "changed by someone else" in response.content.decode()
    assert snapshot(lahore_incident) == before


def test_a_conflict_found_by_the_service_is_reported_too(certs, member, staff_client,
                                                        lahore_incident, monkeypatch):
    # The page was current when posted, but the row changed between reading and writing.
    from incidents.services import base

    original = base.write_incident

    def racing(incident, **changes):
        Incident.objects.filter(pk=incident.pk).update(version=incident.version + 5)
        return original(incident, **changes)

    monkeypatch.setattr("incidents.services.lifecycle.write_incident", racing)
    response = post(staff_client(member("lahore", "handler")), lahore_incident, "acknowledge",
                    follow=True)
    assert "changed by someone else" in response.content.decode()
    lahore_incident.refresh_from_db()
    assert lahore_incident.status == Status.NEW


def test_a_stale_page_does_not_stop_a_comment(certs, member, staff_client, lahore_incident):
    stale = Incident.objects.get(pk=lahore_incident.pk)
    incident_acknowledge(incident=lahore_incident, actor=None)
    post(staff_client(member("lahore", "handler")), stale, "comment",
         {"body": "Adds, changes nothing", "visibility": "internal"})
    assert Comment.objects.filter(incident=lahore_incident).count() == 1


# Escalate and refer: what changed ----------------------------------------------------------


def test_escalation_says_exactly_what_changed(certs, member, staff_client, lahore_incident,
                                              clock):
    handler, analyst = member("lahore", "handler"), member("lahore", "analyst")
    incident_assign(incident=lahore_incident, actor=handler, assignee=analyst)
    lahore_incident.refresh_from_db()
    client = staff_client(handler)

    response = post(client, lahore_incident, "escalate",
                    {"to_cert": certs["punjab"].pk, "reason": "Beyond our capacity"})

    assert response.status_code == 302 and response["Location"] == page_url(lahore_incident)
    lahore_incident.refresh_from_db()
    assert (lahore_incident.owner_cert, lahore_incident.status, lahore_incident.assignee) == (
        certs["punjab"], Status.NEW, None)
    [event] = events(lahore_incident, EventKind.ESCALATED)
    assert (event.actor, event.old_value, event.new_value, event.reason) == (
        handler, "LHR-CERT", "PB-CERT", "Beyond our capacity")
    # Medium: a fresh 24 h to acknowledge, from now (10:00 in Karachi).
    assert message_texts(response) == [
        f"{lahore_incident.reference} was escalated from Lahore Metropolitan CERT to Punjab "
        "Government CERT: it is new again for Punjab Government CERT with an acknowledgement "
        "deadline of 2026-03-11 10:00 PKT; its assignee lahore.analyst.test was unassigned; "
        "your CERT keeps view and comment access."]

    # Lahore still sees it, read-only apart from comments; Punjab works it.
    assert offered(client, lahore_incident) == {"comment", "watch"}
    punjab = offered(staff_client(member("punjab", "handler")), lahore_incident)
    assert {"acknowledge", "escalate", "refer", "assign-me"} <= punjab


def test_escalating_to_a_further_ancestor(certs, member, staff_client, lahore_incident):
    response = post(staff_client(member("lahore", "handler")), lahore_incident, "escalate",
                    {"to_cert": certs["national"].pk, "reason": "National campaign"})
    assert response.status_code == 302
    lahore_incident.refresh_from_db()
    assert lahore_incident.owner_cert == certs["national"]
    assert "its assignee" not in message_texts(response)[0]


def test_escalating_sideways_is_a_form_error(certs, member, staff_client, lahore_incident):
    response = post(staff_client(member("lahore", "handler")), lahore_incident, "escalate",
                    {"to_cert": certs["sindh"].pk, "reason": "Wrong way"})
    assert response.status_code == 400
    assert "action-to_cert_error" in response.content.decode()
    lahore_incident.refresh_from_db()
    assert lahore_incident.owner_cert == certs["lahore"]


def test_escalation_needs_a_reason(certs, member, staff_client, lahore_incident):
    response = post(staff_client(member("lahore", "handler")), lahore_incident, "escalate",
                    {"to_cert": certs["punjab"].pk, "reason": ""})
    assert response.status_code == 400
    assert "action-reason_error" in response.content.decode()
    assert not events(lahore_incident, EventKind.ESCALATED)


def test_refer_down(certs, member, staff_client):
    incident = make_incident(owner_cert=certs["punjab"], title="Punjab case")
    handler = member("punjab", "handler")

    response = post(staff_client(handler), incident, "refer",
                    {"to_cert": certs["lahore"].pk, "reason": "Local matter"})

    incident.refresh_from_db()
    assert (incident.owner_cert, incident.status) == (certs["lahore"], Status.NEW)
    [event] = events(incident, EventKind.REFERRED)
    assert (event.actor, event.old_value, event.new_value) == (handler, "PB-CERT", "LHR-CERT")
    assert message_texts(response)[0].startswith(
        f"{incident.reference} was referred from Punjab Government CERT to Lahore Metropolitan "
        "CERT: it is new again for Lahore Metropolitan CERT")


def test_a_member_who_can_no_longer_see_it_goes_to_the_queue(certs, member, staff_client,
                                                             lahore_incident, monkeypatch):
    from incidents.dashboard import workspace

    asked = []
    real = workspace.allowed_actions

    def fewer(user, incident):
        asked.append(incident.pk)
        return real(user, incident) if len(asked) == 1 else set()

    monkeypatch.setattr(workspace, "allowed_actions", fewer)
    response = post(staff_client(member("lahore", "handler")), lahore_incident, "escalate",
                    {"to_cert": certs["punjab"].pk, "reason": "x"})

    assert response.status_code == 302 and response["Location"] == reverse("dashboard:queue")
    assert message_texts(response)[0].endswith("your CERT can no longer see it.")


# Tabs --------------------------------------------------------------------------------------


@pytest.fixture
def furnished(certs, member, media):
    """A Lahore incident with something in every tab."""
    from incidents.services import incident_attach, incident_link, task_add

    handler = member("lahore", "handler")
    incident = make_incident(owner_cert=certs["punjab"], actor=member("punjab", "handler"),
                             title="Furnished case")
    incident_comment(incident=incident, actor=member("punjab", "handler"), body="First look")
    from incidents.services import incident_refer

    incident_refer(incident=incident, actor=member("punjab", "handler"), to_cert=certs["lahore"],
                   reason="Local matter")
    incident.refresh_from_db()
    incident_add_observable(incident=incident, actor=handler, type="domain", value="evil.example")
    incident_attach(incident=incident, actor=handler,
                    uploaded_file=SimpleUploadedFile("log.txt", b"GET /login\n"))
    task_add(incident=incident, actor=handler, title="Call the registrar", assignee=handler)
    other = make_incident(owner_cert=certs["lahore"], title="Sister case")
    incident_link(incident=incident, actor=handler, other=other)
    return incident


def test_every_tab_renders_its_rows_and_counts(member, staff_client, furnished):
    client = staff_client(member("lahore", "handler"))

    def tab(name):
        response = client.get(page_url(furnished, tab=name))
        assert response.status_code == 200
        return response.content.decode()

    timeline = tab("timeline")
    assert "Referred" in timeline and "PB-CERT" in timeline and "Local matter" in timeline
    assert "punjab.handler.test" in timeline
    assert re.search(r'aria-current="page">Timeline <span class="count">\(\d+\)</span>', timeline)
    for label, count in (("Comments", 1), ("Observables", 1), ("Files", 1), ("Tasks", 1),
                         ("Related incidents", 1), ("Owners", 2)):
        assert f'{label} <span class="count">({count})</span>' in timeline
    assert "First look" in tab("comments")
    assert "evil.example" in tab("observables")
    assert "log.txt" in tab("files")
    tasks = tab("tasks")
    assert "Call the registrar" in tasks and "Mark done" in tasks
    assert "Sister case" in tab("related")
    owners = tab("owners")
    owners = owners[owners.index('id="incident-owners"'):]
    assert owners.index("Punjab Government CERT") < owners.index("Lahore Metropolitan CERT")
    assert "Owns it now" in owners
    # An unknown tab shows the timeline.
    assert 'id="incident-timeline"' in tab("nonsense")


def test_timeline_shows_every_event_with_actor_change_and_reason(certs, member, staff_client,
                                                                 lahore_incident):
    handler = member("lahore", "handler")
    incident_change_severity(incident=lahore_incident, actor=handler, severity=4,
                             reason="Ministry affected")
    content = staff_client(handler).get(page_url(lahore_incident)).content.decode()
    table = content[content.index('id="incident-timeline"'):]
    assert table.index("Created") < table.index("Severity changed")
    assert "Medium" in table and "Severe" in table and "Ministry affected" in table


def test_observable_correlation_counts_only_incidents_the_member_may_see(certs, member,
                                                                         staff_client):
    handler = member("lahore", "handler")
    mine = make_incident(owner_cert=certs["lahore"], title="Mine")
    for owner, title in (("lahore", "Also ours"), ("sindh", "Not ours"), ("karachi", "Nor this")):
        incident = make_incident(owner_cert=certs[owner], title=title)
        incident_add_observable(incident=incident, actor=None, type="domain", value="evil.example")
    incident_add_observable(incident=mine, actor=None, type="domain", value="evil.example")
    incident_add_observable(incident=mine, actor=None, type="ipv4", value="198.51.100.7")

    lahore = staff_client(handler).get(page_url(mine, tab="observables")).content.decode()
    national = staff_client(member("national", "handler")).get(
        page_url(mine, tab="observables")).content.decode()

    assert "seen in 1 other incident you may see" in lahore
    assert f'href="{reverse("dashboard:queue")}?tab=all&amp;q=evil.example"' in lahore
    assert "not seen in other incidents you may see" in lahore  # the address
    assert "Not ours" not in lahore
    assert "seen in 3 other incidents you may see" in national  # oversight sees all three


def test_observable_correlation_is_capped(certs, member, staff_client, monkeypatch):
    from incidents import workspace

    monkeypatch.setattr(workspace, "SEEN_ELSEWHERE_CAP", 2)
    incidents = [make_incident(owner_cert=certs["lahore"], title=f"Case {n}") for n in range(4)]
    for incident in incidents:
        incident_add_observable(incident=incident, actor=None, type="domain", value="evil.example")
    content = staff_client(member("lahore", "handler")).get(
        page_url(incidents[0], tab="observables")).content.decode()
    assert "seen in more than 2 other incidents you may see" in content


def test_related_incidents_show_only_what_the_member_may_see(certs, member, staff_client,
                                                             lahore_incident):
    from incidents.models import IncidentLink

    national = member("national", "handler")
    sindh_case = make_incident(owner_cert=certs["sindh"], title="Sindh sister case")
    lahore_case = make_incident(owner_cert=certs["lahore"], title="Lahore sister case")
    for other in (sindh_case, lahore_case):  # linked by the national CERT, which sees both
        low, high = sorted((lahore_incident, other), key=lambda row: row.pk)
        IncidentLink.objects.create(incident=low, related=high, created_at=timezone.now())

    lahore = staff_client(member("lahore", "handler")).get(
        page_url(lahore_incident, tab="related")).content.decode()
    assert "Lahore sister case" in lahore and "Sindh sister case" not in lahore
    assert sindh_case.reference not in lahore
    assert 'Related incidents <span class="count">(1)</span>' in lahore
    everything = staff_client(national).get(page_url(lahore_incident, tab="related"))
    assert "Sindh sister case" in everything.content.decode()


# Query counts ------------------------------------------------------------------------------

TABS = ("timeline", "comments", "observables", "files", "tasks", "related", "owners")


def fill(incident, certs, member, n: int) -> None:
    """`n` rows in each of the incident's lists, written by a few people."""
    from incidents.models import IncidentLink, IncidentTask, OwnershipPeriod

    people = [member("lahore", role) for role in ("handler", "analyst", "head")]
    now = timezone.now()
    TimelineEvent.objects.bulk_create([
        TimelineEvent(incident=incident, kind=EventKind.COMMENT, at=now, actor=people[i % 3],
                      new_value=f"event {i}") for i in range(n)])
    Comment.objects.bulk_create([
        Comment(incident=incident, author=people[i % 3], body=f"comment {i}", created_at=now)
        for i in range(n)])
    Observable.objects.bulk_create([
        Observable(incident=incident, type="domain", value=f"host{i}.evil.example", created_at=now,
                   added_by=people[i % 3]) for i in range(n)])
    Attachment.objects.bulk_create([
        Attachment(incident=incident, file=f"incidents/x/{i}", original_name=f"f{i}.txt", size=1,
                   sha256="0" * 64, content_type="text/plain", uploaded_by=people[i % 3],
                   created_at=now) for i in range(n)])
    IncidentTask.objects.bulk_create([
        IncidentTask(incident=incident, title=f"task {i}", assignee=people[i % 3],
                     done_by=people[0] if i % 2 else None, done_at=now if i % 2 else None,
                     created_at=now) for i in range(n)])
    others = bulk_incidents(certs["lahore"], n, tag=f"rel{incident.pk}", ack_due=now,
                            resolve_due=now, reported=now)
    IncidentLink.objects.bulk_create([
        IncidentLink(incident_id=min(incident.pk, other), related_id=max(incident.pk, other),
                     created_at=now) for other in others])
    OwnershipPeriod.objects.bulk_create([
        OwnershipPeriod(incident=incident, cert=certs["lahore"], started_at=now, ended_at=now)
        for _ in range(n)])


def page_queries(client, incident, tab) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        response = client.get(page_url(incident, tab=tab))
    assert response.status_code == 200
    return len(queries)


def test_the_page_costs_the_same_queries_with_5_or_200_rows_per_tab(certs, member, staff_client,
                                                                   django_assert_num_queries):
    client = staff_client(member("lahore", "handler"))
    small = make_incident(owner_cert=certs["lahore"], title="Small")
    big = make_incident(owner_cert=certs["lahore"], title="Big")
    fill(small, certs, member, 5)
    fill(big, certs, member, 200)
    for tab in TABS:
        page_queries(client, small, tab)  # the visit row exists from now on: an UPDATE only
        page_queries(client, big, tab)
        expected = page_queries(client, small, tab)
        with django_assert_num_queries(expected):
            response = client.get(page_url(big, tab=tab))
        assert response.status_code == 200
        # 17: the audit trail's INCIDENT_VIEWED row is one INSERT a view (issue 13).
        assert expected <= 17, (tab, expected)
    assert "event 199" in client.get(page_url(big)).content.decode()


def test_the_page_costs_the_same_queries_at_10_and_1000_incidents(certs, member, staff_client,
                                                                  django_assert_num_queries):
    client = staff_client(member("lahore", "handler"))
    incident = make_incident(owner_cert=certs["lahore"], title="Case")
    incident_add_observable(incident=incident, actor=None, type="domain", value="evil.example")
    now = timezone.now()
    ids = bulk_incidents(certs["lahore"], 9, tag="few", ack_due=now, resolve_due=now, reported=now)
    Observable.objects.bulk_create([Observable(incident_id=pk, type="domain", value="evil.example",
                                               created_at=now) for pk in ids])
    counts = {}
    for tab in TABS:
        page_queries(client, incident, tab)
        counts[tab] = page_queries(client, incident, tab)

    more = bulk_incidents(certs["lahore"], 990, tag="many", ack_due=now, resolve_due=now,
                          reported=now)
    Observable.objects.bulk_create([Observable(incident_id=pk, type="domain", value="evil.example",
                                               created_at=now) for pk in more])
    for tab in TABS:
        with django_assert_num_queries(counts[tab]):
            response = client.get(page_url(incident, tab=tab))
        assert response.status_code == 200
    assert "seen in 999 other incidents you may see" in client.get(
        page_url(incident, tab="observables")).content.decode()


def test_the_timeline_shows_the_latest_hundred_events_and_pages_to_earlier_ones(
        certs, member, staff_client):
    incident = make_incident(owner_cert=certs["lahore"], title="Long story")
    start = incident.reported_at
    TimelineEvent.objects.bulk_create([
        TimelineEvent(incident=incident, kind=EventKind.COMMENT, at=start + timezone.timedelta(minutes=n),
                      new_value=f"step {n:03d}") for n in range(1, 250)])  # with "created": 250
    client = staff_client(member("lahore", "handler"))

    def steps(response) -> list[str]:
        assert response.status_code == 200
        return [event.new_value for event in response.context["events"]]

    latest = client.get(page_url(incident, tab="timeline"))
    assert steps(latest) == [f"step {n:03d}" for n in range(150, 250)]
    earlier_link = re.search(r'href="\?tab=timeline&amp;before=([^"]+)" rel="prev"',
                             latest.content.decode())
    assert earlier_link and "Latest events" not in latest.content.decode()

    middle = client.get(page_url(incident, tab="timeline", before=earlier_link[1]))
    assert steps(middle) == [f"step {n:03d}" for n in range(50, 150)]
    assert "Latest events" in middle.content.decode()
    first_link = re.search(r'before=([^"]+)" rel="prev"', middle.content.decode())[1]
    first = client.get(page_url(incident, tab="timeline", before=first_link))
    # The first page: the incident's creation (new value: its owner), then steps 1 to 49.
    assert steps(first) == [certs["lahore"].short_name, *(f"step {n:03d}" for n in range(1, 50))]
    assert 'rel="prev"' not in first.content.decode()

    damaged = client.get(page_url(incident, tab="timeline", before="not-a-cursor"))
    assert steps(damaged) == steps(latest)
    assert "This page link is damaged or out of date" in damaged.content.decode()
