"""bench/load_test.py runs end to end, so that the load test cannot rot (issue 13, item 7).

A few seconds with three clients: gunicorn with two workers and a qcluster on a database of the
run's own, every kind of request, and the check of the submissions against the database. On
PostgreSQL when the suite runs on PostgreSQL (the load test creates and drops its database),
otherwise on an SQLite file, so that it runs wherever the suite runs; the figures that matter
come from the full run on PostgreSQL (bench/README.md).
"""

import json
import os
import secrets
import subprocess
import sys
import urllib.parse

from tests.test_run_portal import PROJECT_DIR

KINDS = {"report form", "report submit", "receipt", "public page", "dashboard", "api"}


def test_a_short_load_test_passes_and_accounts_for_every_submission(tmp_path):
    suite_database = os.environ.get("DATABASE_URL", "")
    if suite_database.startswith(("postgres://", "postgresql://")):
        name = f"cert_portal_load_{secrets.token_hex(4)}"
        database_url = urllib.parse.urlunsplit(
            urllib.parse.urlsplit(suite_database)._replace(path=f"/{name}"))
    else:
        database_url = f"sqlite:///{tmp_path}/load.sqlite3"
    result_path = tmp_path / "load.json"

    run = subprocess.run(
        [sys.executable, "bench/load_test.py", "--clients", "3", "--duration", "6",
         "--web-workers", "2", "--database-url", database_url, "--json", str(result_path)],
        cwd=PROJECT_DIR, capture_output=True, text=True, timeout=1800,
        env={key: value for key, value in os.environ.items() if key != "DATABASE_URL"})

    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    result = json.loads(result_path.read_text())
    assert result["passed"] is True and result["reasons"] == []
    assert result["server_errors"] == 0 and result["errors"] == 0
    assert set(result["per_kind"]) == KINDS, result["per_kind"]
    checks = result["submissions"]
    assert checks["accepted"] >= 1
    assert checks["incidents_found"] == checks["accepted"]
    assert checks["lost"] == checks["duplicated"] == checks["refused_but_stored"] == []
    assert result["overall"]["requests"] == sum(row["requests"]
                                                for row in result["per_kind"].values())
    assert "Verdict: PASS" in run.stdout
