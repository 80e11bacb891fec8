"""Hypothesis profiles for the property-based tests (issue 13, item 6).

"dev" (the default) explores fresh random examples on every run, without an example database
(a failure prints the example and the `@reproduce_failure` blob to paste). "ci" (when the
environment has CI set, as .ci/run does) derandomizes, so that a failure in CI is the same
failure on a developer's machine. Both drop the per-example deadline: the first example of a
test that touches the database pays for warm-up, which is not what the deadline is for. The
example counts keep tests/properties under half a minute.

Loading a profile sets only the defaults: the schemathesis runs in tests/api set their own.
"""

import os

from hypothesis import HealthCheck, settings

from tests.incidents.conftest import certs, member  # noqa: F401

settings.register_profile("dev", deadline=None, max_examples=50, database=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("ci", parent=settings.get_profile("dev"), derandomize=True,
                          print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") else "dev")
