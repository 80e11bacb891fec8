from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from cert_portal.translations import CatalogueError, compile_all, po_files, stale_mo_files


class Command(BaseCommand):
    help = ("Compile the .po catalogues in LOCALE_PATHS to .mo files beside them, in pure Python "
            "with polib (GNU gettext is not needed). With --check, change nothing and fail if a .mo "
            "is missing or out of date, for CI.")

    def add_arguments(self, parser):
        parser.add_argument("--check", action="store_true",
                            help="Exit with status 1, listing them, when .mo files are stale.")

    def handle(self, *args, check: bool, **options):
        locale_dirs = [Path(path) for path in settings.LOCALE_PATHS]
        try:
            if check:
                self._check(locale_dirs)
            else:
                self._compile(locale_dirs)
        except CatalogueError as error:
            # Names the file and the line; a traceback would only bury them.
            raise CommandError(str(error)) from None

    def _check(self, locale_dirs: list[Path]) -> None:
        stale = [mo for locale_dir in locale_dirs for mo in stale_mo_files(locale_dir)]
        if stale:
            listing = "\n".join(f"  {mo}" for mo in stale)
            raise CommandError(
                f"{len(stale)} compiled catalogue(s) missing or out of date; run "
                f"`manage.py compile_translations` and commit the result:\n{listing}")
        self.stdout.write("Compiled catalogues are up to date.")

    def _compile(self, locale_dirs: list[Path]) -> None:
        catalogues = sum(len(po_files(locale_dir)) for locale_dir in locale_dirs)
        written = [mo for locale_dir in locale_dirs for mo in compile_all(locale_dir)]
        for mo in written:
            self.stdout.write(f"Wrote {mo}")
        self.stdout.write(f"{catalogues} catalogue(s), {len(written)} .mo file(s) rewritten.")
