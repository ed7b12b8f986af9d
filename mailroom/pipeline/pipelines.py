"""The declared pipelines: ordered step names. The engine looks each name up in STEPS."""

from __future__ import annotations

from mailroom.pipeline.base import Step
from mailroom.pipeline.steps.classify import Classify
from mailroom.pipeline.steps.respond import Respond
from mailroom.pipeline.steps.run_processor import RunProcessor

STEPS: dict[str, type[Step]] = {step.name: step for step in (Classify, RunProcessor, Respond)}

# Every incoming message: find out whether it is automatic mail, hand it to the mailbox's
# processor (nothing / Lead / Case / plug-in), then decide whether to answer it.
INBOUND: tuple[str, ...] = ("classify", "run_processor", "respond")
