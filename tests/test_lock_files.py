"""The lock files in requirements/ (issue 13): every dependency pyproject.toml declares is pinned
there, with hashes, at a version the declaration accepts. `make` installs from these files with
--require-hashes, so a lock that fell behind pyproject.toml would install something else than
what was declared, or fail on a fresh machine; `make lock` refreshes them."""

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==([^\s;\\]+)(\s*;\s*([^\\]+?))?\s*\\?$")


def _pins(lock: str) -> dict[str, list[tuple[str, str]]]:
    """{name: [(version, marker)]} of a lock file, and the check that each pin carries hashes."""
    pins: dict[str, list[tuple[str, str]]] = {}
    lines = (ROOT / "requirements" / lock).read_text().splitlines()
    for number, line in enumerate(lines):
        match = PIN.match(line)
        if not match:
            continue
        following = lines[number + 1] if number + 1 < len(lines) else ""
        assert "--hash=sha256:" in following, f"{lock}: {match.group(1)} has no hash"
        pins.setdefault(canonicalize_name(match.group(1)), []).append(
            (match.group(3), (match.group(5) or "").strip()))
    return pins


def _declared(extra: str | None) -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = [Requirement(spec) for spec in project["dependencies"]]
    if extra:
        requirements += [Requirement(spec) for spec in project["optional-dependencies"][extra]]
    return requirements


@pytest.mark.parametrize(("lock", "extra"), [("run.txt", None), ("dev.txt", "dev")])
def test_every_declared_dependency_is_pinned_at_an_accepted_version(lock, extra):
    pins = _pins(lock)
    assert pins, f"requirements/{lock} pins nothing"
    for requirement in _declared(extra):
        name = canonicalize_name(requirement.name)
        assert name in pins, (f"{requirement} is declared in pyproject.toml but not pinned in "
                              f"requirements/{lock}: run `make lock`")
        for version, _marker in pins[name]:
            assert requirement.specifier.contains(version, prereleases=True), (
                f"requirements/{lock} pins {name}=={version}, outside {requirement}: run `make lock`")


def test_the_build_lock_pins_the_build_backend_pyproject_names():
    backend = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]["requires"]
    pins = _pins("build.txt")
    for spec in backend:
        requirement = Requirement(spec)
        versions = [version for version, _ in pins.get(canonicalize_name(requirement.name), [])]
        assert versions and all(requirement.specifier.contains(v) for v in versions), (
            f"requirements/build.txt does not pin {spec}: run `make lock`")


def test_make_installs_from_the_locks_with_hashes_required():
    makefile = (ROOT / "Makefile").read_text()
    assert "--require-hashes --no-deps -r" in makefile
    for lock in ("requirements/build.txt", "requirements/run.txt", "requirements/dev.txt"):
        assert lock in makefile
    # Nothing is installed from the index by name outside the locks (the project itself is
    # installed with --no-deps, from the working tree).
    installs = [line for line in makefile.splitlines() if "$(PIP) install" in line]
    assert installs and all("--no-deps" in line for line in installs), installs
