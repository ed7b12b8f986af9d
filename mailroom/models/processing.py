"""What happened to each stored message: the audit record of its processing."""

from __future__ import annotations

from django.db import models

from mailroom.models.messages import Message


class ProcessingState(models.TextChoices):
    """Whether the pipeline still has to run, ran, or failed on the message."""

    PENDING = "pending", "Waiting"
    DONE = "done", "Processed"
    FAILED = "failed", "Failed"


class ProcessingRecord(models.Model):
    """Created with the message in the same transaction; the pipeline fills it in.

    ``steps`` lists ``{"step", "outcome", "detail"}`` in the order they ran; ``rule_hits`` and
    ``rule_misses`` name the autoresponse rules that matched or not. After a failed attempt the
    steps that completed before the failure carry ``"rolled_back": True`` (the savepoint undid
    what they wrote) and the failed step closes the list with outcome ``"error"``.

    ``retry_at`` is when a failed attempt may be tried again (None: as soon as a task or the
    sweep takes the record); the engine and the sweep leave the record alone until then.
    """

    message = models.OneToOneField(Message, on_delete=models.CASCADE, related_name="processing")
    state = models.CharField(
        max_length=20, choices=ProcessingState.choices, default=ProcessingState.PENDING
    )
    steps = models.JSONField(default=list, blank=True)
    outcome = models.CharField(max_length=300, blank=True)
    automated_reason = models.CharField(max_length=300, blank=True)
    rule_hits = models.JSONField(default=list, blank=True)
    rule_misses = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    processed_at = models.DateTimeField(null=True, blank=True)
    retry_at = models.DateTimeField(null=True, blank=True)
    # What processing created or joined (also named in ``outcome``).
    conversation = models.ForeignKey(
        "mailroom.Conversation", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    lead = models.ForeignKey(
        "mailroom.Lead", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    case = models.ForeignKey(
        "mailroom.Case", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ("-id",)
        indexes = [models.Index(fields=("state",), name="processing_state_idx")]

    def __str__(self) -> str:
        return f"processing of {self.message_id}: {self.state}"
