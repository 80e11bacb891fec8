from datetime import datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone


class Command(BaseCommand):
    help = ("Fill an empty database with the national bench data set (issue 8): the registry with "
            "200 organizational CERTs, 3,000 staff and 1,000,000 incidents over five years with "
            "their timelines, observables and grants, at --scale 1.0. See bench/README.md.")

    def add_arguments(self, parser):
        parser.add_argument("--scale", type=float, default=1.0,
                            help="Share of the full data set, above 0 and at most 1 (default 1.0: "
                                 "1,000,000 incidents; 0.01: 10,000).")
        parser.add_argument("--seed", type=int, default=8,
                            help="Seed of the random draws (default 8): the same seed, scale and "
                                 "--until give the same rows.")
        parser.add_argument("--until", default=None,
                            help="The data set's 'now', ISO 8601 (e.g. 2026-11-30T12:00, in "
                                 "TIME_ZONE unless it has an offset); default: now.")

    def handle(self, *args, scale: float, seed: int, until: str | None, **options):
        # The bench package sits next to the apps, not in them: imported only when this runs.
        from bench.national_dataset import DatasetError, generate

        try:
            moment = datetime.fromisoformat(until) if until else None
        except ValueError:
            raise CommandError(f"--until {until!r} is not an ISO 8601 date or time, such as "
                               "2026-11-30 or 2026-11-30T12:00.") from None
        if moment is not None and timezone.is_naive(moment):
            moment = timezone.make_aware(moment)
        try:
            generate(scale=scale, seed=seed, until=moment, out=self.stdout.write)
        except DatasetError as error:
            raise CommandError(str(error)) from None
