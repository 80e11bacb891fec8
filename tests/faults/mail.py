"""An e-mail backend for the worker under test: each message becomes one file in
FAULTS_DIR/mail/, written whole or not at all, so the test counts messages by counting files.
The first send stops for good when the "email" point is armed (the worker is killed while it is
sending)."""

from __future__ import annotations

import os
import uuid

from django.core.mail.backends.base import BaseEmailBackend

from tests.faults.pause import faults_dir, pause_once


class PausingFileBackend(BaseEmailBackend):
    def send_messages(self, email_messages):
        pause_once("email")
        outbox = faults_dir() / "mail"
        outbox.mkdir(exist_ok=True)
        for message in email_messages:
            name = uuid.uuid4().hex
            partial = outbox / f".{name}.tmp"
            partial.write_bytes(message.message().as_bytes())
            os.replace(partial, outbox / f"{name}.eml")
        return len(email_messages)
