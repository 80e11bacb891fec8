"""The CSAF directory distribution: which documents each TLP folder lists, and its files
(CSAF 2.0 §7.1 requirements 11 to 14 and 18; issue 10).

Folders, by the TLP 1.0 label CSAF writes (advisories.csaf.document.TLP_V1):
- white/: the published (or withdrawn) TLP:CLEAR advisories, for everyone;
- green/, amber/, red/: access-protected (requirement 5). They list what the signed-in,
  two-factor verified member may read, as advisories.access decides; red/ holds TLP:AMBER+STRICT
  and TLP:RED, which CSAF 2.0 both labels RED.
Nobody here decides who may read what: every queryset starts from advisories.access.

Lists are streamed from one query (`iterator`), so index.txt of 100,000 documents never sits in
memory and costs one query whatever its length.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db.models import QuerySet
from django.db.models.functions import ExtractYear

from advisories import access
from advisories.csaf.document import TLP_V1, absolute_url, csaf_datetime, document_year, file_name
from advisories.models import Advisory
from incidents.tlp import Tlp

WELL_KNOWN = "/.well-known/csaf"
CHUNK = 2000  # rows fetched at a time while streaming a list


@dataclass(frozen=True)
class Folder:
    name: str  # the folder in the path, e.g. "white"
    label: str  # the TLP 1.0 label of its documents, e.g. "WHITE"
    public: bool

    @property
    def tlps(self) -> tuple[str, ...]:
        """The TLP 2.0 labels of the advisories it holds."""
        return tuple(tlp for tlp, label in TLP_V1.items() if label == self.label)

    @property
    def url(self) -> str:
        return absolute_url(f"{WELL_KNOWN}/{self.name}/")


FOLDERS: dict[str, Folder] = {folder.name: folder for folder in (
    Folder("white", "WHITE", public=True),
    Folder("green", "GREEN", public=False),
    Folder("amber", "AMBER", public=False),
    Folder("red", "RED", public=False),
)}


def folder_of(tlp: str) -> Folder:
    return FOLDERS[TLP_V1[Tlp(tlp)].lower()]


def document_path(advisory: Advisory) -> str:
    """Where the advisory's document is served, e.g.
    /.well-known/csaf/white/2026/pk-adv-2026-0001.json (published advisories only)."""
    return (f"{WELL_KNOWN}/{folder_of(advisory.tlp).name}/{document_year(advisory)}/"
            f"{file_name(advisory.reference)}")


def document_url(advisory: Advisory) -> str:
    return absolute_url(document_path(advisory))


def folder_advisories(folder: Folder, user) -> QuerySet[Advisory]:
    """The advisories `folder` lists for `user` (ignored for the public folder)."""
    if folder.public:
        return access.public_advisories()
    return access.readable_advisories(user).filter(tlp__in=folder.tlps)


def find_document(folder: Folder, user, year: int, name: str) -> Advisory | None:
    """The advisory served as <folder>/<year>/<name>.json to `user`, or None (missing, or not
    theirs to read: the caller answers both with the same 404)."""
    # References are upper-case letters, digits and hyphens (advisories.services), so
    # upper-casing the file name gives the reference back; the check below refuses any other
    # spelling of it (a file name must be exactly the one CSAF §5.1 gives).
    advisory = (folder_advisories(folder, user).select_related("author_cert", "current_revision")
                .filter(reference=name.upper()).first())
    if advisory is None or file_name(advisory.reference) != f"{name}.json":
        return None
    if document_year(advisory) != year:
        return None
    return advisory


def _rows(queryset: QuerySet[Advisory]) -> Iterator[tuple[str, datetime, datetime]]:
    """(reference, first published, last published), the latest release first, streamed."""
    return (queryset.order_by("-last_published_at", "-pk")
            .values_list("reference", "first_published_at", "last_published_at")
            .iterator(chunk_size=CHUNK))


def _relative_path(reference: str, first_published_at: datetime) -> str:
    return f"{first_published_at.astimezone(UTC).year}/{file_name(reference)}"


def _batched(lines: Iterator[str]) -> Iterator[str]:
    """Join lines into chunks of CHUNK, so that the response is not written a line at a time."""
    batch = []
    for line in lines:
        batch.append(line)
        if len(batch) == CHUNK:
            yield "".join(batch)
            batch = []
    if batch:
        yield "".join(batch)


def index_txt(queryset: QuerySet[Advisory]) -> Iterator[str]:
    """Requirement 12: one "<year>/<file>.json" a line."""
    return _batched(f"{_relative_path(reference, first)}\n" for reference, first, _ in _rows(queryset))


def changes_csv(queryset: QuerySet[Advisory]) -> Iterator[str]:
    """Requirement 13: "<year>/<file>.json","<current_release_date>" a line, no heading, the
    latest release first."""
    return _batched(f'"{_relative_path(reference, first)}","{csaf_datetime(last)}"\n'
                    for reference, first, last in _rows(queryset))


def years(queryset: QuerySet[Advisory]) -> list[int]:
    """The year folders of `queryset`, the latest first (one query)."""
    return list(queryset.annotate(year=ExtractYear("first_published_at", tzinfo=UTC))
                .order_by("-year").values_list("year", flat=True).distinct())


def year_file_names(queryset: QuerySet[Advisory], year: int) -> Iterator[str]:
    """The document file names in the folder of `year`, the latest release first, streamed."""
    start = datetime(year, 1, 1, tzinfo=UTC)
    end = datetime(year + 1, 1, 1, tzinfo=UTC)
    rows = _rows(queryset.filter(first_published_at__gte=start, first_published_at__lt=end))
    return (file_name(reference) for reference, _, _ in rows)


def hash_file(data: bytes, name: str, algorithm: str) -> str:
    """Requirement 18: "<hex digest>  <file name>", as sha256sum and sha512sum write it."""
    return f"{hashlib.new(algorithm, data).hexdigest()}  {name}\n"
