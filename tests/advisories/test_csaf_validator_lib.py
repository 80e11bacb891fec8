"""The portal's CSAF documents pass the CSAF 2.0 mandatory tests (§6.1) as BSI's
@secvisogram/csaf-validator-lib implements them (issue 10, "What it must show").

The library is installed from the npm registry into tests/csaf_validator/node_modules (`npm ci
--prefix tests/csaf_validator`; `make test` runs it when npm exists) and run by
tests/csaf_validator/validate.mjs. Without node or the library these tests skip and say what
to install; with CERT_PORTAL_REQUIRE_BROWSER=1 (set by .ci/run) they fail instead, so that CI
never passes by skipping them.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess

import pytest

from advisories.csaf.cwe import CWE_NAMES
from advisories.csaf.document import file_name
from tests.csaf_validator.support import (
    VALIDATE_SCRIPT,
    VALIDATOR_LIB,
    csaf_advisories,  # noqa: F401  (fixture)
    csaf_documents,  # noqa: F401  (fixture)
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def node() -> str:
    """The node executable, when it and the library are installed (else skip, or fail in CI)."""
    node = shutil.which("node")
    missing = ""
    if node is None:
        missing = "node is missing: apt-get install nodejs npm (bash .ci/run does)."
    elif not (VALIDATOR_LIB / "package.json").is_file():
        missing = ("@secvisogram/csaf-validator-lib is not installed: npm ci --prefix "
                   "tests/csaf_validator (make test does when npm exists).")
    if missing:
        if os.environ.get("CERT_PORTAL_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{missing} (CERT_PORTAL_REQUIRE_BROWSER=1: the CSAF mandatory tests must "
                        "run here)", pytrace=False)
        pytest.skip(missing)
    return node


@pytest.fixture
def validate(node, tmp_path):
    """validate({file name: document}) -> the finished `node validate.mjs` process."""

    def run(documents: dict[str, dict]) -> subprocess.CompletedProcess:
        paths = []
        for name, document in documents.items():
            path = tmp_path / name
            path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
            paths.append(str(path))
        return subprocess.run([node, str(VALIDATE_SCRIPT), *paths], capture_output=True, text=True,
                              timeout=120, check=False)

    return run


def test_the_cwe_names_are_the_ones_the_validator_checks(node):
    """advisories.csaf.cwe is a copy of the library's CWE catalogue (its test 6.1.11)."""
    script = ("import cwec from '@secvisogram/csaf-validator-lib/lib/shared/cwec.js';"
              "console.log(JSON.stringify(Object.fromEntries(cwec.weaknesses.map(w => [w.id, w.name]))))")
    result = subprocess.run([node, "--input-type=module", "-e", script], cwd=VALIDATE_SCRIPT.parent,
                            capture_output=True, text=True, timeout=120, check=True)
    assert json.loads(result.stdout) == CWE_NAMES


def test_every_document_passes_the_mandatory_tests(validate, csaf_documents):  # noqa: F811
    documents = {file_name(doc["document"]["tracking"]["id"]): doc for doc in csaf_documents.values()}
    assert len(documents) == 8
    result = validate(documents)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("ok      ") == 8


def test_a_document_that_breaks_a_mandatory_test_fails(validate, csaf_documents):  # noqa: F811
    """The run can fail: an informational advisory with a vulnerability (6.1.27.3), a product
    status naming an undefined product (6.1.1), a score that does not match its vector (6.1.9)
    and a CWE name that is not the CWE list's (6.1.11) are each reported, and the exit code
    is 1."""
    informational = copy.deepcopy(csaf_documents["clear_informational"])
    informational["vulnerabilities"] = [{"cve": "CVE-2026-99999"}]
    security = copy.deepcopy(csaf_documents["clear_security"])
    security["vulnerabilities"][0]["product_status"]["known_affected"].append("CSAFPID-undefined")
    security["vulnerabilities"][1]["scores"][0]["cvss_v3"]["baseScore"] = 5.0
    security["vulnerabilities"][1]["cwe"]["name"] = "Cross-site scripting"
    result = validate({"informational.json": informational, "security.json": security,
                       "fine.json": csaf_documents["clear_revised"]})
    assert result.returncode == 1, result.stdout + result.stderr
    assert "mandatoryTest_6_1_27_3" in result.stdout
    assert "mandatoryTest_6_1_1: /vulnerabilities/0/product_status/known_affected/4" in result.stdout
    assert "mandatoryTest_6_1_9: /vulnerabilities/1/scores/0/cvss_v3/baseScore" in result.stdout
    assert "mandatoryTest_6_1_11: /vulnerabilities/1/cwe/name" in result.stdout
    assert "ok      " in result.stdout and "fine.json" in result.stdout
    assert "2 of 3 documents failed" in result.stdout
