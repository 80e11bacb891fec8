"""Attachments on the local (or a mounted, shared) file system, with nothing left of a file whose
write failed.

Django's FileSystemStorage creates the file and then writes it; if the write fails (the disk or
the quota full, an I/O error) it raises and leaves the partial file behind, under a name nobody
learns: the caller's clean-up (incidents.services.contributions.incident_attach deletes what it
stored when its transaction fails) never sees it, and the orphan stays on disk for good. This
storage removes that partial file before the error goes on.
"""

from __future__ import annotations

import logging
import os

from django.core.files.storage import FileSystemStorage as DjangoFileSystemStorage

logger = logging.getLogger(__name__)


class FileSystemStorage(DjangoFileSystemStorage):
    def _save(self, name, content):
        """Save as Django does; if that fails after the file was created, delete it and raise.

        Storage.save hands `_save` a name no file has (get_available_name) and the file is then
        created with O_EXCL, so a file at that name that was not there before the call is the
        partial one of this call. (Django picks another name only if a second writer takes the
        same one in between; the portal's names are random, attachment_path and report_path.)
        """
        path = self.path(name)
        existed = os.path.lexists(path)
        try:
            return super()._save(name, content)
        except OSError as error:
            if not existed and os.path.lexists(path):
                try:
                    os.remove(path)
                except OSError:
                    logger.exception("Could not remove %s, left by a failed write", path)
                else:
                    logger.warning("Removed %s, left by a failed write: %s", path, error)
            raise
