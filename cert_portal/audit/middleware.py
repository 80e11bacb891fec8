"""Make the request being answered the one the audit trail reads (cert_portal.audit.record)."""

from __future__ import annotations

from cert_portal.audit.record import audit_request


class AuditRequestMiddleware:
    """Services record what they change without being handed the request: while a request is
    answered, `record` takes its user, CERT, client address and channel from here. The request
    object is kept, not copied, so what later middleware and DRF's authentication set on it
    (the user, the API key, the active CERT) is what is recorded."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        with audit_request(request):
            return self.get_response(request)
