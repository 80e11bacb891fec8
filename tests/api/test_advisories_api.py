"""/api/v1/advisories/ (issue 11): each answer as advisories.access says, for keys of the author
CERT, an audience CERT, an ancestor and an unrelated CERT; writes through the services."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from advisories.models import Advisory, AdvisoryRevision, AdvisoryStatus, RevisionState
from advisories.services import advisory_create, advisory_revise
from organizations.api_keys import api_key_revoke
from organizations.models import ApiKey
from tests.advisories.conftest import make_advisory  # noqa: F401
from tests.advisories.support import VALID_CVSS_V3, content
from tests.twofactor import sign_in

NEW = {"title": "Patch the example VPN", "summary": "Attackers exploit the example VPN gateway.",
       "body_markdown": "Update **now**.", "severity": 3, "tlp": "TLP:AMBER",
       "cve_ids": ["CVE-2026-1234"], "cvss_v3_vector": VALID_CVSS_V3,
       "products": [{"vendor": "Example", "product": "VPN", "versions": "< 2.1"}]}


def listed(client, **params) -> set[str]:
    response = client.get("/api/v1/advisories/", {"page_size": 200, **params})
    assert response.status_code == 200, response.content
    return {row["reference"] for row in response.json()["results"]}


def test_a_read_write_key_creates_a_draft_and_submits_it(key_client, certs):
    client = key_client("banking")
    created = client.post("/api/v1/advisories/", {**NEW, "audience": ["telecom"]}, format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    advisory = Advisory.objects.get(reference=body["reference"])
    assert advisory.author_cert.slug == "banking" and advisory.status == AdvisoryStatus.DRAFT
    revision = advisory.revisions.get()
    assert revision.author == client.api_key.service_user
    assert revision.audience_ids == [certs["telecom"].pk]
    assert revision.cvss_v3_score is not None and "<strong>now</strong>" in revision.body_html
    assert body["open_revision"]["title"] == NEW["title"] and body["current"] is None
    assert "submit" in body["actions"] and "approve" not in body["actions"]

    submitted = client.post(f"/api/v1/advisories/{advisory.reference}/submit/",
                            {"version": body["version"]}, format="json")
    assert submitted.status_code == 200, submitted.content
    advisory.refresh_from_db()
    assert advisory.status == AdvisoryStatus.IN_REVIEW
    assert submitted.json()["open_revision"]["state"] == RevisionState.IN_REVIEW


def test_the_audience_is_named_by_slug(key_client, certs):
    created = key_client("banking").post("/api/v1/advisories/", {**NEW, "audience": ["telecom"]},
                                         format="json")
    revision = AdvisoryRevision.objects.get(advisory__reference=created.json()["reference"])
    assert revision.audience_ids == [certs["telecom"].pk]
    refused = key_client("banking").post("/api/v1/advisories/", {**NEW, "audience": ["nowhere"]},
                                         format="json")
    assert refused.status_code == 400 and "audience" in refused.json()["errors"]


def test_approval_is_not_in_the_api(key_client, member):
    client = key_client("banking")
    reference = client.post("/api/v1/advisories/", NEW, format="json").json()["reference"]
    client.post(f"/api/v1/advisories/{reference}/submit/", {}, format="json")
    answer = client.post(f"/api/v1/advisories/{reference}/approve/", {}, format="json")
    assert answer.status_code == 404
    assert Advisory.objects.get(reference=reference).status == AdvisoryStatus.IN_REVIEW


def test_a_read_key_may_not_write(key_client, make_advisory):  # noqa: F811
    draft = make_advisory(cert="banking", published=False)
    client = key_client("banking", scope="read")
    refused = client.post("/api/v1/advisories/", NEW, format="json")
    assert refused.status_code == 403 and "may only read" in refused.json()["detail"]
    assert client.post(f"/api/v1/advisories/{draft.reference}/submit/", {}).status_code == 403
    draft.refresh_from_db()
    assert draft.status == AdvisoryStatus.DRAFT and Advisory.objects.count() == 1
    assert draft.reference in listed(client)  # it still reads its CERT's drafts


def test_a_key_writes_only_for_its_own_cert(key_client, make_advisory):  # noqa: F811
    refused = key_client("telecom").post("/api/v1/advisories/", {**NEW, "cert": "banking"},
                                         format="json")
    assert refused.status_code == 403 and "BNK-CERT" in refused.json()["detail"]
    assert not Advisory.objects.exists()
    unknown = key_client("telecom").post("/api/v1/advisories/", {**NEW, "cert": "nowhere"},
                                         format="json")
    assert unknown.status_code == 400 and "cert" in unknown.json()["errors"]


def test_drafts_are_the_author_certs_only(key_client, make_advisory):  # noqa: F811
    draft = make_advisory(cert="banking", published=False, tlp="TLP:CLEAR")
    url = f"/api/v1/advisories/{draft.reference}/"
    assert key_client("banking", scope="read").get(url).status_code == 200
    for slug in ("cii", "national", "telecom", "example-bank-soc"):  # ancestors, unrelated, below
        client = key_client(slug)
        assert client.get(url).status_code == 404, slug
        assert client.post(url + "submit/", {}).status_code == 404, slug
        assert draft.reference not in listed(client)
    draft.refresh_from_db()
    assert draft.status == AdvisoryStatus.DRAFT


def test_a_published_advisorys_open_revision_is_shown_to_the_author_cert_only(
        key_client, make_advisory, member):  # noqa: F811
    advisory = make_advisory(cert="banking", tlp="TLP:GREEN", title="First text")
    advisory_revise(actor=member("banking", "handler"), advisory=advisory)
    url = f"/api/v1/advisories/{advisory.reference}/"
    author = key_client("banking").get(url).json()
    reader = key_client("telecom").get(url).json()
    assert author["open_revision"]["state"] == RevisionState.DRAFT
    assert reader["open_revision"] is None and reader["current"]["title"] == "First text"
    assert "submit" not in reader["actions"] and reader["actions"] == ["read"]


# Who reads a published advisory of the national CERT under each label, its audience being
# banking for the AMBER labels; telecom is unrelated, cii an ancestor of banking.
TLP_TABLE = {
    "TLP:CLEAR": {"national", "banking", "telecom", "cii"},
    "TLP:GREEN": {"national", "banking", "telecom", "cii"},
    "TLP:AMBER": {"national", "banking"},
    "TLP:AMBER+STRICT": {"national", "banking"},
    "TLP:RED": {"national"},
}


@pytest.mark.parametrize("tlp", list(TLP_TABLE))
def test_each_tlp_label_reaches_whom_access_says(tlp, key_client, make_advisory, certs, member):  # noqa: F811
    extra = {"audience_ids": [certs["banking"].pk]} if "AMBER" in tlp else {}
    if tlp == "TLP:RED":
        extra = {"reader_ids": [member("banking", "head").pk]}
    advisory = make_advisory(cert="national", tlp=tlp, **extra)
    for slug in ("national", "banking", "telecom", "cii"):
        client = key_client(slug, scope="read")
        answer = client.get(f"/api/v1/advisories/{advisory.reference}/")
        if slug in TLP_TABLE[tlp]:
            assert answer.status_code == 200, (tlp, slug)
            assert answer.json()["tlp"] == tlp
            assert advisory.reference in listed(client), (tlp, slug)
        else:
            assert answer.status_code == 404, (tlp, slug)
            assert answer.json()["detail"] == "Not found."
            assert advisory.reference not in listed(client), (tlp, slug)


def test_an_unknown_reference_answers_like_an_invisible_one(key_client, make_advisory):  # noqa: F811
    hidden = make_advisory(cert="national", tlp="TLP:AMBER")
    client = key_client("telecom")
    invisible = client.get(f"/api/v1/advisories/{hidden.reference}/")
    missing = client.get("/api/v1/advisories/PK-ADV-2099-9999/")
    assert invisible.status_code == missing.status_code == 404
    assert invisible.json() == missing.json()


def test_expired_and_revoked_keys_are_401(key_client, make_advisory):  # noqa: F811
    advisory = make_advisory(tlp="TLP:CLEAR")
    revoked = key_client("banking")
    api_key_revoke(actor=None, key=revoked.api_key)
    expired = key_client("banking")
    ApiKey.objects.filter(pk=expired.api_key.pk).update(
        expires_at=timezone.now() - timedelta(minutes=1))
    for client in (revoked, expired):
        assert client.get("/api/v1/advisories/").status_code == 401
        assert client.get(f"/api/v1/advisories/{advisory.reference}/").status_code == 401
        assert client.post("/api/v1/advisories/", NEW, format="json").status_code == 401
    assert Advisory.objects.count() == 1


def test_bad_content_is_400_naming_the_fields(key_client):
    client = key_client("banking")
    answer = client.post("/api/v1/advisories/", {**NEW, "cve_ids": ["CVE-26-1"], "severity": 9,
                                                 "title": ""}, format="json")
    assert answer.status_code == 400
    assert {"severity", "title"} <= set(answer.json()["errors"])
    answer = client.post("/api/v1/advisories/", {**NEW, "cve_ids": ["CVE-26-1"]}, format="json")
    assert answer.status_code == 400 and "CVE-26-1" in answer.json()["errors"]["cve_ids"][0]
    answer = client.post("/api/v1/advisories/", {**NEW, "tlp": "TLP:RED"}, format="json")
    assert answer.status_code == 400 and "reader_ids" in answer.json()["errors"]
    assert client.post("/api/v1/advisories/", "not json", content_type="application/json"
                       ).status_code == 400
    assert client.post("/api/v1/advisories/", "x", content_type="text/plain").status_code == 415
    assert not Advisory.objects.exists()
    bad_filter = client.get("/api/v1/advisories/", {"severity": 9, "published_since": "yesterday"})
    assert bad_filter.status_code == 400
    assert {"severity", "published_since"} <= set(bad_filter.json()["errors"])


def test_a_stale_version_is_409_and_changes_nothing(key_client, make_advisory):  # noqa: F811
    draft = make_advisory(cert="banking", published=False)
    answer = key_client("banking").post(f"/api/v1/advisories/{draft.reference}/submit/",
                                        {"version": draft.version + 5}, format="json")
    assert answer.status_code == 409 and answer["Content-Type"] == "application/problem+json"
    draft.refresh_from_db()
    assert draft.status == AdvisoryStatus.DRAFT


def test_submitting_twice_is_refused_with_the_reason(key_client, make_advisory):  # noqa: F811
    draft = make_advisory(cert="banking", published=False)
    client = key_client("banking")
    assert client.post(f"/api/v1/advisories/{draft.reference}/submit/", {}).status_code == 200
    again = client.post(f"/api/v1/advisories/{draft.reference}/submit/", {})
    assert again.status_code == 403 and "Only a draft" in again.json()["detail"]


def test_a_signed_in_liaison_reads_but_may_not_write(client, member, make_advisory):  # noqa: F811
    draft = make_advisory(cert="banking", published=False)
    sign_in(client, member("banking", "liaison"))
    assert client.get(f"/api/v1/advisories/{draft.reference}/").status_code == 200
    refused = client.post("/api/v1/advisories/", {**NEW, "cert": "banking"},
                          content_type="application/json")
    assert refused.status_code == 403
    assert Advisory.objects.count() == 1


def test_the_filters(key_client, make_advisory, clock):  # noqa: F811
    old = make_advisory(cert="national", tlp="TLP:CLEAR", severity=1, cve_ids=["CVE-2026-0001"],
                        products=[{"vendor": "Acme", "product": "Router", "versions": ""}])
    clock.now += timedelta(days=10)
    new = make_advisory(cert="national", tlp="TLP:GREEN", severity=4, cve_ids=["CVE-2026-0002"],
                        products=[{"vendor": "Acme", "product": "Switch", "versions": ""}])
    draft = make_advisory(cert="banking", published=False, tlp="TLP:AMBER")
    client = key_client("banking")
    assert listed(client) == {old.reference, new.reference, draft.reference}
    assert listed(client, severity=3) == {new.reference}
    assert listed(client, tlp="TLP:CLEAR") == {old.reference}
    assert listed(client, cve="cve-2026-0001") == {old.reference}
    assert listed(client, vendor="ACME") == {old.reference, new.reference}
    assert listed(client, vendor="acme", product="switch") == {new.reference}
    assert listed(client, status="draft") == {draft.reference}
    since = (clock.now - timedelta(days=1)).isoformat()
    assert listed(client, published_since=since) == {new.reference}


def _list_queries(client, size: int) -> tuple[int, int]:
    client.get("/api/v1/advisories/", {"page_size": 1})  # the key's first use is recorded once
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/api/v1/advisories/", {"page_size": size})
    assert response.status_code == 200
    return len(response.json()["results"]), len(queries)


def test_the_list_costs_the_same_queries_whatever_the_page_size_and_the_rows(
        key_client, make_advisory, certs, member):  # noqa: F811
    for tlp in ("TLP:CLEAR", "TLP:GREEN", "TLP:AMBER"):
        make_advisory(cert="banking", tlp=tlp)
    make_advisory(cert="national", tlp="TLP:AMBER", audience_ids=[certs["banking"].pk])
    author = member("banking", "analyst")
    for number in range(6):
        advisory_create(actor=author, cert=certs["banking"], content=content(title=f"Draft {number}"))
    client = key_client("banking")
    rows, few = _list_queries(client, 10)
    assert rows == 10
    for number in range(190):
        advisory_create(actor=author, cert=certs["banking"], content=content(title=f"More {number}"))
    rows, small_page = _list_queries(client, 10)
    assert rows == 10
    rows, big_page = _list_queries(client, 100)
    assert rows == 100 and Advisory.objects.count() == 200
    # The key, the page, the open revisions of the page, the audit trail's API_KEY_USED.
    assert few == small_page == big_page == 4
