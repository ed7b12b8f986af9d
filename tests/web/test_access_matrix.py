"""The access matrix (threats.md S14): three people against every URL of the product, GET and POST.

- an administrator reaches every page;
- a reader, through a role, of mailbox Alpha reaches Alpha's pages and gets 404 for everything
  of mailbox Bravo, which she never sees a subject of;
- an outsider who may read no mailbox gets 404 for every mailbox's page, every message, raw
  file, attachment, reply, Lead, Case, Contact, rule and answer, 404 for every administrator's
  page, and sees no subject anywhere.

The URLs are read from the URL map itself, so a page added later is in the matrix the day it is
added: a path parameter the matrix does not know, or a page without parameters that is not
classified below, fails the test until it is.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from mailroom.alerts import raise_alert
from mailroom.mailboxes.actions import MailboxInput, save_mailbox, set_access, set_folders
from mailroom.models import (
    AutoResponseRule,
    Case,
    EmailTemplate,
    Lead,
    LeadSource,
    Mailbox,
    Message,
    OutboxMessage,
    RuleCondition,
    SalesChannel,
)
from mailroom.pipeline.engine import process_message
from tests.storing import store_one

pytestmark = pytest.mark.django_db

# Pages anyone signed in may open: they list only what the person may read.
OPEN = {"mailbox-list", "case-list", "lead-list"}
# Pages without an object in their path that only administrators may open.
ADMIN_ONLY = {
    "mailbox-create",
    "template-list",
    "template-create",
    "template-preview",
    "lead-sources",
    "sales-channels",
    "people",
    "person-create",
    "role-list",
    "health",
    "connection-checks",
}
# Where a page's parameter must name a particular object of the mailbox: inline images are
# served only for an image part.
OBJECT_FOR = {"message-inline": {"attachment_id": "inline_id"}}
# Not pages of the product's data: signing in and out, and the monitors' endpoints.
PUBLIC = {"login", "logout", "healthz", "metrics"}
# Path parameters naming objects every administrator manages, not bound to a mailbox.
GLOBAL_PARAMETERS = {"template_id", "source_id", "channel_id", "user_id", "role_id"}
# Path parameters naming a mailbox or something of one.
MAILBOX_PARAMETERS = {
    "mailbox_id", "message_id", "attachment_id", "inline_id", "case_id", "lead_id",
    "contact_id", "conversation_id", "rule_id", "answer_id", "reply_id", "outbox_id", "alert_id",
}  # fmt: skip


def _raw(subject: str, to: str, n: int) -> bytes:
    boundary = f"b{secrets.token_hex(4)}"
    # Each mailbox's own sender, so that its Contact is the mailbox's alone.
    sender = f"ann{n}@{to.split('@')[0]}.customer.test"
    return (
        f"Return-Path: <{sender}>\r\n"
        f"From: Ann Customer <{sender}>\r\nTo: {to}\r\n"
        f"Subject: {subject}\r\nMessage-ID: <m{n}-{secrets.token_hex(4)}@customer.test>\r\n"
        f"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary={boundary}\r\n\r\n"
        f"--{boundary}\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        f'<p>{subject}</p><img src="cid:logo{n}@x">\r\n'
        f"--{boundary}\r\nContent-Type: image/png\r\nContent-ID: <logo{n}@x>\r\n"
        f"Content-Disposition: inline; filename=logo.png\r\n"
        f"Content-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n"
        f"--{boundary}\r\nContent-Type: application/pdf\r\n"
        f'Content-Disposition: attachment; filename="invoice.pdf"\r\n\r\n%PDF-1.4\r\n'
        f"--{boundary}--\r\n"
    ).encode()


@dataclass
class Objects:
    """The ids of one mailbox's objects, by the URL parameter that names them."""

    subject: str
    ids: dict[str, int]


def _mailbox_with_everything(label: str, template: EmailTemplate) -> Objects:
    subject = f"{label} secret {secrets.token_hex(6)}"
    address = f"{label.lower()}@example.test"
    box = save_mailbox(
        MailboxInput(label=label, email=address, processor_kind="case"), password="pw"
    )
    set_folders(box, known=["INBOX"], selected=["INBOX"])
    folder = box.folders.get()
    first = store_one(folder, 1, _raw(subject, address, 1))
    second = store_one(folder, 2, _raw(subject, address, 2))
    assert first is not None and second is not None
    process_message(first.pk)
    first.refresh_from_db()
    case = Case.objects.get(message=first)
    lead = Lead.objects.create(
        name="Ann", email="ann2@customer.test", topic=subject, message=second
    )
    rule = AutoResponseRule.objects.create(mailbox=box, name=f"{label} rule", template=template)
    RuleCondition.objects.create(rule=rule, field="subject", operator="contains", value="x")
    answer = OutboxMessage.objects.create(
        mailbox=box,
        in_reply_to=first,
        rule=rule,
        message_id=f"<a-{secrets.token_hex(6)}@example.test>",
        to_email="ann1@customer.test",
        subject=f"Re: {subject}",
        raw=b"Subject: answer\r\n\r\nthanks\r\n",
    )
    reply = OutboxMessage.objects.create(
        mailbox=box,
        in_reply_to=first,
        author=User.objects.filter(is_staff=True).first(),
        message_id=f"<r-{secrets.token_hex(6)}@example.test>",
        to_email="ann1@customer.test",
        subject=f"Re: {subject}",
        raw=b"Subject: reply\r\n\r\nhello\r\n",
        state="failed",
    )
    raise_alert(box.pk, "auth", f"{label}: the IMAP server refused the login.")
    attachments = {a.content_type: a.pk for a in first.attachments.all()}
    assert first.contact_id is not None and first.conversation_id is not None
    objects = Objects(
        subject=subject,
        ids={
            "mailbox_id": box.pk,
            "message_id": first.pk,
            "attachment_id": attachments["application/pdf"],
            "inline_id": attachments["image/png"],
            "case_id": case.pk,
            "lead_id": lead.pk,
            "contact_id": first.contact_id,
            "conversation_id": first.conversation_id,
            "rule_id": rule.pk,
            "answer_id": answer.pk,
            "reply_id": reply.pk,
            "outbox_id": reply.pk,
            "alert_id": box.alerts.get().pk,
        },
    )
    assert set(objects.ids) == MAILBOX_PARAMETERS
    return objects


@dataclass
class World:
    alpha: Objects
    bravo: Objects
    globals: dict[str, int]
    admin: User
    reader: User
    outsider: User


@pytest.fixture
def world() -> World:
    admin = User.objects.create_user("admin", password="x", is_staff=True)
    reader = User.objects.create_user("reader", password="x")
    outsider = User.objects.create_user("outsider", password="x")
    template = EmailTemplate.objects.create(name="Thanks", default_language="en")
    alpha = _mailbox_with_everything("Alpha", template)
    bravo = _mailbox_with_everything("Bravo", template)
    role = Group.objects.create(name="Alpha agents")
    reader.groups.add(role)
    set_access(Mailbox.objects.get(pk=alpha.ids["mailbox_id"]), user_ids=[], group_ids=[role.pk])
    source = LeadSource.objects.first() or LeadSource.objects.create(name="Email")
    channel = SalesChannel.objects.create(name="Web", active=True)
    return World(
        alpha=alpha,
        bravo=bravo,
        globals={
            "template_id": template.pk,
            "source_id": source.pk,
            "channel_id": channel.pk,
            "user_id": outsider.pk,
            "role_id": role.pk,
        },
        admin=admin,
        reader=reader,
        outsider=outsider,
    )


@dataclass
class Route:
    name: str
    pattern: str
    parameters: list[str]


def _routes() -> Iterator[Route]:
    """Every named URL of the product (the Django admin aside), with its path parameters."""

    def walk(patterns: list[URLPattern | URLResolver], prefix: str) -> Iterator[Route]:
        for entry in patterns:
            if isinstance(entry, URLResolver):
                if entry.app_name == "admin":
                    continue
                yield from walk(entry.url_patterns, prefix + str(entry.pattern))
            elif entry.name:
                yield Route(
                    entry.name,
                    prefix + str(entry.pattern),
                    list(entry.pattern.converters),
                )

    yield from walk(get_resolver().url_patterns, "")


def _path(route: Route, values: dict[str, int]) -> str:
    path = route.pattern
    values = {**values, **{p: values[o] for p, o in OBJECT_FOR.get(route.name, {}).items()}}
    for parameter in route.parameters:
        converter = next(
            part for part in path.split("<")[1:] if part.split(">")[0].endswith(parameter)
        )
        path = path.replace("<" + converter.split(">")[0] + ">", str(values[parameter]))
    return "/" + path


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _mailbox_bound(route: Route) -> bool:
    return any(p not in GLOBAL_PARAMETERS for p in route.parameters)


def test_every_page_of_the_product_is_in_the_matrix() -> None:
    unknown = []
    for route in _routes():
        if route.name in PUBLIC:
            continue
        if not route.parameters and route.name not in OPEN | ADMIN_ONLY:
            unknown.append(f"{route.name}: a page without parameters, neither OPEN nor ADMIN_ONLY")
        unknown += [
            f"{route.name}: parameter {p}"
            for p in route.parameters
            if p not in GLOBAL_PARAMETERS | MAILBOX_PARAMETERS
        ]
    assert not unknown, "classify these in the access matrix:\n" + "\n".join(unknown)


def _values(objects: Objects, world: World) -> dict[str, int]:
    return {**objects.ids, **world.globals}


def _text(response: object) -> str:
    content = getattr(response, "content", b"")
    if getattr(response, "streaming", False):
        content = b"".join(response.streaming_content)  # type: ignore[attr-defined]
    return bytes(content).decode("utf-8", "replace")


def test_an_outsider_gets_404_for_every_page_of_every_mailbox_and_sees_no_subject(
    world: World,
) -> None:
    client = _client(world.outsider)
    wrong = []
    for route in _routes():
        if route.name in PUBLIC:
            continue
        for objects in (world.alpha, world.bravo):
            path = _path(route, _values(objects, world))
            for method in ("get", "post"):
                response = getattr(client, method)(path)
                text = _text(response)
                # A list page answers a POST as a GET (it changes nothing).
                expected = (200,) if route.name in OPEN else (404, 405)
                if response.status_code not in expected:
                    wrong.append(f"{method.upper()} {path} ({route.name}): {response.status_code}")
                for secret in (world.alpha.subject, world.bravo.subject):
                    if secret in text:
                        wrong.append(f"{method.upper()} {path} ({route.name}) shows a subject")
    assert not wrong, "\n".join(wrong)


def test_a_reader_through_a_role_sees_only_her_mailbox(world: World) -> None:
    client = _client(world.reader)
    wrong = []
    for route in _routes():
        if route.name in PUBLIC:
            continue
        # Everything of Bravo, and every administrator's page, does not exist for her.
        path = _path(route, _values(world.bravo, world))
        for method in ("get", "post"):
            response = getattr(client, method)(path)
            expected = (200,) if route.name in OPEN else (404, 405)
            if response.status_code not in expected:
                wrong.append(f"{method.upper()} {path} ({route.name}): {response.status_code}")
            if world.bravo.subject in _text(response):
                wrong.append(f"{method.upper()} {path} ({route.name}) shows Bravo's subject")
        # Alpha's pages that are read (not managed) are hers.
        if _mailbox_bound(route) or route.name in OPEN:
            path = _path(route, _values(world.alpha, world))
            response = client.get(path)
            if response.status_code >= 500:
                wrong.append(f"GET {path} ({route.name}): {response.status_code}")
            if world.bravo.subject in _text(response):
                wrong.append(f"GET {path} ({route.name}) shows Bravo's subject")
    assert not wrong, "\n".join(wrong)
    alpha = world.alpha.ids
    for path in (
        f"/mailboxes/{alpha['mailbox_id']}/",
        f"/messages/{alpha['message_id']}/",
        f"/cases/{alpha['case_id']}/",
        f"/leads/{alpha['lead_id']}/",
        f"/contacts/{alpha['contact_id']}/",
    ):
        response = client.get(path)
        assert response.status_code == 200, path
    assert world.alpha.subject in _text(client.get(f"/messages/{alpha['message_id']}/"))
    listing = _text(client.get("/cases/"))
    assert world.alpha.subject in listing and world.bravo.subject not in listing


def test_an_administrator_reaches_every_page(world: World) -> None:
    client = _client(world.admin)
    wrong = []
    for route in _routes():
        if route.name in PUBLIC:
            continue
        path = _path(route, _values(world.bravo, world))
        response = client.get(path)
        if response.status_code == 404 or response.status_code >= 500:
            wrong.append(f"GET {path} ({route.name}): {response.status_code}")
        # Every page, and every file handed out, carries a policy: the page policy
        # (mailroom.web.page_policy), or a stricter one of its own (the mail frame, downloads).
        policy = response.get("Content-Security-Policy", "")
        if response.status_code == 200 and "default-src" not in policy:
            wrong.append(f"GET {path} ({route.name}): no Content-Security-Policy")
        if response.get("Content-Type", "").startswith("text/html") and "script-src" not in policy:
            wrong.append(f"GET {path} ({route.name}): a page that may run any script")
    assert not wrong, "\n".join(wrong)


def _state() -> dict[str, object]:
    """What a POST could change: counts, and the fields people change on records and users."""
    return {
        "mailboxes": Mailbox.objects.count(),
        "messages": Message.objects.count(),
        "rules": AutoResponseRule.objects.count(),
        "outbox": OutboxMessage.objects.count(),
        "cases": list(Case.objects.values_list("pk", "status", "assignee_id").order_by("pk")),
        "leads": list(Lead.objects.values_list("pk", "status", "owner_id").order_by("pk")),
        "users": list(User.objects.values_list("pk", "is_active", "password").order_by("pk")),
        "templates": EmailTemplate.objects.count(),
    }


def test_posts_of_people_without_access_change_nothing(world: World) -> None:
    before = _state()
    for user in (world.reader, world.outsider):
        client = _client(user)
        for route in _routes():
            if route.name in PUBLIC or route.name in OPEN:
                continue
            path = _path(route, _values(world.bravo, world))
            client.post(path, {"status": "closed", "confirm": "yes", "name": "x", "to": "a@b.c"})
    assert _state() == before


def test_every_post_without_its_csrf_token_is_refused_and_changes_nothing(world: World) -> None:
    # threats.md S15: an administrator's browser tricked into posting from another site (no
    # token) changes nothing, on every page of the product, the login and logout included.
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.admin)
    before = _state()
    accepted = []
    for route in _routes():
        path = _path(route, _values(world.bravo, world))
        response = client.post(
            path, {"status": "closed", "confirm": "yes", "name": "x", "to": "a@b.c"}
        )
        if response.status_code != 403:
            accepted.append(f"POST {path} ({route.name}): {response.status_code}")
    assert not accepted, "\n".join(accepted)
    assert _state() == before
