"""Related incidents: incidents/services/links.py, and the workspace's related tab with its link
and merge forms."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.urls import reverse

from incidents.access import ActionNotAllowed
from incidents.models import EventKind, Incident, IncidentLink, Observable, Status, TimelineEvent
from incidents.services import incident_add_observable, incident_link
from tests.factories import make_incident

pytestmark = pytest.mark.django_db


@pytest.fixture
def pair(certs):
    return (make_incident(owner_cert=certs["lahore"], title="First"),
            make_incident(owner_cert=certs["lahore"], title="Second"))


def linked_events(incident) -> list[tuple]:
    return list(TimelineEvent.objects.filter(incident=incident, kind=EventKind.LINKED)
                .values_list("actor__username", "new_value", "reason"))


# Service -----------------------------------------------------------------------------------


def test_a_link_is_stored_once_lower_id_first_with_an_event_on_both(member, pair):
    first, second = pair
    analyst = member("lahore", "analyst")

    link = incident_link(incident=second, actor=analyst, other=first, reason="Same sender")

    assert (link.incident, link.related, link.created_by) == (first, second, analyst)
    assert linked_events(first) == [("lahore.analyst.test", second.reference, "Same sender")]
    assert linked_events(second) == [("lahore.analyst.test", first.reference, "Same sender")]
    with pytest.raises(ValidationError) as again:
        incident_link(incident=first, actor=analyst, other=second)
    assert "already related" in again.value.message_dict["reference"][0]
    assert IncidentLink.objects.count() == 1


def test_an_incident_is_not_related_to_itself(member, pair):
    with pytest.raises(ValidationError):
        incident_link(incident=pair[0], actor=member("lahore", "handler"), other=pair[0])
    assert not IncidentLink.objects.exists()


@pytest.mark.parametrize(("slug", "role", "outcome"), [
    ("lahore", "handler", "ok"), ("lahore", "analyst", "ok"), ("lahore", "liaison", "refused"),
    ("punjab", "head", "refused"), ("sindh", "handler", "404"),
])
def test_who_may_link(member, pair, slug, role, outcome):
    call = lambda: incident_link(incident=pair[0], actor=member(slug, role), other=pair[1])  # noqa: E731
    if outcome == "ok":
        call()
    else:
        with pytest.raises(ActionNotAllowed if outcome == "refused" else Http404):
            call()
    assert IncidentLink.objects.exists() is (outcome == "ok")


def test_linking_to_an_incident_one_may_not_see_is_404(certs, member, pair):
    sindh = make_incident(owner_cert=certs["sindh"], title="Sindh case")
    with pytest.raises(Http404):
        incident_link(incident=pair[0], actor=member("lahore", "handler"), other=sindh)
    assert not IncidentLink.objects.exists()
    assert not linked_events(sindh)


# The tab -----------------------------------------------------------------------------------


def act(client, incident, action, data):
    return client.post(reverse("dashboard:incident_action", args=[incident.reference, action]),
                       {"version": incident.version, "tab": "related", **data})


def related_tab(client, incident) -> str:
    return client.get(reverse("dashboard:incident", args=[incident.reference]),
                      {"tab": "related"}).content.decode()


def test_link_by_reference_from_the_tab(member, staff_client, pair):
    first, second = pair
    client = staff_client(member("lahore", "handler"))

    response = act(client, first, "link", {"reference": second.reference.lower(),
                                           "reason": "Same kit"})

    assert response.status_code == 302 and response["Location"].endswith("?tab=related")
    assert IncidentLink.objects.filter(incident=first, related=second).exists()
    page = related_tab(client, second)
    assert f'href="{reverse("dashboard:incident", args=[first.reference])}"' in page
    assert 'Related incidents <span class="count">(1)</span>' in page


def test_a_reference_one_may_not_see_is_answered_like_a_missing_one(certs, member, staff_client,
                                                                   pair):
    sindh = make_incident(owner_cert=certs["sindh"], title="Sindh case")
    client = staff_client(member("lahore", "handler"))
    answers = []
    for reference in (sindh.reference, "PK-INC-2026-999999"):
        response = act(client, pair[0], "link", {"reference": reference})
        assert response.status_code == 400
        answers.append(response.content.decode().replace(reference, "<reference>"))
    assert "No incident you may see has the reference <reference>" in answers[0]
    assert "Sindh case" not in answers[0]
    assert not IncidentLink.objects.exists()


def test_a_liaison_gets_the_refusal_for_a_link_posted_by_hand(member, staff_client, pair):
    response = act(staff_client(member("lahore", "liaison")), pair[0], "link",
                   {"reference": pair[1].reference})
    assert response.status_code == 403
    assert not IncidentLink.objects.exists()


def test_merge_a_duplicate_from_the_tab(member, staff_client, pair):
    duplicate, kept = pair
    incident_add_observable(incident=duplicate, actor=None, type="domain", value="evil.example")
    handler = member("lahore", "handler")

    response = act(staff_client(handler), duplicate, "merge", {"into": kept.reference,
                                                               "reason": "Same report"})

    assert response.status_code == 302
    assert response["Location"] == (reverse("dashboard:incident", args=[kept.reference])
                                    + "?tab=related")
    duplicate.refresh_from_db()
    assert (duplicate.status, duplicate.merged_into) == (Status.REJECTED, kept)
    assert Observable.objects.filter(incident=kept, value="evil.example").exists()
    assert TimelineEvent.objects.filter(incident=kept, kind=EventKind.MERGED).exists()
    [text] = [str(m) for m in get_messages(response.wsgi_request)]
    assert text.startswith(f"{duplicate.reference} was merged into {kept.reference}")
    client = staff_client(handler)
    page = related_tab(client, kept)
    assert duplicate.reference in page and "Duplicate merged into this one" in page
    merged_page = client.get(reverse("dashboard:incident", args=[duplicate.reference])).content
    assert b"as a duplicate" in merged_page and b"/merge/" not in merged_page


def test_merge_refused_by_the_service_says_why(certs, member, staff_client):
    duplicate = make_incident(owner_cert=certs["lahore"], tlp="TLP:RED", title="Red")
    kept = make_incident(owner_cert=certs["lahore"], tlp="TLP:GREEN", title="Green")
    response = act(staff_client(member("lahore", "handler")), duplicate, "merge",
                   {"into": kept.reference})
    assert response.status_code == 400
    assert "would reach more people" in response.content.decode()
    assert Incident.objects.get(pk=duplicate.pk).merged_into is None


def test_an_analyst_may_not_merge(member, staff_client, pair):
    response = act(staff_client(member("lahore", "analyst")), pair[0], "merge",
                   {"into": pair[1].reference})
    assert response.status_code == 403
    assert Incident.objects.get(pk=pair[0].pk).merged_into is None
