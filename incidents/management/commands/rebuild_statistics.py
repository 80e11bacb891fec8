"""Rebuild the statistics rollups from the incidents and report the drift (issue 12, point 5).

    manage.py rebuild_statistics          rewrite the tables, print each CERT whose rows differed
    manage.py rebuild_statistics --check  write nothing; exit 1 when the stored rollups differ
                                          from a direct count over the incidents
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from incidents.statistics.refresh import count_drift, refresh


class Command(BaseCommand):
    help = "Rebuild the statistics rollups from the incidents and print the drift per CERT."

    def add_arguments(self, parser):
        parser.add_argument("--check", action="store_true",
                            help="Rebuild nothing; exit 1 when the stored rollups differ from the incidents.")

    def handle(self, *args, check: bool = False, **options):
        if check:
            drift = count_drift()
            self._print(drift)
            if drift:
                raise CommandError(f"The rollups of {len(drift)} CERT(s) differ from the incidents; "
                                   "run `manage.py rebuild_statistics` to rebuild them.", returncode=1)
            self.stdout.write("The rollups match the incidents.")
            return
        run = refresh()
        self._print(run.drift)
        self.stdout.write(f"Rebuilt: {run.rollup_rows} rollup rows, {run.fact_rows} SLA period rows, "
                          f"computed {run.finished_at:%Y-%m-%d %H:%M:%S %Z}.")

    def _print(self, drift: dict) -> None:
        if not drift:
            self.stdout.write("No drift: every CERT's rollups matched the incidents.")
            return
        for slug, found in drift.items():
            self.stdout.write(f"{slug}: stored {found['stored']}, counted {found['counted']}, "
                              f"{found['differing']} incident(s) in differing cells")
