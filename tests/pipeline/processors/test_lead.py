"""Processor "lead"."""

from __future__ import annotations

import pytest

from mailroom.models import Lead, LeadSource, SalesChannel
from mailroom.pipeline.engine import process_message
from mailroom.pipeline.processors.registry import load_processor
from tests.pipeline.helpers import mailbox, stored

pytestmark = pytest.mark.django_db


def test_it_creates_a_lead_named_after_the_sender() -> None:
    SalesChannel.objects.create(name="Direct")
    LeadSource.objects.create(name="Email")
    message = stored(mailbox("lead", source="Email"))

    process_message(message.pk)

    lead = Lead.objects.get()
    assert (lead.name, lead.email) == ("Alice Martin", "alice@customer.test")
    assert lead.source is not None and lead.source.name == "Email"


def test_it_needs_an_active_sales_channel_and_a_known_source() -> None:
    SalesChannel.objects.create(name="Old", active=False)
    errors = load_processor("lead").validate_settings({"source": "Fax", "owner": "nobody"})
    assert set(errors) == {"source", "owner", "processor_kind"}
