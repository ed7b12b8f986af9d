"""Reading any email safely: the HTML body's frame page and its headers, remote content held
back until asked for, ``cid:`` images from the message's own parts (raster images only), the
raw ``.eml``, 404 on every endpoint for whoever may not read the mailbox, and every message of
the real-world corpus viewable (threats.md S01-S03, S11, S14)."""

from __future__ import annotations

import re
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.test import Client

from mailroom.mailboxes.actions import set_access
from mailroom.models import Attachment, Mailbox, Message
from mailroom.rendering.mail_view import clean_mail_html
from tests.pipeline.helpers import mailbox as make_mailbox
from tests.pipeline.helpers import stored
from tests.storing import store_one

pytestmark = pytest.mark.django_db

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "mixed"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 2
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>parent.__xss=1</script></svg>'
HTML_AS_PNG = b"<html><script>parent.__xss=1</script></html>"
REMOTE = "http://tracker.example.test"


def _mail(
    html: str | None,
    *,
    text: str | None = "Plain words.",
    images: tuple[tuple[str, bytes, str, str], ...] = (),
    subject: str = "Newsletter",
    sender: str = "News <news@shop.test>",
) -> bytes:
    """A mail with a text and/or an HTML part and inline images (cid, bytes, type, name)."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "support@example.test"
    message["Subject"] = subject
    message["Message-ID"] = "<news-1@shop.test>"
    message["Date"] = "Wed, 02 Dec 2026 09:00:00 +0000"
    if text is not None:
        message.set_content(text)
    if html is not None:
        if text is None:
            message.set_content(html, subtype="html")
        else:
            message.add_alternative(html, subtype="html")
    html_part = message.get_body(("html",)) if html is not None else None
    for cid, data, content_type, name in images:
        assert html_part is not None
        maintype, subtype = content_type.split("/")
        html_part.add_related(data, maintype, subtype, cid=f"<{cid}>", filename=name)
    return message.as_bytes(policy=SMTP)


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def mailbox() -> Mailbox:
    return make_mailbox()


@pytest.fixture
def member(mailbox: Mailbox) -> Client:
    user = User.objects.create_user("bob", password="x")
    set_access(mailbox, user_ids=[user.pk], group_ids=[])
    return _client(user)


@pytest.fixture
def stranger() -> Client:
    return _client(User.objects.create_user("charlie", password="x"))


NEWSLETTER = f"""<html><head><style>@import url({REMOTE}/a.css);
p {{ color: #333; background: url({REMOTE}/bg.png) }}</style></head>
<body><p>Hello <b>there</b></p>
<img src="{REMOTE}/pixel.gif" width="1" height="1" onerror="parent.__xss=1">
<img src="cid:logo@shop.test" alt="logo">
<a href="https://shop.test/offer">Offer</a> <a href="javascript:parent.__xss=1">Click</a>
<script>parent.__xss = 1</script></body></html>"""


@pytest.fixture
def newsletter(mailbox: Mailbox) -> Message:
    return stored(
        mailbox, _mail(NEWSLETTER, images=(("logo@shop.test", PNG, "image/png", "logo.png"),))
    )


def test_the_body_is_served_for_a_sandboxed_frame_under_a_strict_policy(
    member: Client, newsletter: Message
) -> None:
    response = member.get(f"/messages/{newsletter.pk}/body/")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=utf-8"
    policy = [d.strip() for d in response["Content-Security-Policy"].split(";")]
    assert "default-src 'none'" in policy
    assert "script-src 'none'" in policy
    assert "img-src 'self'" in policy
    assert "style-src 'unsafe-inline'" in policy
    assert "frame-ancestors 'self'" in policy
    assert "form-action 'none'" in policy
    assert "base-uri 'none'" in policy
    sandbox = next(d for d in policy if d.startswith("sandbox"))
    assert "allow-scripts" not in sandbox
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in response["Cache-Control"]
    assert response["X-Frame-Options"] == "SAMEORIGIN"
    assert response["Referrer-Policy"] == "no-referrer"


def test_the_body_is_cleaned_when_shown_and_the_stored_html_stays_as_it_came(
    member: Client, newsletter: Message
) -> None:
    body = member.get(f"/messages/{newsletter.pk}/body/").content.decode()

    assert "<b>there</b>" in body
    assert "<script" not in body
    assert "onerror" not in body
    assert "javascript:" not in body
    assert "@import" not in body
    assert REMOTE not in body
    assert '<a href="https://shop.test/offer" target="_blank" rel="noopener noreferrer">' in body
    newsletter.refresh_from_db()
    assert "<script>parent.__xss = 1</script>" in newsletter.html_body
    assert f'src="{REMOTE}/pixel.gif"' in newsletter.html_body


def test_remote_content_is_shown_only_when_the_reader_asks(
    member: Client, newsletter: Message
) -> None:
    page = member.get(f"/messages/{newsletter.pk}/").content.decode()
    assert 'id="remote-bar"' in page
    assert "Remote content is blocked" in page
    assert 'href="?view=html&amp;remote=1">Show remote content</a>' in page
    assert f'src="/messages/{newsletter.pk}/body/"' in page

    allowed = member.get(f"/messages/{newsletter.pk}/?view=html&remote=1").content.decode()
    assert 'id="remote-bar"' not in allowed
    assert f'src="/messages/{newsletter.pk}/body/?remote=1"' in allowed

    response = member.get(f"/messages/{newsletter.pk}/body/?remote=1")
    body = response.content.decode()
    assert f'<img src="{REMOTE}/pixel.gif"' in body
    assert f'url("{REMOTE}/bg.png")' in body
    policy = response["Content-Security-Policy"]
    assert "img-src 'self' http: https:" in policy
    assert "script-src 'none'" in policy
    # Even allowed, an import stays out: remote content means images and backgrounds.
    assert "@import" not in body
    assert "<script" not in body


@pytest.mark.parametrize(
    "html",
    [
        f'<div style="background:&#117;rl({REMOTE}/a.png)">x</div>',
        f'<div style="background:url&lpar;{REMOTE}/a.png)">x</div>',
        f"<style>p {{ background: \\75rl({REMOTE}/a.png) }}</style><p>x</p>",
        f"<style>@\\69mport '{REMOTE}/a.css';</style><p>x</p>",
    ],
    ids=["decimal-reference", "named-reference", "css-escape", "escaped-import"],
)
def test_hidden_remote_references_are_blocked_and_offered(
    mailbox: Mailbox, member: Client, html: str
) -> None:
    message = stored(mailbox, _mail(html, text=None))
    assert 'id="remote-bar"' in member.get(f"/messages/{message.pk}/").content.decode()
    assert REMOTE not in member.get(f"/messages/{message.pk}/body/").content.decode()


def test_a_message_without_remote_content_has_no_bar(mailbox: Mailbox, member: Client) -> None:
    message = stored(mailbox, _mail("<p>Just <i>words</i></p>", text=None))
    page = member.get(f"/messages/{message.pk}/").content.decode()
    assert 'id="message-frame"' in page
    assert 'id="remote-bar"' not in page


def test_the_frame_is_sandboxed_without_scripts(member: Client, newsletter: Message) -> None:
    page = member.get(f"/messages/{newsletter.pk}/").content.decode()
    frame = re.search(r"<iframe[^>]*>", page, re.DOTALL)
    assert frame is not None
    sandbox = re.search(r'sandbox="([^"]*)"', frame.group(0))
    assert sandbox is not None
    assert "allow-scripts" not in sandbox.group(1).split()
    assert "allow-top-navigation" not in sandbox.group(1)
    # No inline script on the page: its scripts are static files.
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page, re.DOTALL)
    assert ' src="/static/mailroom/message.js" defer' in [attrs for attrs, _ in scripts]
    assert all(' src="/static/' in attrs and not code.strip() for attrs, code in scripts)


def test_cid_images_point_at_the_inline_endpoint_which_serves_the_exact_bytes(
    member: Client, newsletter: Message
) -> None:
    logo = Attachment.objects.get(message=newsletter, content_id="logo@shop.test")
    body = member.get(f"/messages/{newsletter.pk}/body/").content.decode()
    url = f"/messages/{newsletter.pk}/inline/{logo.pk}/"
    assert f'<img src="{url}" alt="logo">' in body

    response = member.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response.content == PNG
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"].startswith("sandbox")


@pytest.mark.parametrize(
    ("data", "content_type"),
    [(SVG, "image/svg+xml"), (HTML_AS_PNG, "image/png"), (b"GIF8", "image/gif")],
    ids=["svg", "html-named-png", "truncated-gif"],
)
def test_only_raster_images_are_served_inline(
    mailbox: Mailbox, member: Client, data: bytes, content_type: str
) -> None:
    message = stored(
        mailbox,
        _mail('<img src="cid:pic@x.test">', images=(("pic@x.test", data, content_type, "pic"),)),
    )
    pic = Attachment.objects.get(message=message, content_id="pic@x.test")

    refused = member.get(f"/messages/{message.pk}/inline/{pic.pk}/")
    assert refused.status_code == 404
    assert refused["Content-Type"] == "text/plain; charset=utf-8"
    assert data not in refused.content
    # It is still there to download, as a file the browser only saves.
    download = member.get(f"/attachments/{pic.pk}/")
    assert download.status_code == 200
    assert download.content == data
    assert download["Content-Disposition"].startswith("attachment;")
    assert download["Content-Type"] == "application/octet-stream"


def test_an_image_of_another_message_is_not_inline_in_this_one(
    mailbox: Mailbox, member: Client, newsletter: Message
) -> None:
    other = stored(mailbox, _mail("<p>other</p>"))
    logo = Attachment.objects.get(message=newsletter, content_id="logo@shop.test")
    assert member.get(f"/messages/{other.pk}/inline/{logo.pk}/").status_code == 404


def test_an_unknown_cid_is_dropped(mailbox: Mailbox, member: Client) -> None:
    message = stored(mailbox, _mail('<img src="cid:nothing@x.test" alt="gone">'))
    body = member.get(f"/messages/{message.pk}/body/").content.decode()
    assert '<img alt="gone">' in body
    assert "cid:" not in body


def test_the_raw_eml_is_the_stored_bytes_as_a_download(member: Client, newsletter: Message) -> None:
    response = member.get(f"/messages/{newsletter.pk}/raw/")

    assert response.status_code == 200
    assert response.content == newsletter.read_raw()
    assert response["Content-Type"] == "message/rfc822"
    assert response["Content-Disposition"] == (
        "attachment; filename=\"Newsletter.eml\"; filename*=UTF-8''Newsletter.eml"
    )
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"].startswith("sandbox")
    page = member.get(f"/messages/{newsletter.pk}/").content.decode()
    assert f'href="/messages/{newsletter.pk}/raw/"' in page


def test_a_hostile_subject_names_a_safe_eml_file(mailbox: Mailbox, member: Client) -> None:
    message = stored(mailbox, _mail(None, subject='../"evil"\u202e<script>.html'))
    disposition = member.get(f"/messages/{message.pk}/raw/")["Content-Disposition"]
    assert disposition.startswith('attachment; filename="')
    assert "\u202e" not in disposition
    assert "/" not in disposition.split("filename*=")[0]
    assert disposition.endswith(".eml")


def test_every_endpoint_is_404_for_a_user_without_the_mailbox(
    stranger: Client, newsletter: Message
) -> None:
    logo = Attachment.objects.get(message=newsletter, content_id="logo@shop.test")
    for url in (
        f"/messages/{newsletter.pk}/",
        f"/messages/{newsletter.pk}/body/",
        f"/messages/{newsletter.pk}/body/?remote=1",
        f"/messages/{newsletter.pk}/inline/{logo.pk}/",
        f"/messages/{newsletter.pk}/raw/",
    ):
        response = stranger.get(url)
        assert response.status_code == 404, url
        assert b"Newsletter" not in response.content


def test_every_endpoint_asks_an_anonymous_visitor_to_log_in(newsletter: Message) -> None:
    for url in (f"/messages/{newsletter.pk}/body/", f"/messages/{newsletter.pk}/raw/"):
        response = Client().get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/login/")


def test_html_is_shown_by_default_and_text_on_request(member: Client, newsletter: Message) -> None:
    page = member.get(f"/messages/{newsletter.pk}/").content.decode()
    assert 'id="message-frame"' in page
    assert 'id="text-body"' not in page
    assert 'id="show-text" href="?view=text"' in page

    text = member.get(f"/messages/{newsletter.pk}/?view=text").content.decode()
    assert 'id="message-frame"' not in text
    assert '<pre class="body" id="text-body">Plain words.' in text
    assert 'id="show-html"' in text


def test_a_text_only_message_shows_its_text(mailbox: Mailbox, member: Client) -> None:
    message = stored(mailbox, _mail(None, text="Only <text> here."))
    page = member.get(f"/messages/{message.pk}/").content.decode()
    assert "Only &lt;text&gt; here." in page
    assert 'id="message-frame"' not in page
    assert 'id="show-html"' not in page


def test_web_addresses_in_the_text_are_links_and_nothing_else_is_markup(
    mailbox: Mailbox, member: Client
) -> None:
    text = (
        "Track it at https://carrier.test/t?id=1&x=2.\n"
        '"><script>parent.__xss=1</script> www.shop.test, or (http://wiki.test/A_(b)).\n'
        'http://a.test/"onmouseover="parent.__xss=1 javascript:parent.__xss=1'
    )
    message = stored(mailbox, _mail(None, text=text))

    page = member.get(f"/messages/{message.pk}/").content.decode()
    body = page.split('id="text-body">', 1)[1].split("</pre>", 1)[0]

    assert body == (
        'Track it at <a href="https://carrier.test/t?id=1&amp;x=2" target="_blank" '
        'rel="noopener noreferrer">https://carrier.test/t?id=1&amp;x=2</a>.\n'
        "&quot;&gt;&lt;script&gt;parent.__xss=1&lt;/script&gt; "
        '<a href="https://www.shop.test" target="_blank" rel="noopener noreferrer">'
        "www.shop.test</a>, or (<a "
        'href="http://wiki.test/A_(b)" target="_blank" rel="noopener noreferrer">'
        "http://wiki.test/A_(b)</a>).\n"
        '<a href="http://a.test/" target="_blank" rel="noopener noreferrer">http://a.test/</a>'
        # set_content ends the text with a line break.
        "&quot;onmouseover=&quot;parent.__xss=1 javascript:parent.__xss=1\n"
    )


def test_a_hostile_subject_and_display_name_are_escaped(mailbox: Mailbox, member: Client) -> None:
    message = stored(
        mailbox,
        _mail(
            "<p>hi</p>",
            subject='<img src=x onerror="parent.__xss=1">',
            sender='"<script>parent.__xss=1</script>" <evil@bad.test>',
        ),
    )
    page = member.get(f"/messages/{message.pk}/").content.decode()
    assert "<img src=x" not in page
    assert "<script>parent" not in page
    assert "&lt;img src=x onerror=&quot;parent.__xss=1&quot;&gt;" in page
    assert "&lt;script&gt;parent.__xss=1&lt;/script&gt;" in page


def test_a_display_name_cannot_turn_the_text_around_it(mailbox: Mailbox, member: Client) -> None:
    # U+202E RIGHT-TO-LEFT OVERRIDE: "Bank <moc.evil@x>" would read backwards past the name.
    message = stored(
        mailbox,
        _mail("<p>hi</p>", subject="Invoice \u202efdp.exe", sender="Bank\u202e <x@evil.test>"),
    )
    page = member.get(f"/messages/{message.pk}/").content.decode()
    assert "<bdi>Bank\u202e</bdi> &lt;<bdi>x@evil.test</bdi>&gt;" in page
    assert "<bdi>Invoice \u202efdp.exe</bdi></h1>" in page


def test_a_malformed_message_is_viewable(mailbox: Mailbox, member: Client) -> None:
    raw = (
        b"From: =?utf-8?q?broken?= <a@b.test>\r\n"
        b"Subject: =?x-unknown?b?!!!?=\r\n"
        b'Content-Type: multipart/alternative; boundary="zz"\r\n'
        b"\r\n--zz\r\nContent-Type: text/html; charset=utf-7\r\n\r\n"
        b"+ADw-script+AD4-alert(1)+ADw-/script+AD4-<p>\x00half\xff</p>\r\n"
    )
    message = stored(mailbox, raw)
    assert member.get(f"/messages/{message.pk}/").status_code == 200
    body = member.get(f"/messages/{message.pk}/body/")
    assert body.status_code == 200
    assert b"<script" not in body.content


def test_every_message_of_the_corpus_is_viewable(mailbox: Mailbox, member: Client) -> None:
    files = sorted(p for p in CORPUS.iterdir() if p.is_file())
    assert len(files) > 250, f"corpus not found at {CORPUS}"
    folder = mailbox.folders.get()
    for uid, path in enumerate(files, start=1):
        message = store_one(folder, uid, path.read_bytes())
        if message is None:
            # The same bytes as a file stored before: kept as a copy of that message.
            continue
        page = member.get(f"/messages/{message.pk}/")
        assert page.status_code == 200, path.name
        assert member.get(f"/messages/{message.pk}/raw/").content == message.read_raw()
        if message.html_body:
            body = member.get(f"/messages/{message.pk}/body/")
            assert body.status_code == 200, path.name
            assert b"<script" not in body.content.lower(), path.name
        for attachment in message.attachments.exclude(content_id=""):
            inline = member.get(f"/messages/{message.pk}/inline/{attachment.pk}/")
            assert inline.status_code in (200, 404, 410), path.name
            if inline.status_code == 200:
                assert inline["Content-Type"] in (
                    "image/png",
                    "image/jpeg",
                    "image/gif",
                    "image/webp",
                )


# The payloads of threats.md S01/S02 through the sanitiser alone; the browser test proves
# the same with the frame, its sandbox and its policy around them.
PAYLOADS = {
    "script": "<script>parent.__xss=1</script>",
    "img-onerror": '<img src=x onerror="parent.__xss=1">',
    "body-onload": '<body onload="parent.__xss=1">',
    "svg-use": '<svg><use href="data:image/svg+xml;base64,PHN2ZyBpZD0neCc+PC9zdmc+#x"/></svg>',
    "svg-animate": '<svg><a><animate attributeName="href" values="javascript:alert(1)"/>'
    "<text y=20>x</text></a></svg>",
    "js-link": '<a href="javascript:parent.__xss=1">x</a>',
    "js-link-entities": '<a href="jav&#x09;ascript:parent.__xss=1">x</a>',
    "css-expression": '<div style="width:expression(parent.__xss=1)">x</div>',
    "css-import": f"<style>@import '{REMOTE}/i.css';</style>",
    "css-escaped-url": f"<style>p{{background:\\75rl({REMOTE}/e.png)}}</style>",
    "meta-refresh": f'<meta http-equiv="refresh" content="0;url={REMOTE}/m">',
    "iframe-srcdoc": '<iframe srcdoc="<script>parent.__xss=1</script>"></iframe>',
    "form": f'<form action="{REMOTE}/f"><input name=q><button>Go</button></form>',
    "object": f'<object data="{REMOTE}/o.swf"></object><embed src="{REMOTE}/e.swf">',
    "base": f'<base href="{REMOTE}/">',
    "link": f'<link rel="stylesheet" href="{REMOTE}/l.css">',
    "feimage": f'<svg><filter id="f"><feImage href="{REMOTE}/fe.png"/></filter></svg>',
    "background": f'<div style="background:url({REMOTE}/b.png)">x</div>',
    "table-background": f'<table background="{REMOTE}/t.png"><tr><td>x</td></tr></table>',
}


def test_a_style_element_written_in_an_attribute_stays_text() -> None:
    markup = "<img alt='<style>p{background:url(http://x.test/a\"onerror=1)}</style>'>"
    cleaned = clean_mail_html(markup, inline_urls={}, allow_remote=True).html
    assert cleaned == (
        '<img alt="&lt;style&gt;p{background:url(http://x.test/a&quot;onerror=1)}&lt;/style&gt;">'
    )


@pytest.mark.parametrize("name", sorted(PAYLOADS))
def test_the_sanitiser_leaves_nothing_that_runs_or_reaches_out(name: str) -> None:
    cleaned = clean_mail_html(PAYLOADS[name], inline_urls={}).html.lower()
    for forbidden in (
        "<script", "onerror", "onload", "javascript", "expression(", "@import", "<meta",
        "<iframe", "srcdoc", "<form", "<object", "<embed", "<base", "<link", "<svg",
        "feimage", "<use", "<animate", REMOTE,
    ):  # fmt: skip
        assert forbidden not in cleaned, (name, cleaned)
