"""Export the configuration (never a secret)."""

from __future__ import annotations

from typing import Any

from mailroom.configuration.rules import rule_document, template_document
from mailroom.models import EmailTemplate, LeadSource, Mailbox, SalesChannel

FORMAT = "mailroom-config"
VERSION = 1


def mailbox_document(mailbox: Mailbox) -> dict[str, Any]:
    """One mailbox's part of the document."""
    c = mailbox.connection
    return {
        "label": mailbox.label,
        "email": mailbox.email,
        "account_type": mailbox.account_type,
        "imap": {
            "enabled": c.imap_enabled,
            "host": c.imap_host,
            "port": c.imap_port,
            "encryption": c.imap_encryption,
        },
        "smtp": {
            "enabled": c.smtp_enabled,
            "host": c.smtp_host,
            "port": c.smtp_port,
            "encryption": c.smtp_encryption,
        },
        "username": c.username,
        "processor": {"kind": mailbox.processor_kind, "settings": mailbox.processor_settings},
        "history": {
            "mode": mailbox.history_mode,
            "days": mailbox.history_days,
            "convert": mailbox.history_convert,
        },
        # Left out when unset, as a document written before it existed has it.
        **({"language": mailbox.language} if mailbox.language else {}),
        **({"aliases": mailbox.aliases.splitlines()} if mailbox.aliases else {}),
        "folders": [{"name": f.name, "selected": f.selected} for f in mailbox.folders.all()],
        "access": {
            "users": sorted(u.get_username() for u in mailbox.authorized_users.all()),
            "roles": sorted(g.name for g in mailbox.authorized_groups.all()),
        },
        "rules": [
            rule_document(rule)
            for rule in mailbox.rules.order_by("position", "name")
            .select_related("template")
            .prefetch_related("conditions", "template__translations")
        ],
    }


def export_configuration() -> dict[str, Any]:
    """The whole configuration as plain data, ready for ``json.dumps``."""
    return {
        "format": FORMAT,
        "version": VERSION,
        "lead_sources": [
            {"name": s.name, "active": s.active, "default": s.is_default}
            for s in LeadSource.objects.order_by("position", "name")
        ],
        "sales_channels": [
            {"name": c.name, "active": c.active} for c in SalesChannel.objects.all()
        ],
        # The library; a rule's inline response is exported with the rule.
        "templates": [
            template_document(t)
            for t in EmailTemplate.objects.filter(in_library=True).prefetch_related("translations")
        ],
        "mailboxes": [
            mailbox_document(m)
            for m in Mailbox.objects.select_related("connection").prefetch_related(
                "folders", "authorized_users", "authorized_groups"
            )
        ],
    }
