from django.http import FileResponse

from incidents.access import get_visible_incident_part
from incidents.models import Attachment


def attachment_download(request, pk: int):
    """Serve an attachment as a download, only to those who may see its incident; 404 to
    everyone else, as if it did not exist."""
    # One lookup for missing and invisible alike (anonymous visitors see nothing), so that even
    # DEBUG's text does not tell them apart (issue 7, finding 10).
    attachment = get_visible_incident_part(request.user, Attachment, pk)
    response = FileResponse(attachment.file.open("rb"), as_attachment=True,
                            filename=attachment.original_name,
                            content_type="application/octet-stream")
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
