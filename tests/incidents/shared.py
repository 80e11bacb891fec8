"""Access to the project's shared standards (../shared/standards), for tests that compare the
portal's pinned data with them. The directory sits beside the repository in the development
workspace and is absent from a plain checkout, where those comparisons are skipped."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

REPOSITORY = Path(__file__).resolve().parents[2]
STANDARDS = REPOSITORY.parent / "shared" / "standards"


def shared_standard_path(name: str) -> Path:
    """Return the path of ../shared/standards/<name>; skip the test if it does not exist."""
    path = STANDARDS / name
    if not path.is_file():
        pytest.skip(f"{path} does not exist here (no shared standards beside the repository)")
    return path


def shared_standard(name: str) -> Any:
    """Return ../shared/standards/<name> parsed as JSON; skip the test if it does not exist."""
    return json.loads(shared_standard_path(name).read_text(encoding="utf-8"))
