"""A test-only Django app for the fault tests (tests/reliability): it stops a real worker process
at a chosen point the first time it gets there, so that a test can kill it exactly there.

Nothing here is imported by the portal: only tests/faults/settings.py installs it.
"""
