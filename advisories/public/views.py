"""The public advisory pages (issue 10, point 4): the list of TLP:CLEAR advisories with search and
filters, an advisory and its public revisions. Interfaces only: parse, ask advisories.access
through advisories.selectors, render. An advisory the public may not read (any other label, a
draft) answers 404 exactly like one that does not exist."""

from urllib.parse import urlencode

from django.http import Http404
from django.shortcuts import render

from advisories import access, selectors
from advisories.models import AdvisoryStatus
from advisories.public.forms import PublicAdvisoryFilterForm

# The query parameters a page link keeps (the cursor is replaced).
_KEPT = ("q", "severity", "severity_match", "cve", "vendor", "product", "published_from", "published_to")


def _page_link(request, cursor: str) -> str:
    params = [(name, request.GET[name]) for name in _KEPT if request.GET.get(name)]
    return "?" + urlencode([*params, ("cursor", cursor)])


def advisory_list(request):
    form = PublicAdvisoryFilterForm(request.GET or None)
    page = None
    if not request.GET or form.is_valid():
        filters = form.filters() if request.GET else selectors.PublicFilters()
        cursor = form.cleaned_data["cursor"] if request.GET else None
        page = selectors.public_advisory_page(filters, cursor=cursor, size=selectors.PAGE_SIZE)
    context = {
        "form": form,
        "page": page,
        "filtered": bool(request.GET) and form.is_valid() and form.is_filtered(),
        "paged": bool(request.GET.get("cursor")),
        "older_link": _page_link(request, page.older_cursor) if page and page.older_cursor else None,
        "newer_link": _page_link(request, page.newer_cursor) if page and page.newer_cursor else None,
        "severity_feeds": [(slug, level.label) for slug, level in selectors.SEVERITY_SLUGS.items()
                           if slug != "informational"],
    }
    return render(request, "advisories/public_list.html", context, status=400 if form.errors else 200)


def _advisory_context(advisory, revision) -> dict:
    return {
        "advisory": advisory,
        "revision": revision,
        "csaf_path": selectors.csaf_white_path(advisory),
        "withdrawal_reason": (advisory.current_revision.change_summary.removeprefix("Withdrawn:").strip()
                              if advisory.status == AdvisoryStatus.WITHDRAWN else ""),
        "history": selectors.public_history(advisory),
    }


def advisory_detail(request, reference: str):
    advisory = access.get_public_advisory(reference=reference)
    return render(request, "advisories/public_detail.html",
                  _advisory_context(advisory, advisory.current_revision))


def advisory_revision(request, reference: str, number: int):
    advisory = access.get_public_advisory(reference=reference)
    revision = selectors.public_revision(advisory, number)
    if revision is None:
        raise Http404("No advisory matches the given query.")
    context = _advisory_context(advisory, revision)
    context["is_old_revision"] = revision.pk != advisory.current_revision_id
    return render(request, "advisories/public_detail.html", context)
