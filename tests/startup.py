"""Start the real settings in a fresh interpreter, the way manage.py and the WSGI server do, for
the tests of what start-up accepts and refuses. Only the variables a test names are set (and the
test attachment key, which DEBUG off requires): the developer's environment and .env never leak
in."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent


def environment(**variables: str) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(PROJECT_DIR),
        "DJANGO_SETTINGS_MODULE": "cert_portal.settings",
        "CERT_PORTAL_ENV_FILE": os.devnull,
        # Required with DEBUG off (issue 13): the tests of other settings need not name it; the
        # tests of this one pass ATTACHMENT_ENCRYPTION_KEYS="" for "not set".
        "ATTACHMENT_ENCRYPTION_KEYS": "BrZR1lfjpG-1yQflLY1XJvcMV0wDp9xuXWpjyQNdvlA=",
        **variables,
    }


def start_django(printing: str, **variables: str) -> subprocess.CompletedProcess:
    """Set Django up with only `variables` in the environment, then print the Python expression
    `printing`, in which `settings` is django.conf.settings (and `json` is imported)."""
    code = ("import json, django; django.setup(); from django.conf import settings; "
            f"print({printing})")
    return subprocess.run([sys.executable, "-c", code], env=environment(**variables),
                          cwd=PROJECT_DIR, capture_output=True, text=True, timeout=60)


def manage(*args: str, **variables: str) -> subprocess.CompletedProcess:
    """Run `manage.py *args` with only `variables` in the environment."""
    return subprocess.run([sys.executable, "manage.py", *args], env=environment(**variables),
                          cwd=PROJECT_DIR, capture_output=True, text=True, timeout=120)
