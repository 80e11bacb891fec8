from django.shortcuts import render

from organizations.rules import RULES
from organizations.selectors import active_cert_tree, public_cert_profile


def directory(request):
    """The public directory: every active CERT, as the national tree."""
    return render(request, "organizations/directory.html", {"tree": active_cert_tree()})


def cert_detail(request, slug: str):
    """A CERT's public profile, laid out like an RFC 2350 description."""
    cert, ancestors, children = public_cert_profile(slug)
    return render(request, "organizations/cert_detail.html", {
        "cert": cert,
        "ancestors": ancestors,
        "children": children,
        "rule": RULES[cert.kind],
    })
