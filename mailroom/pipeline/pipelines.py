"""The declared pipelines: ordered step names. The engine looks each name up in STEPS."""

from __future__ import annotations

from mailroom.pipeline.base import Step
from mailroom.pipeline.steps.classify import Classify
from mailroom.pipeline.steps.respond import Respond
from mailroom.pipeline.steps.run_processor import RunProcessor
from mailroom.pipeline.steps.thread import Thread

STEPS: dict[str, type[Step]] = {
    step.name: step for step in (Classify, Thread, RunProcessor, Respond)
}

# Every incoming message: find out whether it is automatic mail, put it into a conversation of
# its mailbox, hand it to the mailbox's processor (nothing / Lead / Case / plug-in), then
# decide whether to answer it.
INBOUND: tuple[str, ...] = ("classify", "thread", "run_processor", "respond")

# Mail that was on the server before the account was connected: classified, threaded and kept,
# converted (Lead, Case) only when the administrator chose so. Its rules are evaluated for the
# audit record, but the respond step never answers history.
HISTORY: tuple[str, ...] = ("classify", "thread", "respond")
HISTORY_CONVERTED: tuple[str, ...] = INBOUND
