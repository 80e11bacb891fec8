"""Stop this process for good the first time it reaches a named point.

The test chooses the point with FAULTS_PAUSE and a directory of its own with FAULTS_DIR. The first
process to reach the point creates the marker file `paused-<point>` (O_EXCL, so only one ever
does), writes its pid into it and blocks until it is killed; the test waits for the marker and
then kills the worker. Every later arrival finds the marker and goes on, so the restarted worker
runs through.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path


def faults_dir() -> Path:
    return Path(os.environ["FAULTS_DIR"])


def armed(point: str) -> bool:
    return os.environ.get("FAULTS_PAUSE") == point


def pause_once(point: str) -> None:
    """Block for ever if this is the first arrival at `point` while it is armed; else return."""
    if not armed(point):
        return
    marker = faults_dir() / f"paused-{point}"
    try:
        descriptor = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return
    os.write(descriptor, str(os.getpid()).encode())
    os.close(descriptor)
    threading.Event().wait()  # until the test's SIGKILL
