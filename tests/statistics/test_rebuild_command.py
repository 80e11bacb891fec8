"""manage.py rebuild_statistics: rebuilds and prints the drift; --check writes nothing and exits 1
when the stored rollups differ from a direct count."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from incidents.models import IncidentRollup, StatisticsRun
from tests.factories import make_incident


def run(capsys, *args) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) as from the shell: manage.py exits with a CommandError's
    returncode and prints its message on stderr. (call_command, not execute_from_command_line,
    which closes the test's database connection.)"""
    out = StringIO()
    try:
        call_command("rebuild_statistics", *args, stdout=out)
    except CommandError as error:
        return error.returncode, out.getvalue(), str(error)
    return 0, out.getvalue(), ""


def test_check_exits_1_on_drift_and_rebuild_repairs_it(certs, member, clock, capsys):
    make_incident(owner_cert=certs["lahore"], actor=member("lahore", "handler"))
    make_incident(owner_cert=certs["karachi"], actor=member("karachi", "handler"))

    code, out, err = run(capsys, "--check")
    assert code == 1
    assert "lahore: stored 0, counted 1, 1 incident(s) in differing cells" in out
    assert "karachi: stored 0, counted 1" in out
    assert "differ from the incidents" in err and "rebuild_statistics" in err
    assert not IncidentRollup.objects.exists() and not StatisticsRun.objects.exists()

    code, out, _ = run(capsys)
    assert code == 0
    assert "lahore: stored 0, counted 1" in out
    assert "Rebuilt: 2 rollup rows" in out
    assert StatisticsRun.objects.count() == 1

    code, out, _ = run(capsys, "--check")
    assert code == 0
    assert "The rollups match the incidents." in out

    code, out, _ = run(capsys)
    assert (code, "No drift" in out) == (0, True)


@pytest.mark.parametrize("args", [(), ("--check",)])
def test_an_empty_database_has_no_drift(db, capsys, args):
    code, out, _ = run(capsys, *args)
    assert code == 0
    assert "No drift" in out
