"""Import a configuration document: upsert by name or label, so importing twice changes nothing."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction

from mailroom.access.policy import readers_of
from mailroom.configuration.errors import ConfigurationInvalid, require
from mailroom.configuration.export import FORMAT, VERSION
from mailroom.configuration.export import mailbox_document as _mailbox_document
from mailroom.configuration.rules import (
    import_rule,
    import_template,
    validate_rule,
    validate_template,
)
from mailroom.crm.lists import import_lead_sources, lead_choice_refusals
from mailroom.mailboxes.actions import (
    MailboxInput,
    changed_server_settings,
    save_mailbox,
    set_access,
    set_folders,
)
from mailroom.models import (
    EmailTemplate,
    Encryption,
    HistoryMode,
    Mailbox,
    SalesChannel,
)
from mailroom.pipeline.processors.registry import load_processor, registered
from mailroom.rendering.language import normalise_tag
from mailroom.transport.errors import BadArgument
from mailroom.transport.hosts import check_host_text

# Where each setting the stored password belongs to sits in the document.
_PATHS = {
    "imap_host": "imap.host",
    "imap_port": "imap.port",
    "imap_encryption": "imap.encryption",
    "smtp_host": "smtp.host",
    "smtp_port": "smtp.port",
    "smtp_encryption": "smtp.encryption",
    "username": "username",
    "account_type": "account_type",
}


__all__ = ["ConfigurationInvalid", "import_configuration"]

_require = require


def _is_email(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        validate_email(value)
    except ValidationError:
        return False
    return True


def _validate_server(server: Any, where: str) -> None:
    _require(isinstance(server, dict), where, "must be an object")
    if "encryption" in server:
        _require(
            server["encryption"] in Encryption.values,
            f"{where}.encryption",
            f"must be one of {', '.join(Encryption.values)}",
        )
    if "port" in server:
        port = server["port"]
        _require(
            isinstance(port, int) and not isinstance(port, bool) and 0 < port < 65536,
            f"{where}.port",
            "must be a whole number from 1 to 65535",
        )
    if server.get("host"):
        try:
            check_host_text(str(server["host"]))
        except BadArgument as exc:
            raise ConfigurationInvalid(f"{where}.host: {exc}") from None


def _validate_history(history: Any, where: str) -> None:
    _require(isinstance(history, dict), where, "must be an object")
    mode = history.get("mode", HistoryMode.NONE)
    _require(
        mode in HistoryMode.values,
        f"{where}.mode",
        f"must be one of {', '.join(HistoryMode.values)}",
    )
    days = history.get("days")
    if mode == HistoryMode.DAYS or days is not None:
        _require(
            isinstance(days, int) and not isinstance(days, bool) and 0 < days <= 36500,
            f"{where}.days",
            "must be a whole number of days from 1 to 36500",
        )
    _require(
        isinstance(history.get("convert", False), bool), f"{where}.convert", "must be true or false"
    )


def _lead_source(item: Any) -> dict[str, Any]:
    """A ``lead_sources`` entry as an object: a plain name (older exports) is an active,
    non-default option."""
    return {"name": item} if isinstance(item, str) else item if isinstance(item, dict) else {}


def _validate_lead_sources(items: Any) -> None:
    _require(isinstance(items, list), "lead_sources", "must be a list")
    defaults = 0
    for i, item in enumerate(items):
        where = f"lead_sources[{i}]"
        source = _lead_source(item)
        name = source.get("name")
        _require(
            isinstance(name, str) and 0 < len(name.strip()) <= 100 and "\0" not in name,
            f"{where}.name",
            "must be a name of 1 to 100 characters",
        )
        for flag in ("active", "default"):
            _require(
                isinstance(source.get(flag, False), bool), f"{where}.{flag}", "must be true/false"
            )
        if source.get("default"):
            _require(source.get("active", True), f"{where}.default", "an inactive option")
            defaults += 1
    _require(defaults <= 1, "lead_sources", "at most one option can be the default")


def _validate(doc: Any) -> None:
    _require(isinstance(doc, dict), "document", "must be a JSON object")
    _require(doc.get("format") == FORMAT, "format", f"must be {FORMAT!r}")
    _require(doc.get("version") == VERSION, "version", f"must be {VERSION}")
    _validate_lead_sources(doc.get("lead_sources", []))
    _require(isinstance(doc.get("templates", []), list), "templates", "must be a list")
    for i, t in enumerate(doc.get("templates", [])):
        validate_template(t, f"templates[{i}]")
    templates = {t["name"] for t in doc.get("templates", [])}
    templates |= set(EmailTemplate.objects.filter(in_library=True).values_list("name", flat=True))
    for i, m in enumerate(doc.get("mailboxes", [])):
        where = f"mailboxes[{i}]"
        _require(isinstance(m, dict), where, "must be an object")
        _require(bool(m.get("label")), f"{where}.label", "is required")
        _require(_is_email(m.get("email")), f"{where}.email", "must be an email address")
        for protocol in ("imap", "smtp"):
            _validate_server(m.get(protocol, {}), f"{where}.{protocol}")
        if "history" in m:
            _validate_history(m["history"], f"{where}.history")
        for j, folder in enumerate(m.get("folders", [])):
            name = folder.get("name")
            _require(
                isinstance(name, str) and bool(name) and not any(c in name for c in "\r\n\0"),
                f"{where}.folders[{j}].name",
                "must be a folder name without line breaks",
            )
        kind = m.get("processor", {}).get("kind", "none")
        _require(kind in registered(), f"{where}.processor.kind", f"unknown processor {kind!r}")
        _require(isinstance(m.get("rules", []), list), f"{where}.rules", "must be a list")
        for j, rule in enumerate(m.get("rules", [])):
            validate_rule(rule, f"{where}.rules[{j}]", templates)


def _merged(existing: Mailbox | None, m: dict[str, Any]) -> dict[str, Any]:
    """``m`` laid over the mailbox's current configuration: a key the document leaves out
    keeps its value, so a document may name a mailbox only to add a rule to it."""
    if existing is None:
        return m
    current = _mailbox_document(existing)
    merged = {**current, **m}
    for section in ("imap", "smtp", "processor", "access", "history"):
        merged[section] = {**current[section], **m.get(section, {})}
    return merged


def _import_mailbox(m: dict[str, Any], where: str) -> None:
    existing = Mailbox.objects.filter(label=m["label"]).first()
    m = _merged(existing, m)
    processor = m.get("processor", {})
    kind, settings = processor.get("kind", "none"), processor.get("settings", {})
    # Checked here, not in _validate: the lead sources and channels of this very document
    # exist by now. Raising rolls the whole import back. A mailbox already converting to
    # Leads keeps it without an active Sales channel (its mail is then not converted).
    keeps_lead = existing is not None and existing.processor_kind == "lead"
    refusals = lead_choice_refusals(
        kind,
        settings,
        current_kind=existing.processor_kind if existing else None,
        current=(existing.processor_settings or {}) if existing else {},
    )
    if "kind" in refusals:
        raise ConfigurationInvalid(f"{where}.processor.kind: {refusals['kind']}")
    if "source" in refusals:
        raise ConfigurationInvalid(f"{where}.processor.settings.source: {refusals['source']}")
    errors = load_processor(kind).validate_settings(settings)
    for key, message in errors.items():
        if keeps_lead and kind == "lead" and key == "processor_kind":
            continue
        raise ConfigurationInvalid(f"{where}.processor.settings.{key}: {message}")
    imap, smtp, history = m.get("imap", {}), m.get("smtp", {}), m.get("history", {})
    mode = history.get("mode", HistoryMode.NONE)
    data = MailboxInput(
        label=m["label"],
        email=m["email"],
        account_type=m.get("account_type", "other"),
        imap_enabled=imap.get("enabled", True),
        imap_host=imap.get("host", ""),
        imap_port=int(imap.get("port", 993)),
        imap_encryption=imap.get("encryption", "ssl"),
        smtp_enabled=smtp.get("enabled", True),
        smtp_host=smtp.get("host", ""),
        smtp_port=int(smtp.get("port", 465)),
        smtp_encryption=smtp.get("encryption", "ssl"),
        username=m.get("username", ""),
        processor_kind=m.get("processor", {}).get("kind", "none"),
        processor_settings=m.get("processor", {}).get("settings", {}),
        history_mode=mode,
        history_days=history.get("days") if mode == HistoryMode.DAYS else None,
        history_convert=history.get("convert", False),
        language=normalise_tag(str(m.get("language") or "")) or "",
        aliases="\n".join(m.get("aliases", [])),
    )
    if existing is not None and existing.connection.has_password:
        # No password comes with a document, so the stored one would be kept: it must then
        # not go to another server or login (the mailbox form asks for it again instead).
        changed = changed_server_settings(existing, data)
        if changed:
            raise ConfigurationInvalid(
                f"{where}.{_PATHS[changed[0]]}: changes the server or login of a mailbox whose "
                "password is stored; an import carries no password, and the stored one is only "
                "sent to the server it was entered for. Make this change in the mailbox form, "
                "which asks for the password again."
            )
    mailbox = save_mailbox(data, password=None if existing else "", mailbox=existing)
    folders = m.get("folders", [])
    listed = {f["name"] for f in folders}
    # Folders the document does not list keep their selection.
    kept = mailbox.folders.filter(selected=True).exclude(name__in=listed)
    set_folders(
        mailbox,
        known=listed,
        selected=[f["name"] for f in folders if f.get("selected")]
        + list(kept.values_list("name", flat=True)),
    )
    access = m.get("access", {})
    set_access(
        mailbox,
        user_ids=get_user_model()
        .objects.filter(username__in=access.get("users", []))
        .values_list("pk", flat=True),
        group_ids=[
            Group.objects.get_or_create(name=name)[0].pk for name in access.get("roles", [])
        ],
    )
    # Checked once the access is set: an owner or assignee must be able to read the mailbox.
    # Raising rolls the whole import back.
    for key, message in load_processor(kind).reader_errors(settings, readers_of(mailbox)).items():
        raise ConfigurationInvalid(f"{where}.processor.settings.{key}: {message}")
    for rule_doc in m.get("rules", []):
        import_rule(mailbox, rule_doc)


@transaction.atomic
def import_configuration(doc: Any) -> None:
    """Create or update everything in ``doc``; raise :class:`ConfigurationInvalid` first if
    any part is wrong, so a bad document changes nothing."""
    _validate(doc)
    import_lead_sources([_lead_source(item) for item in doc.get("lead_sources", [])])
    for channel in doc.get("sales_channels", []):
        SalesChannel.objects.update_or_create(
            name=channel["name"], defaults={"active": channel.get("active", True)}
        )
    for t in doc.get("templates", []):
        import_template(t)
    for i, m in enumerate(doc.get("mailboxes", [])):
        _import_mailbox(m, f"mailboxes[{i}]")
