"""Pages of the portal as a whole, not of one app."""

from django.shortcuts import render


def csrf_failure(request, reason=""):
    """Explain a refused form post in words the public understands (CSRF_FAILURE_VIEW).

    `reason` is not shown: it helps an attacker more than a reporter, and CsrfViewMiddleware has
    already logged it to django.security.csrf.
    """
    return render(request, "403_csrf.html", status=403)
