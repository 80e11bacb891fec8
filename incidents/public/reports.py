"""Public incident reporting (DOMAIN.md §4): routing, the tracking token, submission, status
lookup and follow-ups. The public views only parse input and call these functions."""

from __future__ import annotations

import hmac
import secrets
import unicodedata
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext_lazy as _

from incidents.files import sniff_content_type
from incidents.models import Comment, Incident, Notification, RoutingRule, Source
from incidents.notifications import enqueue_delivery
from incidents.reporter_token import derive_token, hash_token
from incidents.services import incident_attach, incident_comment, incident_create
from incidents.severity import Severity
from organizations.models import Cert

# What the reporter chooses, in plain words, and the RSIT classification and type it maps to.
REPORT_CATEGORIES: dict[str, tuple[str, str, str]] = {
    "phishing": (_("A fake message or website asked for passwords, codes or money"),
                 "fraud", "phishing"),
    "fraud": (_("Someone pretended to be us or another organization to cheat people"),
              "fraud", "masquerade"),
    "malware": (_("A computer or phone is infected with a virus or other malicious software"),
                "malicious-code", "infected-system"),
    "ransomware": (_("Files were locked or encrypted and someone demands a ransom"),
                   "malicious-code", "infected-system"),
    "account": (_("An account (e-mail, social media, system) was broken into"),
                "intrusions", "unprivileged-account-compromise"),
    "intrusion": (_("A server or network was broken into, or a website was changed by someone else"),
                  "intrusions", "system-compromise"),
    "outage": (_("A website or service is down or very slow because of an attack"),
               "availability", "ddos"),
    "data-leak": (_("Data was stolen, leaked or published without permission"),
                  "information-content-security", "data-leak"),
    "vulnerability": (_("I found a security weakness in a system"), "vulnerable",
                      "vulnerable-system"),
    "abuse": (_("Spam, harassment or harmful content"), "abusive-content", "harmful-speech"),
    "other": (_("Something else, or I am not sure"), "other", "undetermined"),
}

# Files the public may send, recognised by their content (incidents.files), never by their name.
ALLOWED_CONTENT_TYPES = frozenset({"application/pdf", "image/png", "image/jpeg", "image/gif",
                                   "image/webp", "text/plain"})


def limits() -> dict[str, int]:
    return {
        "files": getattr(settings, "PUBLIC_REPORT_MAX_FILES", 5),
        "file_bytes": getattr(settings, "PUBLIC_REPORT_MAX_FILE_BYTES", 10 * 1024 * 1024),
        "total_bytes": getattr(settings, "PUBLIC_REPORT_MAX_TOTAL_BYTES", 25 * 1024 * 1024),
    }


@dataclass
class Submission:
    incident: Incident
    token: str | None  # None when the same form was already received: the token was shown then
    created: bool


def route(*, sector_id, region: str, public_body: bool) -> Cert:
    """The CERT that receives a report: the first active rule that matches, else the root."""
    for rule in RoutingRule.objects.filter(is_active=True, target_cert__is_active=True) \
            .select_related("target_cert"):
        if rule.matches(sector_id=sector_id, region=region, public_body=public_body):
            return rule.target_cert
    return Cert.objects.get(parent__isnull=True, is_active=True)


def clean_filename(name: str) -> str:
    """A file name safe to show and to offer as a download name: no path, no control
    characters, no leading dots, at most 120 characters."""
    name = unicodedata.normalize("NFC", name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C" and ch not in '<>:"|?*')
    name = name.strip().lstrip(".") or "attachment"
    return name[-120:]


def size_text(size: int) -> str:
    """A size for people: 512 KB, 1.5 MB."""
    if size < 2**20:
        return f"{max(1, round(size / 1024))} KB"
    return f"{size / 2**20:.1f}".rstrip("0").rstrip(".") + " MB"


def check_files(files) -> None:
    """Refuse what the public may not send, with a message that says what to fix."""
    limit = limits()
    if len(files) > limit["files"]:
        raise ValidationError({"attachments": _("Send at most %(count)d files.")
                               % {"count": limit["files"]}})
    total = 0
    for upload in files:
        name = clean_filename(upload.name)
        if not upload.size:
            raise ValidationError({"attachments": _("%(name)s is empty.") % {"name": name}})
        if upload.size > limit["file_bytes"]:
            raise ValidationError({"attachments": _("%(name)s is larger than %(size)s.")
                                   % {"name": name, "size": size_text(limit["file_bytes"])}})
        total += upload.size
        upload.seek(0)
        kind = sniff_content_type(upload.read(2048))
        upload.seek(0)
        if kind not in ALLOWED_CONTENT_TYPES:
            raise ValidationError({"attachments": _(
                "%(name)s is not a PDF, image or plain text file (whatever its name says). "
                "Send screenshots, PDF or text files.") % {"name": name}})
    if total > limit["total_bytes"]:
        raise ValidationError({"attachments": _("The files together are larger than %(size)s.")
                               % {"size": size_text(limit["total_bytes"])}})


def submit_report(*, submission_key: str, category: str, title: str, description: str,
                  files=(), **details) -> Submission:
    """Create the incident for one public report, route it, attach its files and queue the
    confirmation e-mail. The same submission key twice gives the first incident back. If
    anything fails, nothing is left behind: no incident and no stored file."""
    existing = Incident.objects.filter(submission_key=submission_key).first()
    if existing is not None:
        return Submission(existing, None, False)
    if category not in REPORT_CATEGORIES:
        raise ValidationError({"category": _("Choose what happened from the list.")})
    check_files(files)
    _label, classification, incident_type = REPORT_CATEGORIES[category]
    owner = route(sector_id=getattr(details.get("sector"), "pk", None),
                  region=details.get("region", ""),
                  public_body=bool(details.get("is_public_body")))
    salt = secrets.token_hex(16)
    stored: list[str] = []
    try:
        with transaction.atomic():
            incident = incident_create(
                actor=None, owner_cert=owner, title=title, description=description,
                classification=classification, incident_type=incident_type,
                severity=Severity.MEDIUM if details.get("is_cii") else Severity.LOW,
                source=Source.PUBLIC_FORM, submission_key=submission_key,
                reporter_token_salt=salt, **details)
            token = derive_token(incident)
            Incident.objects.filter(pk=incident.pk).update(reporter_token_hash=hash_token(token))
            for upload in files:
                upload.name = clean_filename(upload.name)
                attachment = incident_attach(incident=incident, actor=None, uploaded_file=upload)
                stored.append(attachment.file.name)
            if incident.reporter_email:
                # Through the outbox, so a retried delivery sends it once; the token itself is
                # derived again when the e-mail is written, never stored.
                Notification.objects.create(
                    key=f"report_confirmation:{incident.pk}", incident=incident,
                    kind=Notification.Kind.REPORT_CONFIRMATION, created_at=incident.reported_at)
                transaction.on_commit(enqueue_delivery)
    except IntegrityError:
        _delete_files(stored)
        # The same form, sent twice at once: the other request created the incident.
        existing = Incident.objects.filter(submission_key=submission_key).first()
        if existing is None:
            raise
        return Submission(existing, None, False)
    except BaseException:
        _delete_files(stored)
        raise
    return Submission(incident, token, True)


def find_report(reference: str, token: str) -> Incident | None:
    """The public report with this reference if the token is right; None otherwise. Wrong tokens
    and unknown references take the same path and give the same answer."""
    incident = (Incident.objects.filter(reference=(reference or "").strip().upper(),
                                        source=Source.PUBLIC_FORM)
                .select_related("owner_cert").first())
    expected = incident.reporter_token_hash if incident else hash_token("no such report")
    if hmac.compare_digest(expected, hash_token((token or "").strip())) and incident is not None:
        return incident
    return None


def reporter_messages(incident: Incident):
    """What the reporter may read: reporter-visible comments (theirs and the CERT's)."""
    return Comment.objects.filter(incident=incident, reporter_visible=True).order_by("created_at")


def add_follow_up(*, incident: Incident, message: str, files=()) -> None:
    """The reporter adds information: a reporter-visible comment and files, all or nothing."""
    if not (message or "").strip() and not files:
        raise ValidationError({"message": _("Write a message or add a file.")})
    check_files(files)
    stored: list[str] = []
    try:
        with transaction.atomic():
            if (message or "").strip():
                incident_comment(incident=incident, actor=None, body=message,
                                 reporter_visible=True)
            for upload in files:
                upload.name = clean_filename(upload.name)
                stored.append(incident_attach(incident=incident, actor=None,
                                              uploaded_file=upload).file.name)
    except BaseException:
        _delete_files(stored)
        raise


def _delete_files(names: list[str]) -> None:
    from django.core.files.storage import default_storage

    for name in names:
        default_storage.delete(name)
