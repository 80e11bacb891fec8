"""The CSAF 2.0 provider and security.txt (issue 10, point 5).

/.well-known/csaf/provider-metadata.json    the provider metadata (public)
/.well-known/csaf/<folder>/                 a listing (requirement 14), index.txt, changes.csv
/.well-known/csaf/<folder>/<year>/          a listing of the year's documents
/.well-known/csaf/<folder>/<year>/<file>.json[.sha256|.sha512]
/.well-known/security.txt                   RFC 9116, with the CSAF line

white/ is public. green/, amber/ and red/ answer only a signed-in, two-factor verified member
of an active CERT, and only with what advisories.access lets that member read; to anyone else,
and for any document the member may not read, they answer 404 exactly like a missing file.
"""

from __future__ import annotations

import json
from datetime import UTC, timedelta

from django.conf import settings
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.html import escape
from django.views.decorators.http import require_safe

from advisories import access
from advisories.csaf import directory
from advisories.csaf.directory import FOLDERS, Folder
from advisories.csaf.document import absolute_url, csaf_datetime, document_bytes, publisher
from cert_portal.audit.events import advisory_viewed
from cert_portal.staff import is_two_factor_verified
from organizations.models import Cert
from organizations.rules import CertKind

TEXT = "text/plain; charset=utf-8"
JSON = "application/json"
HASHES = {"sha256": "sha256", "sha512": "sha512"}
NOT_FOUND = "No such CSAF file."
PROVIDER_METADATA_PATH = f"{directory.WELL_KNOWN}/provider-metadata.json"
SECURITY_TXT_PATH = "/.well-known/security.txt"
# RFC 9116 §2.5.5 recommends an expiry less than a year ahead; the file is made on each request,
# so half a year keeps it fresh without a yearly chore.
SECURITY_TXT_VALID_DAYS = 180


def _folder_reader(request, folder_name: str) -> tuple[Folder, object]:
    """The folder, and the user whose reading rights decide what it shows; Http404 when the
    folder does not exist or is protected and the request is not a verified member's."""
    folder = FOLDERS.get(folder_name)
    if folder is None:
        raise Http404(NOT_FOUND)
    if folder.public:
        return folder, None
    user = request.user
    if not user.is_authenticated or not is_two_factor_verified(request):
        raise Http404(NOT_FOUND)
    if not access.is_member(user):
        raise Http404(NOT_FOUND)
    return folder, user


def _finish(response, folder: Folder):
    if folder.public:
        # Browser-based CSAF tools (Secvisogram) read public documents from other origins.
        response["Access-Control-Allow-Origin"] = "*"
    else:
        # What a member may read is theirs: no shared cache keeps it.
        add_never_cache_headers(response)
        response["Cache-Control"] += ", private"
    return response


@require_safe
def provider_metadata(request):
    national = Cert.objects.filter(kind=CertKind.NATIONAL).first()
    if national is None:
        raise Http404("The registry has no national CERT to publish as the CSAF provider.")
    metadata = {
        "canonical_url": absolute_url(PROVIDER_METADATA_PATH),
        "distributions": [{"directory_url": folder.url} for folder in FOLDERS.values()],
        "last_updated": csaf_datetime(timezone.now()),
        "list_on_CSAF_aggregators": True,
        "metadata_version": "2.0",
        # Aggregators may mirror only what they can fetch, which is white/.
        "mirror_on_CSAF_aggregators": True,
        "publisher": publisher(national),
        "role": "csaf_provider",
    }
    response = HttpResponse(json.dumps(metadata, ensure_ascii=False, indent=2, sort_keys=True) + "\n",
                            content_type=JSON)
    response["Access-Control-Allow-Origin"] = "*"
    return response


@require_safe
def folder_listing(request, folder: str):
    """Requirement 14: the folder's files and year folders, for people browsing."""
    folder, user = _folder_reader(request, folder)
    queryset = directory.folder_advisories(folder, user)
    names = ["index.txt", "changes.csv", *(f"{year}/" for year in directory.years(queryset))]
    return _finish(_listing(f"{directory.WELL_KNOWN}/{folder.name}/", iter(names)), folder)


@require_safe
def year_listing(request, folder: str, year: str):
    folder, user = _folder_reader(request, folder)
    year = _year(year)
    queryset = directory.folder_advisories(folder, user)

    def names():
        for name in directory.year_file_names(queryset, year):
            yield name
            yield f"{name}.sha256"
            yield f"{name}.sha512"

    return _finish(_listing(f"{directory.WELL_KNOWN}/{folder.name}/{year}/", names()), folder)


def _listing(path: str, names) -> StreamingHttpResponse:
    def lines():
        yield (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
               f"<title>Index of {escape(path)}</title></head>\n<body><h1>Index of {escape(path)}</h1>\n"
               "<ul>\n<li><a href=\"../\">../</a></li>\n")
        for name in names:
            yield f"<li><a href=\"{escape(name)}\">{escape(name)}</a></li>\n"
        yield "</ul>\n</body></html>\n"

    return StreamingHttpResponse(lines(), content_type="text/html; charset=utf-8")


def _year(value: str) -> int:
    year = int(value)
    if not 1 <= year <= 9998:
        raise Http404(NOT_FOUND)
    return year


@require_safe
def index_txt(request, folder: str):
    folder, user = _folder_reader(request, folder)
    rows = directory.index_txt(directory.folder_advisories(folder, user))
    return _finish(StreamingHttpResponse(rows, content_type=TEXT), folder)


@require_safe
def changes_csv(request, folder: str):
    folder, user = _folder_reader(request, folder)
    rows = directory.changes_csv(directory.folder_advisories(folder, user))
    return _finish(StreamingHttpResponse(rows, content_type=TEXT), folder)


@require_safe
def document(request, folder: str, year: str, name: str, hash_name: str | None = None):
    """The document <name>.json, or its .sha256 / .sha512 file (requirement 18)."""
    folder, user = _folder_reader(request, folder)
    advisory = directory.find_document(folder, user, _year(year), name)
    if advisory is None:
        raise Http404(NOT_FOUND)
    data = document_bytes(advisory, url=directory.document_url(advisory))
    if hash_name is None:
        # A hash file tells nothing of the text: only reading the document is a view.
        if not folder.public:
            advisory_viewed(request, advisory, detail={"via": "csaf"})
        response = HttpResponse(data, content_type=JSON)
    else:
        response = HttpResponse(directory.hash_file(data, f"{name}.json", HASHES[hash_name]),
                                content_type=TEXT)
    return _finish(response, folder)


@require_safe
def security_txt(request):
    """RFC 9116. Contact: settings.SECURITY_TXT_CONTACT (URIs separated by commas) when set,
    else the national CERT's e-mail and 24/7 hotline from the registry."""
    national = Cert.objects.filter(kind=CertKind.NATIONAL).first()
    contacts = [value.strip() for value in getattr(settings, "SECURITY_TXT_CONTACT", "").split(",")
                if value.strip()]
    if not contacts and national is not None:
        if national.email:
            contacts.append(f"mailto:{national.email}")
        if national.hotline.startswith("+"):
            # RFC 3966: a global number, with hyphens where people write spaces.
            digits = "-".join(national.hotline.replace("(", " ").replace(")", " ").split())
            contacts.append(f"tel:{digits}")
    if not contacts:
        raise Http404("No contact for security.txt: give the national CERT an e-mail address in "
                      "the registry, or set SECURITY_TXT_CONTACT.")
    expires = (timezone.now() + timedelta(days=SECURITY_TXT_VALID_DAYS)).replace(
        hour=0, minute=0, second=0, microsecond=0)
    lines = []
    if national is not None:
        lines.append(f"# {national.name}: security contact (RFC 9116)")
    lines += [f"Contact: {contact}" for contact in contacts]
    lines.append(f"Expires: {expires.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}")
    if national is not None and national.pgp_fingerprint:
        fingerprint = "".join(national.pgp_fingerprint.split())
        lines.append(f"Encryption: openpgp4fpr:{fingerprint}")
    lines.append("Preferred-Languages: en, ur")
    lines.append(f"Canonical: {absolute_url(SECURITY_TXT_PATH)}")
    if national is not None and national.is_active:
        lines.append("# The team's profile in the spirit of RFC 2350: constituency, contacts, policies.")
        lines.append(f"Policy: {absolute_url(national.get_absolute_url())}")
    lines.append("# Security advisories as CSAF 2.0 documents:")
    lines.append(f"CSAF: {absolute_url(PROVIDER_METADATA_PATH)}")
    return HttpResponse("\n".join(lines) + "\n", content_type=TEXT)
