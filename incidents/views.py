from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404

from incidents.access import Action, require
from incidents.models import Attachment


def attachment_download(request, pk: int):
    """Serve an attachment as a download, only to those who may see its incident; 404 to
    everyone else, as if it did not exist."""
    if not request.user.is_authenticated:
        raise Http404("No attachment matches the given query.")
    attachment = get_object_or_404(Attachment.objects.select_related("incident"), pk=pk)
    require(request.user, attachment.incident, Action.VIEW)
    response = FileResponse(attachment.file.open("rb"), as_attachment=True,
                            filename=attachment.original_name,
                            content_type="application/octet-stream")
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
