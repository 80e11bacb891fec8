from advisories import access
from advisories.models import AdvisoryStatus


def test_publish_clear_and_amber(make_advisory, member, outsider, certs, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks():
        clear = make_advisory(tlp="TLP:CLEAR", cve_ids=["cve-2026-1234"],
                              cvss_v3_vector="CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H")
    assert clear.status == AdvisoryStatus.PUBLISHED
    assert clear.current_revision.number == 1
    assert str(clear.current_revision.cvss_v3_score) == "9.8"
    amber = make_advisory(cert="punjab", tlp="TLP:AMBER", audience_ids=[certs["banking"].pk])
    assert access.may_read(member("banking", "analyst"), amber)
    assert not access.may_read(member("telecom", "analyst"), amber)
    assert access.may_read(outsider, clear) and not access.may_read(outsider, amber)
