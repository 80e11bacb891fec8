from django.conf import settings


def portal(request):
    """Names every page shows in its header and footer."""
    return {"PORTAL_NAME": settings.PORTAL_NAME, "PORTAL_COUNTRY": settings.PORTAL_COUNTRY}
