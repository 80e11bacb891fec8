"""What people add to an incident without changing its row: comments, observables and files."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from cert_portal.encryption import encrypt
from incidents.access import (
    Action,
    reporter_address,
    require,
)
from incidents.files import display_name, sniff_content_type
from incidents.models import (
    Attachment,
    Comment,
    EventKind,
    Incident,
    Notification,
    Observable,
)
from incidents.observables import normalise
from incidents.services.base import (
    add_event,
    mark_changed,
    notify,
    require_visible,
)


def incident_comment(*, incident: Incident, actor, body: str, reporter_visible: bool = False) -> Comment:
    """Add a comment: internal, or visible to the public reporter. Actor None is the reporter."""
    require_visible(actor, incident)
    if not (body or "").strip():
        raise ValidationError({"body": "Write something before sending the comment."})
    if actor is not None:
        require(actor, incident, Action.COMMENT)
    now = timezone.now()
    with transaction.atomic():
        comment = Comment.objects.create(incident=incident, author=actor, body=body.strip(),
                                         reporter_visible=reporter_visible, created_at=now)
        add_event(incident, EventKind.COMMENT, actor, now,
                  new="reporter-visible" if reporter_visible else "internal")
        mark_changed(incident, now)
        if (actor is not None and reporter_visible
                and reporter_address(incident, Notification.Kind.REPORTER_REPLY)):
            # A CERT wrote to the reporter, who consented to be told (issue 7, finding 8).
            notify(Notification.Kind.REPORTER_REPLY, incident, now,
                   key=f"reporter_reply:{comment.pk}")
    return comment


def incident_add_observable(*, incident: Incident, actor, type: str, value: str) -> Observable:
    """Record one observable, normalised; an observable already recorded is returned as it is."""
    require_visible(actor, incident)
    normalised = normalise(type, value)
    if actor is not None:
        require(actor, incident, Action.ADD_OBSERVABLE)
    existing = Observable.objects.filter(incident=incident, type=type, value=normalised).first()
    if existing is not None:
        return existing
    now = timezone.now()
    try:
        with transaction.atomic():
            observable = Observable.objects.create(incident=incident, type=type, value=normalised,
                                                   created_at=now, added_by=actor)
            add_event(incident, EventKind.OBSERVABLE, actor, now, new=f"{type}: {normalised}"[:300])
            mark_changed(incident, now)
    except IntegrityError:
        # Recorded by a concurrent request a moment ago: the same answer as above.
        return Observable.objects.get(incident=incident, type=type, value=normalised)
    return observable


def attachment_max_bytes() -> int:
    return getattr(settings, "INCIDENT_ATTACHMENT_MAX_BYTES", 10 * 1024 * 1024)


def incident_attach(*, incident: Incident, actor, uploaded_file) -> Attachment:
    """Store a file outside the web root, encrypted (cert_portal/encryption.py), under a random
    name, with the size, SHA-256 and detected content type of what was uploaded, and its name
    cleaned for display (incidents.files.display_name). If anything fails after the file was
    written, the file is removed again."""
    require_visible(actor, incident)
    size = uploaded_file.size or 0
    if size == 0:
        raise ValidationError({"file": "The file is empty."})
    if size > attachment_max_bytes():
        raise ValidationError({"file": f"The file is {size:,} bytes; the limit is "
                                       f"{attachment_max_bytes():,} bytes."})
    if actor is not None:
        require(actor, incident, Action.ATTACH)
    # Read whole, as Fernet encrypts whole messages: at most attachment_max_bytes() (checked
    # above), which is why that is acceptable.
    data = b"".join(uploaded_file.chunks())
    name = display_name(uploaded_file.name)
    now = timezone.now()
    attachment = Attachment(incident=incident, original_name=name, size=len(data),
                            sha256=hashlib.sha256(data).hexdigest(),
                            content_type=sniff_content_type(data[:2048]),
                            uploaded_by=actor, created_at=now, encrypted=True)
    try:
        with transaction.atomic():
            # The name given here is not used: attachment_path makes a random one.
            attachment.file.save("attachment", ContentFile(encrypt(data)), save=False)
            attachment.save()
            add_event(incident, EventKind.ATTACHMENT, actor, now,
                      new=f"{name} ({attachment.size:,} bytes, sha256 {attachment.sha256[:12]}…)")
            mark_changed(incident, now)
    except BaseException:
        if attachment.file.name:
            attachment.file.storage.delete(attachment.file.name)
        raise
    return attachment
