"""What the Django admin changes is on the audit trail (the registry through its services,
sectors by the admin itself), and the trail is in the admin read only (issue 13)."""

# ruff: noqa: F811 - pytest fixtures imported from the other suites are parameters here

from __future__ import annotations

import pytest
from django.test import Client

from cert_portal.audit.models import AuditEvent, AuditKind, Channel
from cert_portal.audit.record import record
from organizations.models import Sector
from tests.factories import UserFactory
from tests.incidents.conftest import certs  # noqa: F401
from tests.organizations.test_admin import form_data
from tests.twofactor import sign_in

ADDRESS = "198.51.100.20"
pytestmark = pytest.mark.django_db


@pytest.fixture
def administrator(db):
    return UserFactory(username="platform.admin", is_staff=True, is_superuser=True)


@pytest.fixture
def admin_client(administrator):
    return sign_in(Client(REMOTE_ADDR=ADDRESS), administrator)


def newest(kind) -> AuditEvent:
    return AuditEvent.objects.filter(kind=kind).order_by("-id").first()


def test_a_cert_changed_in_the_admin_is_recorded_with_the_administrator(admin_client,
                                                                        administrator, certs):
    lahore = certs["lahore"]
    before = AuditEvent.objects.count()
    response = admin_client.post(f"/admin/organizations/cert/{lahore.pk}/change/",
                                 form_data(lahore, hotline="+92 42 99 000 000"))
    assert response.status_code == 302
    event = newest(AuditKind.REGISTRY_CHANGED)
    assert AuditEvent.objects.count() == before + 1
    assert (event.actor_id, event.client_address, event.channel) == (
        administrator.pk, ADDRESS, Channel.DASHBOARD)
    assert (event.object_type, event.object_id, event.object_cert_id) == (
        "cert", str(lahore.pk), lahore.pk)
    assert event.detail == {"action": "update", "changes": {
        "hotline": {"old": lahore.hotline, "new": "+92 42 99 000 000"}}}

    # A change the rules refuse is shown again and records nothing.
    refused = admin_client.post(f"/admin/organizations/cert/{lahore.pk}/change/",
                                form_data(lahore, parent=certs["banking"].pk))
    assert refused.status_code == 200
    assert AuditEvent.objects.count() == before + 1


def test_sector_changes_in_the_admin_are_recorded(admin_client, administrator):
    response = admin_client.post("/admin/organizations/sector/add/", {
        "slug": "water", "name": "Water", "regulator": "Water Authority",
        "regulator_short_name": "WA"})
    assert response.status_code == 302
    water = Sector.objects.get(slug="water")
    created = newest(AuditKind.REGISTRY_CHANGED)
    assert (created.object_type, created.object_id, created.actor_id) == (
        "sector", str(water.pk), administrator.pk)
    assert created.detail["action"] == "create"
    assert created.detail["changes"]["regulator"] == {"old": None, "new": "Water Authority"}

    admin_client.post(f"/admin/organizations/sector/{water.pk}/change/", {
        "slug": "water", "name": "Water", "regulator": "Water and Power Authority",
        "regulator_short_name": "WA"})
    changed = newest(AuditKind.REGISTRY_CHANGED)
    assert changed.detail == {"action": "update", "changes": {
        "regulator": {"old": "Water Authority", "new": "Water and Power Authority"}}}

    admin_client.post(f"/admin/organizations/sector/{water.pk}/delete/", {"post": "yes"})
    assert not Sector.objects.filter(pk=water.pk).exists()
    deleted = newest(AuditKind.REGISTRY_CHANGED)
    assert (deleted.detail["action"], deleted.object_label) == ("delete", "Water")


def test_the_trail_is_read_only_in_the_admin(admin_client):
    event = record(AuditKind.SIGN_OUT, request=None, actor_label="someone")
    base = "/admin/audit/auditevent/"
    listing = admin_client.get(base, {"kind": "sign_out", "q": "someone"})
    assert listing.status_code == 200 and "someone" in listing.content.decode()
    assert admin_client.get(f"{base}{event.pk}/change/").status_code == 200  # view only
    assert admin_client.get(f"{base}add/").status_code == 403
    admin_client.post(f"{base}{event.pk}/change/", {"actor_label": "someone else"})
    assert admin_client.post(f"{base}{event.pk}/delete/", {"post": "yes"}).status_code == 403
    event.refresh_from_db()
    assert event.actor_label == "someone"


def test_the_admin_list_counts_the_trail_only_up_to_a_bound(admin_client, monkeypatch):
    """The admin's page links count at most CAP events, with a LIMIT under the COUNT, so that a
    trail of millions is never counted whole on each page."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from cert_portal.audit.admin import CappedCountPaginator

    monkeypatch.setattr(CappedCountPaginator, "CAP", 3)
    for number in range(5):
        record(AuditKind.SIGN_IN_FAILED, actor_label=f"name-{number}", channel=Channel.DASHBOARD)
    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get("/admin/audit/auditevent/")
    assert response.status_code == 200
    assert response.context["cl"].paginator.count == 3
    counts = [q["sql"] for q in queries.captured_queries
              if "COUNT(" in q["sql"].upper() and "audit_auditevent" in q["sql"]]
    assert counts and all("LIMIT" in sql.upper() for sql in counts), counts
