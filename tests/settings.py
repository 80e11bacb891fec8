"""Settings for the test suite: the real settings, with what makes tests fast and isolated.

DATABASE_URL still chooses the database, so the same suite runs on SQLite and on PostgreSQL.
"""

import os
import tempfile
from pathlib import Path

os.environ.setdefault("DEBUG", "0")
os.environ.setdefault("SECRET_KEY", "test-secret-key-that-is-long-enough-for-the-checks")
# Links in e-mails start with it; required with DEBUG off.
os.environ.setdefault("PORTAL_BASE_URL", "http://portal.test.example")
# A fixed Fernet key for attachments and report PDFs (encrypted at rest, issue 13); required
# with DEBUG off. Tests of rotation and of a wrong key override the setting.
os.environ.setdefault("ATTACHMENT_ENCRYPTION_KEYS", "BrZR1lfjpG-1yQflLY1XJvcMV0wDp9xuXWpjyQNdvlA=")
os.environ["CERT_PORTAL_ENV_FILE"] = os.devnull  # a developer's .env never leaks into tests
# The test client and the browser tests speak plain HTTP: no redirect to HTTPS, and cookies
# without Secure (and so without the __Host- prefix, which a browser refuses without Secure).
# tests/security/test_headers.py checks the production values of both.
os.environ.setdefault("SECURE_SSL_REDIRECT", "0")
os.environ.setdefault("SECURE_COOKIES", "0")

from cert_portal.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Tests render templates without running collectstatic first; the manifest storage of production
# is tested on its own in tests/test_static.py.
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# WhiteNoise scans STATIC_ROOT when the middleware starts and warns when it is missing.
STATIC_ROOT = Path(tempfile.gettempdir()) / "cert-portal-test-static"  # noqa: F405
STATIC_ROOT.mkdir(exist_ok=True)
