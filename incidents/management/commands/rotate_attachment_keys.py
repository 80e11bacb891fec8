"""`manage.py rotate_attachment_keys`: every stored attachment and monthly report PDF under the
first key of ATTACHMENT_ENCRYPTION_KEYS (issue 13).

A file encrypted with another configured key is re-encrypted (MultiFernet.rotate); a file stored
in clear before encryption existed is encrypted (an attachment only if it still matches its
recorded SHA-256); a file already under the first key is left alone. Each file is done on its own:
the new file is written, then the row is switched to it with a conditional UPDATE (committed at
once), then the old file is deleted. A run that stops half-way leaves every row pointing at a
whole file it can read, and running again carries on where it stopped; at worst a file written
just before the stop is left unused in storage. A file that cannot be read or that no key
decrypts is reported by name and left as it is; the others are still done, and the command then
exits with status 1.

Usage, when rotating: put the new key first in ATTACHMENT_ENCRYPTION_KEYS and keep the old ones
after it, restart the portal's processes, run this until it exits 0, then remove the old keys.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from django.core.files.base import ContentFile
from django.core.management.base import BaseCommand, CommandError
from django.db import models

from cert_portal.encryption import (
    SETTING,
    UndecryptableFile,
    encrypt,
    is_current,
    rotate,
)
from incidents.models import Attachment, MonthlyReport

BATCH = 200
PROGRESS_EVERY = 100


class _Refused(Exception):
    """A file left as it is, with the reason."""


@dataclass(frozen=True)
class _Kind:
    label: str
    model: type[models.Model]
    file_field: str
    flag_field: str
    related: str

    def rows(self):
        """Every row with a file, in primary key order, a batch at a time (keyset)."""
        last = 0
        queryset = (self.model.objects.exclude(**{self.file_field: ""})
                    .select_related(self.related).order_by("pk"))
        while True:
            batch = list(queryset.filter(pk__gt=last)[:BATCH])
            yield from batch
            if len(batch) < BATCH:
                return
            last = batch[-1].pk

    def count(self) -> int:
        return self.model.objects.exclude(**{self.file_field: ""}).count()


KINDS = (
    _Kind("Attachments", Attachment, "file", "encrypted", "incident"),
    _Kind("Monthly report PDFs", MonthlyReport, "pdf", "pdf_encrypted", "cert"),
)

OUTCOMES = {
    "rotated": "re-encrypted under the first key",
    "encrypted": "encrypted (were stored in clear)",
    "current": "already under the first key",
    "changed": "changed while this ran (run again)",
}


class Command(BaseCommand):
    help = (f"Re-encrypt every stored attachment and monthly report PDF under the first key of "
            f"{SETTING}, and encrypt those stored in clear. Safe to stop and to run again.")

    def handle(self, *args, **options):
        verbose = options["verbosity"] >= 2
        failures: list[str] = []
        for kind in KINDS:
            total = kind.count()
            tally = dict.fromkeys(OUTCOMES, 0)
            failed = 0
            self.stdout.write(f"{kind.label}: {total:,} to check.")
            for done, row in enumerate(kind.rows(), start=1):
                field_file = getattr(row, kind.file_field)
                where = f"{kind.label[:-1].lower()} {row.pk} ({field_file.name})"
                try:
                    outcome = self._one(kind, row)
                except (_Refused, UndecryptableFile, OSError) as error:
                    reason = (f"no key in {SETTING} decrypts it" if isinstance(error, UndecryptableFile)
                              else str(error))
                    failures.append(f"{where}: {reason}")
                    self.stderr.write(f"FAILED {where}: {reason}; left as it is.")
                    failed += 1
                else:
                    tally[outcome] += 1
                    if verbose:
                        self.stdout.write(f"  {where}: {OUTCOMES[outcome]}")
                if done % PROGRESS_EVERY == 0:
                    self.stdout.write(f"{kind.label}: {done:,} of {total:,} checked.")
            summary = ", ".join(f"{tally[key]:,} {text}" for key, text in OUTCOMES.items())
            self.stdout.write(f"{kind.label}: {summary}, {failed:,} failed.")
        if failures:
            raise CommandError(
                f"{len(failures)} file(s) could not be re-encrypted and were left as they are "
                f"(listed above). Add the key they were encrypted with to {SETTING} (after the "
                "first) or restore the files, then run this again; remove no key until it exits "
                "with status 0.")
        self.stdout.write(self.style.SUCCESS(f"Every file is under the first key of {SETTING}."))

    def _one(self, kind: _Kind, row) -> str:
        field_file = getattr(row, kind.file_field)
        storage, old_name = field_file.storage, field_file.name
        was_encrypted = getattr(row, kind.flag_field)
        with storage.open(old_name, "rb") as stored:
            data = stored.read()
        if was_encrypted:
            if is_current(data):
                return "current"
            token, outcome = rotate(data, name=old_name), "rotated"
        else:
            if kind.model is Attachment and hashlib.sha256(data).hexdigest() != row.sha256:
                raise _Refused("stored in clear, but it does not match its recorded SHA-256")
            token, outcome = encrypt(data), "encrypted"
        new_name = storage.save(field_file.field.generate_filename(row, "rotated"),
                                ContentFile(token))
        # The row moves to the new file only if nothing else changed it meanwhile.
        switched = kind.model.objects.filter(
            pk=row.pk, **{kind.file_field: old_name, kind.flag_field: was_encrypted},
        ).update(**{kind.file_field: new_name, kind.flag_field: True})
        if not switched:
            storage.delete(new_name)
            return "changed"
        storage.delete(old_name)
        return outcome
