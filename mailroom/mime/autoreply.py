"""Loop safety: recognising automatic mail, and the only address an autoresponse may go to.

Pure functions over a ``ParsedMessage``, covering the rows of ``docs/autoresponder.md`` section
2.3 that the message alone decides (A02-A20, A30's X-Spam-Flag). Rate limits, own-address and
own-Message-ID checks need the database and live with the pipeline step that calls these.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from email.message import Message

from mailroom.mime.addresses import is_sendable, parse_address_list
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
# for noreply-style addresses, with or without +tags or suffixes. The list managers' own
# addresses are generalised rather than listed one product at a time: Mailman's
# list-admin/-owner/-bounces/-request, ezmlm's and Sympa's -help and owner- forms, and bounce
# addresses (VERP tags after + or =).
_ROBOT_LOCAL_PART = re.compile(
    r"(?:mailer-daemon|postmaster|listserv|majordomo|mailman|sympa|bounces?)(?:[+=].*)?"
    r"|owner-.+|.+-(?:request|admin|owner|bounces?|help)(?:[+=].*)?"
    r"|(?:no-?reply|do-?not-?reply)(?:[+._-].*)?",
    re.IGNORECASE,
)
# Headers that list managers stamp on what they distribute, beyond RFC 2369/2919's List-*:
# Mailman (X-Mailman-*, X-BeenThere), ezmlm (Mailing-List, X-Ezmlm-*), vger
# (X-Mailing-List), Sympa, Lyris, LISTSERV and others (X-Listserver, X-List-Server, X-List).
_LIST_MANAGER_HEADER = re.compile(
    r"x-mailman-.+|x-beenthere|(?:x-)?mailing-list|x-ezmlm-.+|x-sympa-.+|x-lyris-.+"
    r"|x-list(?:-?server|processor.*|member|-?id)?",
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
    managers = sorted(name for key, name in names.items() if _LIST_MANAGER_HEADER.fullmatch(key))
    if managers:
        return f"{managers[0]} header (a list manager)"
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
    # No Return-Path header at all is no sign of automatic mail: mail copied into a folder, or
    # served by an IMAP server that does not show it, lacks one too. It only leaves nowhere
    # to answer (reply_address, row A13); the message is still a person's, for a Lead or Case.
    if msg.return_path is None:
        return None
    if msg.return_path == "":
        return "null Return-Path"
    local = _local_part(msg.return_path).strip('"')
    if _ROBOT_LOCAL_PART.fullmatch(local):
        return f"Return-Path is {local}"
    return None


# An empty angle address: the null sender, which only a mail system writes (From: MAILER-DAEMON <>),
# looked for outside quoted display names.
_NULL_ADDRESS = re.compile(r"<\s*>")
_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')


def _robot_sender(msg: ParsedMessage) -> str | None:
    # The same robot names as for the Return-Path: a From of MAILER-DAEMON or no-reply is the
    # sender saying it is a machine (Odoo and RT check the From this way). So is a From of the
    # null sender <>, which bounces carry when the Return-Path that would say so is not shown.
    if any(_NULL_ADDRESS.search(_QUOTED.sub("", value)) for value in msg.header_all("From")):
        return "sender is the null address <>"
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
    (RFC 3834 section 3.1.5, row A31). A missing Return-Path is not one: such mail is not
    answered for want of an address (:func:`reply_address`), but it is not automatic.
    """
    for check in (_auto_submitted, _precedence, _marker_headers, _report, _robot_sender):
        reason = check(msg)
        if reason is not None:
            return reason
    return _return_path(msg)


def reply_address(msg: ParsedMessage, *, from_fallback: bool = False) -> str | None:
    """Return the one address an autoresponse may go to, or None when there is none.

    RFC 3834 section 4: the Return-Path, never Reply-To or Sender. A Return-Path of ``<>`` or
    one that is not a single plain ASCII local@domain means no answer.

    Without any Return-Path header (row A13) there is no answer either, unless the From
    fallback is on (``from_fallback``, ``MAILROOM_AUTORESPONSE_FROM_FALLBACK``): for
    servers that hide the Return-Path over IMAP, section 4 lets a service responder use From
    "provided this behavior is precisely defined". It is, in docs/autoresponse.md, and here:
    see :func:`from_fallback_refusal`.
    """
    if msg.return_path is not None:
        return msg.return_path if msg.return_path and is_sendable(msg.return_path) else None
    if not from_fallback or from_fallback_refusal(msg) is not None:
        return None
    return msg.from_[0].email


# RFC 2142 role mailboxes and the usual administrative ones: shared addresses read by teams or
# other ticket systems, which a From we cannot check against a Return-Path must not be.
_ROLE_LOCAL_PARTS = frozenset(
    {
        "abuse", "admin", "administrator", "billing", "ftp", "help", "helpdesk", "hostmaster",
        "info", "marketing", "news", "noc", "root", "sales", "security", "support", "usenet",
        "uucp", "webmaster", "www",
    }
)  # fmt: skip
# Top-level domains that never route on the public Internet (RFC 2606, RFC 6761, RFC 6762).
_UNROUTABLE_TLDS = frozenset({"invalid", "localhost", "local", "internal", "arpa", "home", "lan"})
_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")
_TLD = re.compile(r"[a-z]{2,63}|xn--[a-z0-9-]{1,59}")


def from_fallback_refusal(msg: ParsedMessage) -> str | None:
    """Why the From of a message without Return-Path may not be answered, or None if it may.

    The fallback's definition, every condition required:

    1. exactly one From field naming exactly one address (RFC 3834 section 3.1.3: one
       recipient; row A33);
    2. that address is a single plain ASCII local@domain;
    3. no Sender field, or one naming the same address (someone sending on another's behalf,
       a list or a mailing service, is not the author);
    4. no Reply-To naming another address (mail asking for answers elsewhere is bulk or
       phishing more often than not; and Reply-To is never answered, section 4);
    5. the local part is neither a robot's (MAILER-DAEMON, owner-, -request, noreply …) nor a
       role mailbox (RFC 2142: info, sales, support, abuse …), so that two shared mailboxes do
       not answer each other;
    6. the domain is plausible: at least two labels of letters, digits and hyphens, a
       top-level domain of letters (or an IDN ``xn--`` label), not one that never routes
       (``invalid``, ``localhost``, ``local`` …).
    """
    authors = [address.email for address in msg.from_]
    if len(msg.header_all("From")) != 1 or len(authors) != 1:
        return "not exactly one From address"
    author = authors[0]
    if not is_sendable(author):
        return "the From address is not a plain address"
    if msg.sender is not None and msg.sender.email.lower() != author.lower():
        return "a Sender other than the From"
    if any(address.email.lower() != author.lower() for address in msg.reply_to):
        return "a Reply-To other than the From"
    local, _, domain = author.rpartition("@")
    if _ROBOT_LOCAL_PART.fullmatch(local) or local.lower() in _ROLE_LOCAL_PARTS:
        return f"the From is a robot or role address ({local})"
    labels = domain.lower().split(".")
    if (
        len(labels) < 2
        or not all(_LABEL.fullmatch(label) for label in labels)
        or not _TLD.fullmatch(labels[-1])
        or labels[-1] in _UNROUTABLE_TLDS
    ):
        return f"the From domain {domain} is not plausible"
    return None


def stale_reason(
    *,
    arrived: datetime | None,
    dated: datetime | None,
    now: datetime,
    max_age: timedelta,
    skew: timedelta,
) -> str | None:
    """Why a message is too old to answer, or None: both its ages must be within ``max_age``.

    ``arrived`` is the server's arrival time (IMAP INTERNALDATE): it catches the backlog after
    an outage and the first sync of an old folder (row A40, F22). ``dated`` is the Date
    header, the sender's clock: it catches mail written long ago that arrives now (held in a
    queue, re-sent, migrated by IMAP APPEND, which sets a fresh arrival time). A thank-you
    days after someone wrote is confusing at best, so either age alone suppresses; the Date,
    set by a clock we do not control, gets ``skew`` of slack. A time in the future is never
    stale (a sender's clock running ahead is no reason to stay silent). A missing time is not
    judged. See docs/autoresponse.md.
    """
    hours = max_age.total_seconds() / 3600
    if arrived is not None and now - arrived > max_age:
        age = (now - arrived).total_seconds() / 3600
        return f"arrived {age:.0f} hours ago, over the {hours:.0f}-hour limit"
    if dated is not None and now - dated > max_age + skew:
        age = (now - dated).total_seconds() / 3600
        return f"dated {age:.0f} hours ago, over the {hours:.0f}-hour limit"
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
    if any(
        name.startswith("list-") or _LIST_MANAGER_HEADER.fullmatch(name) for name in names
    ) or any(_keyword(v) in ("list", "bulk") for v in msg.header_all("Precedence")):
        return LIST_MAIL
    return AUTOMATIC_MAIL


# The header fields that name a message's recipients (RFC 3834 §2).
RECIPIENT_FIELDS = ("To", "Cc", "Bcc", "Resent-To", "Resent-Cc", "Resent-Bcc")


def names_recipient(msg: ParsedMessage, addresses: set[str]) -> bool:
    """Whether a recipient field of ``msg`` names one of ``addresses`` (lower-case)."""
    found = [a.email for a in (*msg.to, *msg.cc)]
    for name in ("Bcc", "Resent-To", "Resent-Cc", "Resent-Bcc"):
        for value in msg.header_all(name):
            found.extend(a.email for a in parse_address_list(value, name, []))
    return any(email.strip().lower() in addresses for email in found)
