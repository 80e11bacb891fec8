from django.http import HttpResponse

from cert_portal.audit.models import AuditKind, Channel
from cert_portal.audit.record import record
from cert_portal.encryption import UndecryptableFile
from cert_portal.staff import load_staff_context
from incidents.access import get_visible_incident_part
from incidents.downloads import file_download, unreadable_file
from incidents.models import Attachment


def attachment_download(request, pk: int) -> HttpResponse:
    """Serve an attachment, decrypted, as a download (never shown inline: see
    incidents.downloads), only to those who may see its incident, and record the download in
    the audit trail; 404 to everyone else, as if it did not exist, and nothing recorded."""
    # The member's CERTs (one query, which also answers access' question of their roles), so
    # that the audit event says as which CERT they downloaded.
    staff = load_staff_context(request)
    if staff is not None:
        request.staff = staff
    # One lookup for missing and invisible alike (anonymous visitors see nothing), so that even
    # DEBUG's text does not tell them apart (issue 7, finding 10).
    attachment = get_visible_incident_part(request.user, Attachment, pk)
    try:
        data = attachment.read_plaintext()
    except (UndecryptableFile, OSError) as error:
        return unreadable_file(request, what="Attachment", name=f"{attachment.pk} ({attachment.file.name})",
                               error=error)
    # The dashboard's files tab links here (the path alone would say "public").
    record(AuditKind.ATTACHMENT_DOWNLOADED, request=request, obj=attachment,
           channel=Channel.DASHBOARD, detail={"sha256": attachment.sha256, "size": attachment.size})
    return file_download(data, attachment.original_name)
