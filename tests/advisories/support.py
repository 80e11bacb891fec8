"""Advisories for tests, made through the services as the dashboard would make them."""

from __future__ import annotations

from advisories.content import AdvisoryContent
from advisories.models import Advisory
from advisories.services import advisory_approve, advisory_create, advisory_submit

VALID_CVSS_V3 = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
VALID_CVSS_V4 = "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"


def content(**fields) -> AdvisoryContent:
    """A minimal valid content, with `fields` changed."""
    values = dict(title="Patch the example gateway now",
                  summary="A remote code execution flaw in the example gateway is exploited.",
                  body_markdown="## What happens\n\nAttackers run code on **unpatched** gateways.",
                  severity=3, tlp="TLP:CLEAR")
    values.update(fields)
    return AdvisoryContent(**values)


class AdvisoryMaker:
    def __init__(self, certs, member):
        self.certs = certs
        self.member = member

    def __call__(self, *, cert: str = "national", published: bool = True, author=None,
                 approver=None, source_incident=None, **fields) -> Advisory:
        author = author or self.member(cert, "handler")
        advisory = advisory_create(actor=author, cert=self.certs[cert], content=content(**fields),
                                   source_incident=source_incident)
        if published:
            advisory_submit(actor=author, advisory=advisory)
            advisory_approve(actor=approver or self.member(cert, "head"), advisory=advisory)
            advisory.refresh_from_db()
        return advisory
