"""manage.py check_database: exits 0 when the database DATABASE_URL names answers, otherwise
prints what to do and exits 1. `make serve` runs it first, so that an unreachable PostgreSQL is
one clear message instead of a traceback from migrate."""

from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.db.utils import OperationalError


class Command(BaseCommand):
    help = "Check that the database named by DATABASE_URL answers; say what to do when it does not."

    def handle(self, *args, **options):
        settings = connection.settings_dict
        where = (f"{settings.get('USER') or '?'}@{settings.get('HOST') or 'localhost'}:"
                 f"{settings.get('PORT') or 5432}/{settings['NAME']}")
        try:
            connection.ensure_connection()
        except OperationalError as error:
            reason = " ".join(line.strip() for line in str(error).splitlines()) or repr(error)
            if connection.vendor != "postgresql":
                raise CommandError(f"Cannot open the database {settings['NAME']}: {reason}") from None
            if "does not exist" in reason:
                advice = (f"Create it: createdb -h {settings.get('HOST') or 'localhost'} "
                          f"-U {settings.get('USER') or 'postgres'} {settings['NAME']}")
            else:
                advice = ("Start PostgreSQL (e.g. `sudo systemctl start postgresql`, or "
                          "`docker run -d -p 127.0.0.1:5432:5432 -e POSTGRES_HOST_AUTH_METHOD=trust "
                          "postgres:16`), or point DATABASE_URL at a server that runs, e.g. "
                          "DATABASE_URL=postgres://user:password@host:5432/cert_portal make serve")
            raise CommandError(f"Cannot reach PostgreSQL at {where}: {reason}\n{advice}") from None
        finally:
            connection.close()
        self.stdout.write(f"The database answers ({connection.vendor}: {settings['NAME']}).")
