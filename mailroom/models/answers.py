"""The answer record: which sender each autoresponse rule answered, and when.

RFC 3834 section 2 and RFC 5230 section 4.2: the same response goes to the same sender at most
once in a window (7 days by default). One row per (rule, sender address) holds the time of the
last answer; a unique constraint on that pair, and a compare-and-swap on the row's claim
counter, make the claim safe between processes, on SQLite as on PostgreSQL (see
:meth:`AnswerRecordManager.claim`).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import IntegrityError, models, transaction
from django.db.models import F

from mailroom.models.mailboxes import Mailbox
from mailroom.models.messages import Message
from mailroom.models.outbox import OutboxMessage, OutboxState
from mailroom.models.rules import AutoResponseRule


def normalise_address(address: str) -> str:
    """The form of a sender address answers are tracked under: stripped and lower-case.

    Row A25: ``Alice@Cust.TEST`` and ``alice@cust.test`` are one sender. The local part is
    compared case-insensitively too, as Pigeonhole does: no real mailbox tells two people apart
    by case alone.
    """
    return address.strip().lower()


class AnswerRecordManager(models.Manager["AnswerRecord"]):
    """Claims of the right to answer a sender."""

    def claim(
        self,
        *,
        rule: AutoResponseRule,
        address: str,
        message: Message,
        now: datetime,
        window: timedelta,
    ) -> bool:
        """Claim the answer to ``address`` for ``rule`` on behalf of ``message``.

        True when the caller may answer; False when the sender was answered within
        ``window``. The claim is an INSERT when the pair has no row yet (the unique constraint
        lets one process make it, the other gets an IntegrityError), or else an UPDATE of the
        row as it was read (its ``claims`` counter unchanged), made only when that row's answer
        does not count: older than ``window``, or never sent (row A26: the server refused it,
        or it could not be composed). Of two processes the second finds the counter moved and
        gives up. Call it in the transaction that queues the answer.
        """
        key = normalise_address(address)
        current = self.filter(rule=rule, address=key).first()
        if current is None:
            try:
                with transaction.atomic():
                    self.create(
                        mailbox_id=rule.mailbox_id,
                        rule=rule,
                        address=key,
                        message=message,
                        answered_at=now,
                    )
            except IntegrityError:
                return False
            return True
        if current.answered_at >= now - window and current.counts():
            return False
        return bool(
            self.filter(pk=current.pk, claims=current.claims).update(
                claims=F("claims") + 1, message=message, answered_at=now
            )
        )

    def answered(
        self, *, rule: AutoResponseRule, address: str, now: datetime, window: timedelta
    ) -> bool:
        """Whether ``rule`` gave ``address`` an answer that counts within ``window``: what
        :meth:`claim` refuses. Reads only."""
        current = self.filter(rule=rule, address=normalise_address(address)).first()
        return current is not None and current.answered_at >= now - window and current.counts()

    def answered_since(self, mailbox: Mailbox | None, since: datetime) -> int:
        """How many answers ``mailbox`` (None: every mailbox) claimed since ``since`` (for
        the hourly caps)."""
        answers = self.filter(answered_at__gte=since)
        return (answers if mailbox is None else answers.filter(mailbox=mailbox)).count()

    def note_bounce(self, mailbox: Mailbox, addresses: list[str], now: datetime) -> int:
        """Row A42: an answer of ``mailbox`` to each of ``addresses`` bounced; return how many
        records were marked."""
        keys = [normalise_address(address) for address in addresses]
        return self.filter(mailbox=mailbox, address__in=keys).update(bounced_at=now)

    def bounced_since(self, mailbox: Mailbox, address: str, since: datetime) -> bool:
        """Whether an answer of ``mailbox`` to ``address`` bounced since ``since``."""
        key = normalise_address(address)
        return self.filter(mailbox=mailbox, address=key, bounced_at__gte=since).exists()


class AnswerRecord(models.Model):
    """The last answer ``rule`` gave ``address`` (normalised): when, and to which message.

    ``claims`` counts the answers over the row's life; it is also the version a claim compares
    and swaps.
    """

    mailbox = models.ForeignKey(Mailbox, on_delete=models.CASCADE, related_name="answers")
    rule = models.ForeignKey(AutoResponseRule, on_delete=models.CASCADE, related_name="answers")
    address = models.CharField(max_length=320)
    message = models.ForeignKey(
        Message, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    answered_at = models.DateTimeField()
    claims = models.PositiveIntegerField(default=1)
    # When a delivery report said an answer to this address failed (row A42).
    bounced_at = models.DateTimeField(null=True, blank=True)

    objects = AnswerRecordManager()

    class Meta:
        ordering = ("-answered_at",)
        constraints = [
            # Address first: the index also serves the lookups by sender of a mailbox.
            models.UniqueConstraint(fields=("address", "rule"), name="answer_one_per_rule_sender"),
        ]
        indexes = [
            models.Index(fields=("mailbox", "answered_at"), name="answer_mailbox_time_idx"),
            # The site-wide hourly cap counts the answers of every mailbox.
            models.Index(fields=("answered_at",), name="answer_time_idx"),
        ]

    def __str__(self) -> str:
        return f"rule {self.rule_id} answered {self.address} at {self.answered_at:%Y-%m-%d %H:%M}"

    def counts(self) -> bool:
        """Whether this answer counts as given: its reply is queued, being sent, sent, or
        abandoned (probably delivered). A reply the server refused, or that was never queued,
        does not. When the answered message was deleted, the answer is assumed given."""
        if self.message_id is None:
            return True
        return (
            OutboxMessage.objects.filter(in_reply_to_id=self.message_id, rule_id=self.rule_id)
            .exclude(state=OutboxState.FAILED)
            .exists()
        )
