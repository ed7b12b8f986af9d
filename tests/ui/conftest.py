"""Fixtures of the browser tests: the real ``mailroom run`` server and Debian's Chromium.

The server is the production entry point (the venv's ``mailroom`` console script) in a
subprocess with its own data directory, so it has its own database (its SQLite file, or its own
PostgreSQL database when the suite runs there): the tests read its state through the UI or the
``mailroom`` command, never through the ORM of the test process.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, sync_playwright

from tests.faults.processes import shape_env

ADMIN_EMAIL = "admin@example.test"
ADMIN_PASSWORD = "ui-admin-pw-7Qx!"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
START_TIMEOUT = 30.0
STOP_TIMEOUT = 30.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (right now)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class MailroomServer:
    """``mailroom run --bind 127.0.0.1:PORT`` in a subprocess, as the README starts it."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = data_dir.parent / "mailroom-run.log"
        self.script = Path(sys.executable).with_name("mailroom")
        # Start from the test process's environment without its Django and mailroom settings
        # (pytest-django sets DJANGO_SETTINGS_MODULE=tests.settings): the server must run
        # with the production settings and only the variables below.
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("MAILROOM_") and k not in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL")
        }
        env.update(
            MAILROOM_DATA_DIR=str(data_dir),
            MAILROOM_ADMIN_EMAIL=ADMIN_EMAIL,
            MAILROOM_ADMIN_PASSWORD=ADMIN_PASSWORD,
            MAILROOM_ALLOWED_MAIL_HOSTS="127.0.0.1",
            MAILROOM_POLL_SECONDS="2",
            PYTHONUNBUFFERED="1",
        )
        # The database of the suite's shape: the SQLite file in the data directory, or a
        # PostgreSQL database of its own when the suite runs on PostgreSQL.
        env.update(shape_env(data_dir))
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def start(self) -> None:
        # Start it the way a script's background job starts: with SIGINT ignored, inherited
        # from the shell. Ctrl-C must stop mailroom all the same (run resets the handler).
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [str(self.script), "run", "--bind", f"127.0.0.1:{self.port}"],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=_ignore_sigint,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(
                    f"mailroom run exited with {self.process.returncode}:\n{self.log()}"
                )
            try:
                with urllib.request.urlopen(f"{self.base_url}/login/", timeout=2) as response:  # noqa: S310 (our loopback server)
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.2)
        raise AssertionError(f"mailroom run did not answer in {START_TIMEOUT} s:\n{self.log()}")

    def interrupt(self) -> int:
        """Send SIGINT (Ctrl-C) and return the exit code; raises TimeoutExpired if it hangs."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        return self.process.wait(timeout=STOP_TIMEOUT)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def cli(self, *args: str) -> str:
        """Run another ``mailroom`` command against the same data directory."""
        result = subprocess.run(
            [str(self.script), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return result.stdout


@pytest.fixture
def mailroom_server(tmp_path: Path) -> Iterator[MailroomServer]:
    """A running ``mailroom run`` with a fresh data directory; the test stops it with
    :meth:`MailroomServer.interrupt` and checks the exit code, else teardown does."""
    server = MailroomServer(tmp_path / "data")
    try:
        server.start()
        yield server
    finally:
        try:
            if server.process is not None and server.process.poll() is None:
                server.interrupt()
        except subprocess.TimeoutExpired:
            pass
        finally:
            server.kill()


@pytest.fixture
def browser() -> Iterator[Browser]:
    """Debian's Chromium driven by Playwright (no downloaded browser)."""
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


class PolicyViolations:
    """What Chromium refused on mailroom's own pages under their Content-Security-Policy
    (mailroom.web.page_policy): a page the policy breaks (a style attribute, an inline script)
    shows up here. The mail frame's refusals are its policy at work, not a breakage: left out."""

    def __init__(self, context: BrowserContext) -> None:
        self.seen: list[str] = []
        context.on("console", self._console)

    def _console(self, message: ConsoleMessage) -> None:
        url = message.location.get("url", "")
        if "Content Security Policy" in message.text and "/body/" not in url:
            self.seen.append(f"{url}: {message.text}")

    def assert_none(self) -> None:
        assert not self.seen, "\n".join(self.seen)


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh 1280-wide page; the test fails if the page policy refused anything on it."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(10_000)
    violations = PolicyViolations(context)
    try:
        yield context.new_page()
        violations.assert_none()
    finally:
        context.close()


# A 1x1 transparent PNG.
PIXEL = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478da63"
    "f8ffff3f0005fe02fea7d6a4c50000000049454e44ae426082"
)


class Listener:
    """An HTTP server on 127.0.0.1 that records every request and answers with a pixel."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        lock = threading.Lock()
        paths = self.paths

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with lock:
                    paths.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(PIXEL)))
                self.end_headers()
                self.wfile.write(PIXEL)

            do_POST = do_GET

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Listener:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    with Listener() as running:
        yield running
