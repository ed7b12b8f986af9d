"""Loop safety: recognising automatic mail, and the only address an autoresponse may go to.

Pure functions over a ``ParsedMessage``, covering the rows of ``docs/autoresponder.md`` section
2.3 that the message alone decides (A02-A20, A30's X-Spam-Flag). Rate limits, own-address and
own-Message-ID checks need the database and live with the pipeline step that calls these.
"""

from __future__ import annotations

import re
from email.message import Message

from mailroom.mime.addresses import is_sendable
from mailroom.mime.parse import ParsedMessage

_COMMENT = re.compile(r"\([^()]*\)")
_SUPPRESSING_PRECEDENCE = frozenset({"bulk", "junk", "list", "auto_reply"})
# X-Auto-Response-Suppress is Microsoft's request not to answer (sisimai issue #491); these are
# the values that cover an autoresponder like ours.
_SUPPRESS_VALUES = frozenset({"all", "oof", "autoreply"})
_AUTORESPONDER_HEADERS = ("X-Autoreply", "X-Autorespond", "X-Autoresponder")
# X-Loop is the common marker; the others are what RT, OTRS/Znuny and mailroom itself stamp on
# their mail, so two ticket systems never answer each other.
_LOOP_HEADERS = ("X-Mailroom-Loop", "X-Loop", "X-RT-Loop-Prevention", "X-OTRS-Loop")
# Reports are machine-written by definition (RFC 6522); the second list catches reports whose
# multipart/report wrapper a relay mangled, through the report part itself.
_REPORT_NAMES = {
    "delivery-status": "delivery status report",
    "disposition-notification": "disposition notification",
}
_REPORT_PARTS = frozenset(
    {
        "message/delivery-status",
        "message/global-delivery-status",
        "message/disposition-notification",
        "message/global-disposition-notification",
        "message/feedback-report",
    }
)
# Return addresses of robots (RFC 3834 section 2, RFC 5230 section 4.6), and the house rule
# for noreply-style addresses, with or without +tags or suffixes.
_ROBOT_LOCAL_PART = re.compile(
    r"(?:mailer-daemon|postmaster|listserv|majordomo)(?:\+.*)?|owner-.+|.+-request"
    r"|(?:no-?reply|do-?not-?reply)(?:[+._-].*)?",
    re.IGNORECASE,
)
# Senders that only ever send reports, and whose reports carry no standard marker: Microsoft's
# Junk Mail Reporting Program (JMRP) sends plain multipart/mixed complaints from this address,
# the reported message attached with an X-HmXmrOriginalRecipient header.
_REPORT_SENDERS = {"staff@hotmail.com": "Microsoft JMRP complaint"}


def _keyword(value: str) -> str:
    """Return the first word of a header value, lower-case, without comments or parameters."""
    while "(" in value:
        stripped = _COMMENT.sub(" ", value)
        if stripped == value:
            break
        value = stripped
    return value.split(";", 1)[0].strip().lower()


def _auto_submitted(msg: ParsedMessage) -> str | None:
    # RFC 3834: any value other than "no" means automatic; every field counts (A07), and an
    # empty or unreadable one counts as automatic too (A05).
    for value in msg.header_all("Auto-Submitted"):
        if _keyword(value) != "no":
            return f"Auto-Submitted: {_keyword(value) or '(empty)'}"
    return None


def _precedence(msg: ParsedMessage) -> str | None:
    for header in ("Precedence", "X-Precedence"):
        for value in msg.header_all(header):
            if _keyword(value) in _SUPPRESSING_PRECEDENCE:
                return f"{header}: {_keyword(value)}"
    return None


def _marker_headers(msg: ParsedMessage) -> str | None:
    names = {name.lower(): name for name, _value in msg.headers}
    list_headers = sorted(name for key, name in names.items() if key.startswith("list-"))
    if list_headers:
        return f"{list_headers[0]} header"
    for header in (*_LOOP_HEADERS, *_AUTORESPONDER_HEADERS):
        if header.lower() in names:
            return f"{header} header"
    for value in msg.header_all("X-Auto-Response-Suppress"):
        tokens = set(re.split(r"[\s,;]+", value.lower()))
        if tokens & _SUPPRESS_VALUES:
            return f"X-Auto-Response-Suppress: {value}"
    if any(value.strip().lower() == "yes" for value in msg.header_all("X-Spam-Flag")):
        return "X-Spam-Flag: YES"
    # iCloud vacation replies carry no Auto-Submitted, only Apple's own header.
    if any("vacation" in value.lower() for value in msg.header_all("X-Apple-Action")):
        return "X-Apple-Action: VACATION"
    return None


def _report(msg: ParsedMessage) -> str | None:
    content_type = msg.header("Content-Type")
    if content_type is not None:
        parsed = Message()
        parsed["Content-Type"] = content_type
        if parsed.get_content_type() == "multipart/report":
            report_type = str(parsed.get_param("report-type") or "").lower()
            return _REPORT_NAMES.get(report_type, f"report ({report_type or 'no type'})")
    for attachment in msg.attachments:
        if attachment.content_type in _REPORT_PARTS:
            return f"{attachment.content_type} part"
    return None


def _local_part(address: str) -> str:
    return address.rpartition("@")[0] if "@" in address else address


def _return_path(msg: ParsedMessage) -> str | None:
    if msg.return_path is None:
        return "no Return-Path"
    if msg.return_path == "":
        return "null Return-Path"
    local = _local_part(msg.return_path).strip('"')
    if _ROBOT_LOCAL_PART.fullmatch(local):
        return f"Return-Path is {local}"
    return None


def _robot_sender(msg: ParsedMessage) -> str | None:
    # The same robot names as for the Return-Path: a From of MAILER-DAEMON or no-reply is the
    # sender saying it is a machine (Odoo and RT check the From this way).
    for address in msg.from_:
        if address.email.lower() in _REPORT_SENDERS:
            return f"sender is {_REPORT_SENDERS[address.email.lower()]}"
        local = _local_part(address.email).strip('"')
        if _ROBOT_LOCAL_PART.fullmatch(local):
            return (
                "sender is MAILER-DAEMON"
                if local.lower() == "mailer-daemon"
                else f"sender is {local}"
            )
    return None


def automated_reason(msg: ParsedMessage) -> str | None:
    """Return why msg is automatic mail that must never be answered, or None if it may be.

    The checks are header facts only; a Subject starting "Auto:" is deliberately not one
    (RFC 3834 section 3.1.5, row A31).
    """
    for check in (_auto_submitted, _precedence, _marker_headers, _report, _robot_sender):
        reason = check(msg)
        if reason is not None:
            return reason
    return _return_path(msg)


def reply_address(msg: ParsedMessage) -> str | None:
    """Return the one address an autoresponse may go to: the Return-Path, or None.

    RFC 3834 section 4: never From, Reply-To or Sender, even when the Return-Path is missing or
    null. The address must be a single plain ASCII local@domain that a reply can be sent to.
    """
    if msg.return_path and is_sendable(msg.return_path):
        return msg.return_path
    return None


# What a conversation is marked with when automatic mail joins or starts it.
DELIVERY_FAILED = "delivery failed"
OUT_OF_OFFICE = "out of office"
ABUSE_REPORT = "abuse report"
READ_RECEIPT = "read receipt"
LIST_MAIL = "list mail"
AUTOMATIC_MAIL = "automatic mail"

_BOUNCE_SENDERS = re.compile(r"mailer-daemon|postmaster", re.IGNORECASE)
_OUT_OF_OFFICE_SUBJECT = re.compile(
    r"^\s*(out of (the )?office|automatic reply|auto(matic)?[- ]?reply|autoreply|"
    r"abwesenheitsnotiz|absence|r[ée]ponse automatique|respuesta autom[áa]tica)",
    re.IGNORECASE,
)


def automated_kind(msg: ParsedMessage) -> str:
    """What kind of automatic mail ``msg`` is (call it only when :func:`automated_reason`
    found it automatic): one of the constants above."""
    report = (_report(msg) or "").lower()
    if "feedback-report" in report or "feedback report" in report:
        return ABUSE_REPORT
    if any(a.email.lower() in _REPORT_SENDERS for a in msg.from_):
        return ABUSE_REPORT
    if "delivery" in report:
        return DELIVERY_FAILED
    if "disposition" in report:
        return READ_RECEIPT
    if report:
        return AUTOMATIC_MAIL
    if any(_BOUNCE_SENDERS.fullmatch(_local_part(a.email).strip('"')) for a in msg.from_):
        return DELIVERY_FAILED
    auto_submitted = {_keyword(value) for value in msg.header_all("Auto-Submitted")}
    names = {name.lower() for name, _value in msg.headers}
    if (
        "auto-replied" in auto_submitted
        or any(header.lower() in names for header in _AUTORESPONDER_HEADERS)
        or any("vacation" in v.lower() for v in msg.header_all("X-Apple-Action"))
        or any(_keyword(v) == "auto_reply" for v in msg.header_all("Precedence"))
        or _OUT_OF_OFFICE_SUBJECT.match(msg.subject)
    ):
        return OUT_OF_OFFICE
    if any(name.startswith("list-") for name in names) or any(
        _keyword(v) in ("list", "bulk") for v in msg.header_all("Precedence")
    ):
        return LIST_MAIL
    return AUTOMATIC_MAIL
