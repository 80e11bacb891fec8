"""The demo advisories of `make run` (advisories.demo, manage.py load_demo_advisories)."""

import json
import os
import shutil
import subprocess
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from django_q.models import OrmQ

from advisories import access
from advisories.csaf.document import file_name
from advisories.demo import DEMO_ADVISORIES, demo_titles
from advisories.models import (
    Advisory,
    AdvisoryCve,
    AdvisoryGroupObjectPermission,
    AdvisoryProduct,
    AdvisoryRevision,
    AdvisoryUserObjectPermission,
)
from advisories.tasks import DISTRIBUTE_TASK
from incidents.models import Incident
from incidents.observables import extract
from incidents.tlp import Tlp, is_stricter
from organizations.models import Membership
from tests.csaf_validator.support import (
    CSAF_SCHEMA_ID,
    VALIDATE_SCRIPT,
    VALIDATOR_LIB,
    schema_errors,
    served_document,
)

pytestmark = pytest.mark.django_db

PHISHING = "SMS phishing campaign against Example Bank customers"


def _run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.fixture
def structure():
    _run("load_national_structure", "--demo")


@pytest.fixture
def demo(structure, django_capture_on_commit_callbacks):
    _run("load_routing_rules")  # as `make run` does, before the demo incidents
    _run("load_demo_incidents")
    with django_capture_on_commit_callbacks(execute=True):
        return _run("load_demo_advisories")


def published_revisions():
    return AdvisoryRevision.objects.filter(state="published")


def test_every_label_is_published_and_the_summary_lists_them(demo):
    advisories = Advisory.objects.all()
    assert advisories.count() == len(DEMO_ADVISORIES)
    assert f"Demo advisories: {len(DEMO_ADVISORIES)} created." in demo
    published = advisories.filter(status__in=("published", "withdrawn"))
    assert set(published.values_list("tlp", flat=True)) == set(Tlp.values)
    assert published.filter(tlp=Tlp.CLEAR, status="published").count() >= 3
    for advisory in advisories:
        assert advisory.reference in demo


def test_one_revised_one_withdrawn_one_in_review(demo):
    revised = [advisory for advisory in Advisory.objects.filter(status="published")
               if advisory.revisions.filter(state="published").count() == 2]
    assert len(revised) == 1
    first, second = revised[0].revisions.filter(state="published").order_by("number")
    assert (first.number, second.number) == (1, 2)
    assert revised[0].current_revision == second
    assert second.change_summary.startswith("Added CVE-2026-21002")
    assert set(second.cve_ids) - set(first.cve_ids) == {"CVE-2026-21002"}
    assert second.published_at > first.published_at
    assert "(2 revisions)" in demo

    withdrawn = Advisory.objects.get(status="withdrawn")
    assert withdrawn.current_revision.withdraws
    assert withdrawn.current_revision.change_summary.startswith("Withdrawn: Issued in error")

    waiting = Advisory.objects.get(status="in_review")
    revision = waiting.revisions.get()
    assert (revision.state, revision.author.username) == ("in_review", "national.analyst")
    assert waiting.current_revision is None
    # It waits for the national head, the reviewer who did not write it.
    head = Membership.objects.get(cert__slug="national", role="head").user
    assert access.Action.APPROVE in access.allowed_actions(head, waiting, revision)


def test_four_eyes_on_every_publication(demo):
    for revision in published_revisions().select_related("advisory__author_cert"):
        assert revision.approved_by is not None
        assert Membership.objects.filter(user=revision.approved_by, role="head",
                                         cert=revision.advisory.author_cert).exists()
        if not revision.withdraws:  # a withdrawal is a head's own decision
            assert revision.approved_by != revision.author, revision


def test_cves_scores_products_and_audiences(demo):
    revisions = published_revisions()
    assert revisions.exclude(cve_ids=[]).exists()
    assert revisions.filter(cvss_v3_score__isnull=False).exists()
    assert revisions.filter(cvss_v4_score__isnull=False).exists()
    assert revisions.filter(cvss_v3_score__isnull=False, cvss_v4_score__isnull=False).exists()
    assert AdvisoryCve.objects.filter(cve_id="CVE-2026-21002").exists()
    assert AdvisoryProduct.objects.filter(vendor="example networks", product="edgegate manager").exists()
    amber = Advisory.objects.get(tlp=Tlp.AMBER)
    assert {cert.slug for cert in amber.audience.all()} == {"telecom", "banking", "example-telecom-csirt"}
    assert {row for row in AdvisoryGroupObjectPermission.objects.filter(content_object=amber)
            .values_list("group__cert__slug", flat=True)} == {
        "cii", "telecom", "banking", "example-telecom-csirt"}
    red = Advisory.objects.get(tlp=Tlp.RED)
    assert {user.username for user in red.readers.all()} == {"national.head", "national.handler"}
    assert set(AdvisoryUserObjectPermission.objects.filter(content_object=red)
               .values_list("user__username", flat=True)) == {"national.head", "national.handler"}


def test_one_is_drawn_from_a_demo_incident(demo):
    advisory = Advisory.objects.get(source_incident__isnull=False)
    incident = advisory.source_incident
    assert incident.title == PHISHING
    assert not is_stricter(incident.tlp, advisory.tlp)
    values = {indicator["value"] for indicator in advisory.current_revision.indicators}
    assert "203.0.113.7" in values
    assert values == set(incident.observables.values_list("value", flat=True))
    assert f"from {incident.reference}" in demo


def test_the_public_sees_only_the_clear_ones(demo):
    public = set(access.public_advisories().values_list("tlp", flat=True))
    assert public == {Tlp.CLEAR}
    assert access.public_advisories().count() == Advisory.objects.filter(
        tlp=Tlp.CLEAR, status__in=("published", "withdrawn")).count()


def test_published_over_the_last_weeks_in_order_of_reference(demo):
    now = timezone.now()
    published = list(Advisory.objects.filter(first_published_at__isnull=False).order_by("reference"))
    times = [advisory.first_published_at for advisory in published]
    assert times == sorted(times)
    assert all(now - timedelta(days=30) < time <= now for time in times)
    assert times[-1] - times[0] >= timedelta(days=14)
    for revision in published_revisions().filter(withdraws=False):
        assert revision.created_at < revision.submitted_at < revision.published_at, revision


def test_every_published_demo_advisory_is_a_valid_csaf_document(demo):
    published = Advisory.objects.filter(status__in=("published", "withdrawn"))
    assert published.count() == len(DEMO_ADVISORIES) - 1  # all but the one in review
    for advisory in published:
        document = json.loads(served_document(advisory))
        assert schema_errors(CSAF_SCHEMA_ID, document) == [], advisory.reference
        assert document["document"]["tracking"]["id"] == advisory.reference


def test_every_published_demo_advisory_passes_the_csaf_mandatory_tests(demo, tmp_path):
    # As tests/advisories/test_csaf_validator_lib.py runs them: skipped without node and the
    # library, except under .ci/run (CERT_PORTAL_REQUIRE_BROWSER=1), which must not skip them.
    node = shutil.which("node")
    if node is None or not (VALIDATOR_LIB / "package.json").is_file():
        message = "node or @secvisogram/csaf-validator-lib is missing (npm ci --prefix tests/csaf_validator)"
        if os.environ.get("CERT_PORTAL_REQUIRE_BROWSER") == "1":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    paths = []
    for advisory in Advisory.objects.filter(status__in=("published", "withdrawn")):
        path = tmp_path / file_name(advisory.reference)
        path.write_bytes(served_document(advisory))
        paths.append(str(path))
    result = subprocess.run([node, str(VALIDATE_SCRIPT), *paths], capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("ok      ") == len(paths) == len(DEMO_ADVISORIES) - 1


def test_each_publication_queued_its_distribution(demo):
    tasks = [(task.func(), task.args()) for task in OrmQ.objects.order_by("pk")
             if task.func() == DISTRIBUTE_TASK]
    assert sorted(args for _, args in tasks) == sorted(
        (pk,) for pk in published_revisions().values_list("pk", flat=True))


def test_running_it_again_creates_nothing(demo):
    tables = (Advisory, AdvisoryRevision, AdvisoryCve, AdvisoryProduct,
              AdvisoryGroupObjectPermission, AdvisoryUserObjectPermission)
    before = [model.objects.count() for model in tables]
    out = _run("load_demo_advisories")
    assert out.strip() == f"Demo advisories: {len(DEMO_ADVISORIES)} already there, nothing created."
    assert [model.objects.count() for model in tables] == before
    assert set(AdvisoryRevision.objects.values_list("title", flat=True)) == demo_titles()


def test_it_loads_without_demo_incidents_and_says_so(structure):
    out = _run("load_demo_advisories")
    assert Advisory.objects.count() == len(DEMO_ADVISORIES)
    assert not Advisory.objects.filter(source_incident__isnull=False).exists()
    assert "is not linked to an incident: the demo incidents are not loaded" in out
    assert not Incident.objects.exists()


def test_refuses_without_the_demo_users():
    _run("load_national_structure")  # the structure, but no demo users
    with pytest.raises(CommandError, match="load_national_structure --demo"):
        _run("load_demo_advisories")
    assert not Advisory.objects.exists()


def test_only_documentation_addresses_are_used():
    for entry in DEMO_ADVISORIES:
        fields = entry["content"]
        text = "\n".join([fields["title"], fields["summary"], fields.get("body_markdown", ""),
                          fields.get("remedies", ""), *fields.get("references", ()),
                          entry.get("withdraw", {}).get("reason", "")])
        for kind, value in extract(text):
            if kind == "ipv4":
                assert value.startswith(("192.0.2.", "198.51.100.", "203.0.113.")), value
            elif kind in ("domain", "url", "email"):
                host = value.split("://")[-1].split("/")[0].split("@")[-1]
                assert host == "example" or host.endswith(".example"), value
