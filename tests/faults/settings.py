"""Settings of the worker process the fault tests start (tests/reliability): the test settings,
the faults app, and e-mail written to files the test can count. The database, Q_TIMEOUT, Q_RETRY
and the rest come from the environment the test gives the process."""

from tests.settings import *  # noqa: F403

INSTALLED_APPS = [*INSTALLED_APPS, "tests.faults"]  # noqa: F405
EMAIL_BACKEND = "tests.faults.mail.PausingFileBackend"
