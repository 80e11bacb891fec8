"""Where attachments and report PDFs are stored: STORAGES["default"] from ATTACHMENT_STORAGE.

`filesystem` (the default) keeps them under MEDIA_ROOT, which several web and worker machines may
share as a mounted file system. `s3` keeps them in a bucket of an S3-compatible object store
through django-storages, the optional extra "s3" (`pip install 'cert-portal[s3]'`).

Either way the files are encrypted by the portal before they are stored (cert_portal/encryption.py)
and reach a browser only through the portal's permission-checked, audited download views: the
bucket is private and no signed URL is ever made that a browser could use without the portal.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping

from django.core.exceptions import ImproperlyConfigured

STORAGE_KINDS = {"filesystem", "s3"}
FILESYSTEM_BACKEND = "cert_portal.storage.FileSystemStorage"
S3_BACKEND = "storages.backends.s3.S3Storage"


def attachment_storage(kind: str, environ: Mapping[str, str]) -> dict:
    """The STORAGES["default"] entry for `kind`, configured from `environ`.

    Raises ImproperlyConfigured, naming what to do, when `s3` is chosen without django-storages
    and boto3 installed or without AWS_STORAGE_BUCKET_NAME.
    """
    if kind == "filesystem":
        # Django's FileSystemStorage, minus the partial file a failed write leaves behind.
        return {"BACKEND": FILESYSTEM_BACKEND}
    if kind != "s3":
        raise ImproperlyConfigured(f"ATTACHMENT_STORAGE={kind!r}: use filesystem or s3.")
    missing = [name for name in ("storages", "boto3") if importlib.util.find_spec(name) is None]
    if missing:
        raise ImproperlyConfigured(
            f"ATTACHMENT_STORAGE=s3 needs django-storages with boto3, and {' and '.join(missing)} "
            "is not installed: pip install 'cert-portal[s3]' (or set ATTACHMENT_STORAGE=filesystem)."
        )
    bucket = environ.get("AWS_STORAGE_BUCKET_NAME", "").strip()
    if not bucket:
        raise ImproperlyConfigured(
            "ATTACHMENT_STORAGE=s3 needs AWS_STORAGE_BUCKET_NAME: the bucket that holds the "
            "attachments and report PDFs."
        )
    options = {
        "bucket_name": bucket,
        # Private objects, and no pre-signed URLs: a URL of a stored file is of no use to a
        # browser, so nothing but the portal's download views can hand a file out.
        "default_acl": "private",
        "querystring_auth": False,
        # Two uploads with the same name get two objects, never one overwriting the other.
        "file_overwrite": False,
    }
    # Empty means the library's own default: AWS' endpoint, the region of the configuration or
    # the instance, and credentials from the instance role or the usual AWS variables.
    for option, name in (("endpoint_url", "AWS_S3_ENDPOINT_URL"),
                         ("region_name", "AWS_S3_REGION_NAME"),
                         ("access_key", "AWS_ACCESS_KEY_ID"),
                         ("secret_key", "AWS_SECRET_ACCESS_KEY")):
        value = environ.get(name, "").strip()
        if value:
            options[option] = value
    return {"BACKEND": S3_BACKEND, "OPTIONS": options}
