"""The Django admin after issue 9: the registry administrators' tool, with no incident pages.

The staff work incidents in the dashboard; the guarantees the admin's incident pages had
(refusals, conflicts, query counts, escaping, visibility) are tested there, in
tests/dashboard/test_workspace.py. What stays here: incidents are not in the admin at all, the
admin's "view on site" link leads to the dashboard without telling anyone which incidents exist,
and the attachment download, which the workspace links to.
"""

from __future__ import annotations

import re

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import NoReverseMatch, reverse

from incidents.models import (
    Attachment,
    Comment,
    Incident,
    IncidentGroupObjectPermission,
    IncidentShare,
    Notification,
    Observable,
    OwnershipPeriod,
    TimelineEvent,
)
from tests.factories import UserFactory, make_incident
from tests.twofactor import sign_in

pytestmark = pytest.mark.django_db


def staff(user):
    """Members made by the `member` fixture are not staff; the admin needs is_staff."""
    if not user.is_staff:
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    return user


@pytest.fixture
def login(client):
    """The admin asks for both factors (cert_portal/accounts/admin_site.py)."""
    def do(user):
        return sign_in(client, staff(user))

    return do


@pytest.fixture
def lahore_incident(certs):
    return make_incident(owner_cert=certs["lahore"], title="Lahore phishing wave")


# No incident pages ----------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["member", "superuser"])
def test_incidents_are_not_in_the_admin(certs, member, login, lahore_incident, who):
    user = (member("lahore", "handler") if who == "member"
            else UserFactory(username="root", is_staff=True, is_superuser=True))
    client = login(user)

    index = client.get(reverse("admin:index"))
    assert index.status_code == 200
    assert b"/admin/incidents/incident/" not in index.content
    for url in ("/admin/incidents/incident/", f"/admin/incidents/incident/{lahore_incident.pk}/change/",
                "/admin/incidents/incident/add/"):
        response = client.get(url)
        assert response.status_code in (302, 404), url  # the admin's catch-all, or "not found"
        assert lahore_incident.reference.encode() not in response.content
    with pytest.raises(NoReverseMatch):
        reverse("admin:incidents_incident_changelist")


def test_administrators_keep_routing_rules_and_the_outbox(login, db):
    client = login(UserFactory(username="root", is_staff=True, is_superuser=True))
    assert client.get("/admin/incidents/routingrule/").status_code == 200
    assert client.get("/admin/incidents/notification/").status_code == 200


def test_an_incident_lives_at_its_workspace(lahore_incident):
    assert lahore_incident.get_absolute_url() == f"/dashboard/incidents/{lahore_incident.reference}/"


# Attachment download --------------------------------------------------------------------------


@pytest.fixture
def attachment(settings, tmp_path, member, lahore_incident):
    from incidents.services import incident_attach

    settings.MEDIA_ROOT = tmp_path
    return incident_attach(incident=lahore_incident, actor=member("lahore", "handler"),
                           uploaded_file=SimpleUploadedFile("report.txt", b"indicator list\n"))


def download_url(attachment) -> str:
    return reverse("incidents:attachment_download", args=[attachment.pk])


def test_download_by_an_allowed_member(member, client, attachment):
    client.force_login(member("punjab", "analyst"))  # ancestor, TLP:AMBER: may view

    response = client.get(download_url(attachment))

    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    assert 'filename="report.txt"' in response["Content-Disposition"]
    assert response["Content-Type"] == "application/octet-stream"
    assert b"".join(response.streaming_content) == b"indicator list\n"


def test_download_answers_404_to_the_invisible_and_anonymous(member, client, attachment):
    assert client.get(download_url(attachment)).status_code == 404
    client.force_login(member("sindh", "head"))
    assert client.get(download_url(attachment)).status_code == 404
    assert client.get(reverse("incidents:attachment_download",
                              args=[attachment.pk + 1000])).status_code == 404


# No existence oracles (issue 7, finding 10) ---------------------------------------------------
# Whatever a member may not see answers exactly like what does not exist: 404 with the same page,
# with DEBUG on (whose pages say why) and off.

# The models whose rows belong to an incident, each with a way to find a row of an incident.
INCIDENT_PARTS = [Comment, TimelineEvent, Observable, Attachment, IncidentShare, Notification,
                  OwnershipPeriod, IncidentGroupObjectPermission]


def incident_key(model) -> str:
    return "content_object" if model is IncidentGroupObjectPermission else "incident"


def same_page(body: bytes, url: str) -> str:
    """The page without what differs from one request to the next: its own address and the CSRF
    tokens."""
    text = body.decode().replace(url, "<this address>").replace(url.lstrip("/"), "<this address>")
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', 'name="csrfmiddlewaretoken"', text)


def assert_same_404(client, url_of, invisible_pk, missing_pk, method="get", data=None):
    answers = []
    for pk in (invisible_pk, missing_pk):
        response = getattr(client, method)(url_of(pk), data or {})
        assert response.status_code == 404, (url_of(pk), response.status_code)
        answers.append(same_page(response.content, url_of(pk)))
    assert answers[0] == answers[1]
    return answers[0]


@pytest.fixture
def furnished(certs, member, settings, tmp_path):
    """A Lahore and a Rawalpindi incident, each with a comment, an observable, a file, a share,
    an assignment (and its notification), and an escalation (ownership periods)."""
    from incidents.services import (
        incident_add_observable,
        incident_assign,
        incident_attach,
        incident_comment,
        incident_escalate,
        incident_share,
    )

    settings.MEDIA_ROOT = tmp_path

    def furnish(slug):
        handler = member(slug, "handler")
        incident = make_incident(owner_cert=certs[slug], actor=handler, title=f"{slug} case")
        incident_comment(incident=incident, actor=handler, body="Internal note")
        incident_add_observable(incident=incident, actor=handler, type="domain",
                                value=f"{slug}.evil.example")
        incident_attach(incident=incident, actor=handler,
                        uploaded_file=SimpleUploadedFile("log.txt", b"GET /login\n"))
        incident_share(incident=incident, actor=handler, cert=certs["karachi"])
        incident_assign(incident=incident, actor=handler, assignee=member(slug, "analyst"))
        incident_escalate(incident=incident, actor=handler)
        return incident

    # A Lahore handler sees the first (as its earlier owner) and not the second.
    return furnish("lahore"), furnish("rawalpindi")


def missing_pk(model) -> int:
    return (model.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1000


def view_on_site_url(model, pk) -> str:
    content_type = ContentType.objects.get_for_model(model)
    return reverse("admin:view_on_site", args=[content_type.pk, pk])


@pytest.mark.parametrize("debug", [False, True], ids=["DEBUG off", "DEBUG on"])
@pytest.mark.parametrize("model", [Incident, *INCIDENT_PARTS], ids=lambda model: model.__name__)
def test_view_on_site_answers_invisible_exactly_like_missing(settings, certs, member, login,
                                                             furnished, model, debug):
    settings.DEBUG = debug
    visible_incident, invisible_incident = furnished
    client = login(member("lahore", "handler"))

    def row_of(incident):
        if model is Incident:
            return incident.pk
        return model.objects.filter(**{incident_key(model): incident}).values_list(
            "pk", flat=True).first()

    visible, invisible = row_of(visible_incident), row_of(invisible_incident)
    assert visible and invisible
    page = assert_same_404(client, lambda pk: view_on_site_url(model, pk), invisible,
                           missing_pk(model))
    assert "rawalpindi" not in page.lower()
    response = client.get(view_on_site_url(model, visible))
    if model is Incident:
        # To the incident's workspace in the dashboard.
        assert (response.status_code, response["Location"]) == (
            302, reverse("dashboard:incident", args=[visible_incident.reference]))
    else:
        assert response.status_code == 404  # parts have no page of their own


@pytest.mark.parametrize("debug", [False, True], ids=["DEBUG off", "DEBUG on"])
def test_download_answers_invisible_exactly_like_missing(settings, member, client, attachment,
                                                         debug):
    settings.DEBUG = debug
    client.force_login(member("sindh", "head"))

    assert_same_404(client, lambda pk: reverse("incidents:attachment_download", args=[pk]),
                    attachment.pk, missing_pk(Attachment))
