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
from django.db.models import Count, Sum
from django.utils.translation import gettext_lazy as _

from incidents.access import reporter_address
from incidents.files import sniff_content_type
from incidents.models import Attachment, Comment, Incident, Notification, RoutingRule, Source
from incidents.reporter_token import derive_token, hash_token
from incidents.services import incident_attach, incident_comment, incident_create, notify
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
    """What the public may send (settings, see .env.example): files per post, bytes per file and
    per post, and what one report may accumulate from the public over all its follow-ups."""
    return {
        "files": settings.PUBLIC_REPORT_MAX_FILES,
        "file_bytes": settings.PUBLIC_REPORT_MAX_FILE_BYTES,
        "total_bytes": settings.PUBLIC_REPORT_MAX_TOTAL_BYTES,
        "stored_files": settings.PUBLIC_REPORT_MAX_STORED_FILES,
        "stored_bytes": settings.PUBLIC_REPORT_MAX_STORED_BYTES,
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


def check_files(files, *, incident: Incident | None = None) -> None:
    """Refuse what the public may not send, with a message that says what to fix. With
    `incident`, also refuse files that would take the report past what it may accumulate from
    the public (finding 6 of issue 7: follow-ups could pile up files without end)."""
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
    if incident is not None and files:
        _check_stored(incident, count=len(files), size=total, limit=limit)


def _check_stored(incident: Incident, *, count: int, size: int, limit: dict[str, int]) -> None:
    # Files the public sent (no staff uploader). Two follow-ups at the same moment may both pass;
    # the per-report rate limit bounds how far that can go.
    stored = Attachment.objects.filter(incident=incident, uploaded_by__isnull=True).aggregate(
        files=Count("pk"), size=Sum("size"))
    if stored["files"] + count > limit["stored_files"]:
        raise ValidationError({"attachments": _(
            "This report already has %(count)d files from you and takes at most %(max)d. Describe "
            "the rest in your message; the CERT will ask if it needs them.")
            % {"count": stored["files"], "max": limit["stored_files"]}})
    if (stored["size"] or 0) + size > limit["stored_bytes"]:
        raise ValidationError({"attachments": _(
            "This report can take at most %(size)s of files from you, and these would go past "
            "it. Send smaller files, or describe them in your message.")
            % {"size": size_text(limit["stored_bytes"])}})


def check_report(*, category: str, files=()) -> None:
    """Refuse a report that submit_report would refuse, writing nothing, so that the page can
    validate before it counts the post against the sender's allowance."""
    if category not in REPORT_CATEGORIES:
        raise ValidationError({"category": _("Choose what happened from the list.")})
    check_files(files)


def submit_report(*, submission_key: str, category: str, title: str, description: str,
                  files=(), reporter_language: str = "", **details) -> Submission:
    """Create the incident for one public report, route it, attach its files and queue the
    e-mails: the confirmation to the reporter (in `reporter_language`, the language of the form
    they used) and the news to the CERT it was routed to. The same submission key twice gives the
    first incident back. If anything fails, nothing is left behind: no incident and no stored
    file."""
    existing = Incident.objects.filter(submission_key=submission_key).first()
    if existing is not None:
        return Submission(existing, None, False)
    check_report(category=category, files=files)
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
                reporter_token_salt=salt, reporter_language=_known_language(reporter_language),
                **details)
            token = derive_token(incident)
            Incident.objects.filter(pk=incident.pk).update(reporter_token_hash=hash_token(token))
            for upload in files:
                upload.name = clean_filename(upload.name)
                attachment = incident_attach(incident=incident, actor=None, uploaded_file=upload)
                stored.append(attachment.file.name)
            # Through the outbox, so a retried delivery sends each once; the token itself is
            # derived again when the receipt is written, never stored.
            if reporter_address(incident, Notification.Kind.REPORT_CONFIRMATION):
                notify(Notification.Kind.REPORT_CONFIRMATION, incident, incident.reported_at,
                       key=f"report_confirmation:{incident.pk}")
            notify(Notification.Kind.NEW_REPORT, incident, incident.reported_at,
                   key=f"new_report:{incident.pk}", cert=owner)
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


def merged_target(incident: Incident) -> Incident | None:
    """The incident a merged report is now handled as part of (incidents.services.merge), with
    its owner, or None for a report that was not merged. Its reporter may read only its
    reference, status and owner: nothing of another reporter's report (issue 9)."""
    if incident.merged_into_id is None:
        return None
    return Incident.objects.select_related("owner_cert").get(pk=incident.merged_into_id)


def reporter_messages(incident: Incident):
    """What the reporter may read: reporter-visible comments (theirs and the CERT's)."""
    return Comment.objects.filter(incident=incident, reporter_visible=True).order_by("created_at")


def check_follow_up(*, incident: Incident, message: str, files=()) -> None:
    """Refuse a follow-up that add_follow_up would refuse, writing nothing, so that the page can
    validate before it counts the post against the sender's allowance."""
    if not (message or "").strip() and not files:
        raise ValidationError({"message": _("Write a message or add a file.")})
    # The files of a merged report go to the incident it was merged into, and count there.
    check_files(files, incident=merged_target(incident) or incident)


def add_follow_up(*, incident: Incident, message: str, files=()) -> None:
    """The reporter adds information: a reporter-visible comment and files, all or nothing.
    For a merged report see `_add_merged_follow_up`."""
    check_follow_up(incident=incident, message=message, files=files)
    target = merged_target(incident)
    if target is not None:
        _add_merged_follow_up(incident=incident, target=target, message=message, files=files)
        return
    stored: list[str] = []
    try:
        with transaction.atomic():
            added = []
            if (message or "").strip():
                added.append(incident_comment(incident=incident, actor=None, body=message,
                                              reporter_visible=True))
            for upload in files:
                upload.name = clean_filename(upload.name)
                added.append(incident_attach(incident=incident, actor=None, uploaded_file=upload))
                stored.append(added[-1].file.name)
            # One message per follow-up, to the CERT that owns the report now (issue 7,
            # finding 8); what the reporter wrote is read in the portal, not in the e-mail.
            first = added[0]
            notify(Notification.Kind.REPORTER_FOLLOW_UP, incident, first.created_at,
                   key=f"reporter_follow_up:{type(first).__name__.lower()}:{first.pk}",
                   cert=incident.owner_cert)
    except BaseException:
        _delete_files(stored)
        raise


def _add_merged_follow_up(*, incident: Incident, target: Incident, message: str, files) -> None:
    """A follow-up to a report merged into `target` goes to `target`, whose handlers read it as
    an internal comment that names the merged report (internal: the reporter of `target` must
    not read another reporter's words), with the files, their names led by that reference. The
    message also stays on the merged report, reporter-visible, so that its reporter still finds
    what they wrote."""
    stored: list[str] = []
    try:
        with transaction.atomic():
            text = (message or "").strip()
            if text:
                incident_comment(incident=incident, actor=None, body=text, reporter_visible=True)
            sent = f"{len(files)} file{'' if len(files) == 1 else 's'}" if files else ""
            note = (f"From the reporter of {incident.reference}, merged into this incident"
                    + (f" ({sent} attached)" if sent else "") + ":")
            first = incident_comment(incident=target, actor=None,
                                     body=f"{note}\n\n{text}" if text else note,
                                     reporter_visible=False)
            for upload in files:
                upload.name = f"{incident.reference} {clean_filename(upload.name)}"
                stored.append(incident_attach(incident=target, actor=None,
                                              uploaded_file=upload).file.name)
            notify(Notification.Kind.REPORTER_FOLLOW_UP, target, first.created_at,
                   key=f"reporter_follow_up:comment:{first.pk}", cert=target.owner_cert)
    except BaseException:
        _delete_files(stored)
        raise


def _delete_files(names: list[str]) -> None:
    from django.core.files.storage import default_storage

    for name in names:
        default_storage.delete(name)


def _known_language(code: str) -> str:
    """`code` if the portal speaks it (settings.LANGUAGES), else the default language."""
    known = {language for language, _name in settings.LANGUAGES}
    return code if code in known else settings.LANGUAGE_CODE
