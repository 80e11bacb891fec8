"""Headers that every response of the portal carries (issue 13, item 2).

Django's SecurityMiddleware writes HSTS, nosniff, Referrer-Policy and Cross-Origin-Opener-Policy,
XFrameOptionsMiddleware X-Frame-Options, django-csp Content-Security-Policy. This middleware adds
the two that neither writes:

- Permissions-Policy, which turns off every powerful browser feature for the portal and anything
  it would embed: the portal uses none of them, so a script injected despite the CSP cannot use
  them either.
- `Cache-Control: no-store` (with Django's other never-cache headers) on every response whose view
  did not choose its caching. Pages show reporters' tokens, incident data and API answers; a
  browser's disk cache or a proxy must keep none of them. Failing closed means a new page is
  covered without anyone remembering to mark it; a view that may be cached (static files from
  WhiteNoise, say) sets its own Cache-Control, which is left as it is.
"""

from __future__ import annotations

from django.utils.cache import add_never_cache_headers

# Each feature allowed to no origin, not even the portal's own. Only features Chromium knows: it
# complains on the console about every unknown name (bluetooth, for one), which the browser tests
# report.
DENIED_FEATURES = (
    "accelerometer", "autoplay", "camera", "display-capture", "encrypted-media",
    "fullscreen", "geolocation", "gyroscope", "hid", "idle-detection", "magnetometer",
    "microphone", "midi", "payment", "picture-in-picture", "publickey-credentials-get",
    "screen-wake-lock", "serial", "usb", "xr-spatial-tracking",
)
PERMISSIONS_POLICY = ", ".join(f"{feature}=()" for feature in DENIED_FEATURES)


class SecurityHeadersMiddleware:
    """Add Permissions-Policy to every response, and `Cache-Control: no-store` to every response
    that has no Cache-Control of its own."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        if not response.has_header("Cache-Control"):
            add_never_cache_headers(response)
        return response
