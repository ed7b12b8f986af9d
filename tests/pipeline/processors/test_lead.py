"""Processor "lead"."""

from __future__ import annotations

import pytest

from mailroom.models import Lead, LeadSource, ProcessingRecord, SalesChannel
from mailroom.pipeline.engine import process_message
from mailroom.pipeline.processors.registry import load_processor
from tests.pipeline.helpers import MAIL, mailbox, stored

pytestmark = pytest.mark.django_db


def test_it_creates_a_lead_named_after_the_sender() -> None:
    SalesChannel.objects.create(name="Direct")
    LeadSource.objects.create(name="Email")
    message = stored(mailbox("lead", source="Email"))

    process_message(message.pk)

    lead = Lead.objects.get()
    assert (lead.name, lead.email) == ("Alice Martin", "alice@customer.test")
    assert lead.source is not None and lead.source.name == "Email"


def test_a_mailbox_without_a_source_gets_the_default_option() -> None:
    SalesChannel.objects.create(name="Direct")
    LeadSource.objects.create(name="Email")
    LeadSource.objects.create(name="Referral", is_default=True)
    message = stored(mailbox("lead"))

    process_message(message.pk)

    lead = Lead.objects.get()
    assert lead.source is not None and lead.source.name == "Referral"


def test_it_needs_an_active_sales_channel_and_a_known_source() -> None:
    SalesChannel.objects.create(name="Old", active=False)
    errors = load_processor("lead").validate_settings({"source": "Fax", "owner": "nobody"})
    assert set(errors) == {"source", "owner", "processor_kind"}


def test_it_creates_no_lead_for_automatic_mail() -> None:
    SalesChannel.objects.create(name="Direct")
    raw = MAIL.replace(b"Subject:", b"Auto-Submitted: auto-replied\r\nSubject:")
    message = stored(mailbox("lead"), raw)

    process_message(message.pk)

    assert not Lead.objects.exists()
    record = ProcessingRecord.objects.get()
    assert record.outcome.startswith("not converted: out of office")
    assert record.lead is None and record.conversation is not None
