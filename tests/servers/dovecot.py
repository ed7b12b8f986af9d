"""A throwaway Dovecot IMAP server on loopback for tests.

`DovecotServer` writes a Dovecot 2.3 configuration into a fresh temporary
directory, starts ``dovecot -F`` on a free 127.0.0.1 port and tears everything
down again on `stop()`. The configuration follows docs/threats.md §6.2: no TLS,
plaintext auth allowed, a passwd-file passdb and a static userdb storing mail in
``~/Maildir`` under the temporary directory.

Dovecot refuses to run mail processes as root, so when the tests run as root
(as in CI) the whole server runs as ``nobody:nogroup`` and the temporary tree
is owned by that user; otherwise it runs as the current user.
"""

from __future__ import annotations

import base64
import contextlib
import grp
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

from imapclient import IMAPClient, imap_utf7

__all__ = ["DovecotError", "DovecotServer", "dovecot_installed", "live_group_members"]

# Usernames become file names (home directory) and passwd-file keys, so keep
# them to a boring alphabet.
_USERNAME_RE = re.compile(r"^[A-Za-z0-9._@+=-]+$")
_APPENDUID_RE = re.compile(rb"\[APPENDUID (\d+) (\d+)\]")
_GREETING_PREFIX = b"* OK"
# Unix socket paths are limited to 108 bytes. The server's sockets live in
# PARENT/mailroom-dovecot-XXXXXXXX/run/ with names of up to ~25 characters.
_MAX_PARENT_LEN = 50


class DovecotError(RuntimeError):
    """Dovecot failed to start, stop or run a doveadm command."""


@dataclass(frozen=True)
class _RunAs:
    uid: int
    gid: int
    user: str
    group: str


def _run_as() -> _RunAs:
    """Return the account Dovecot runs as: ``nobody`` when we are root, else us."""
    if os.geteuid() == 0:
        try:
            user = pwd.getpwnam("nobody")
        except KeyError as err:
            raise DovecotError("running as root needs a 'nobody' user for Dovecot") from err
        # Debian calls nobody's group "nogroup"; other systems call it "nobody".
        group = grp.getgrgid(user.pw_gid)
        return _RunAs(user.pw_uid, group.gr_gid, user.pw_name, group.gr_name)
    uid, gid = os.getuid(), os.getgid()
    return _RunAs(uid, gid, pwd.getpwuid(uid).pw_name, grp.getgrgid(gid).gr_name)


def _free_port() -> int:
    """Return a loopback TCP port that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _traversable_by_others(path: Path) -> bool:
    """Whether every directory from / down to ``path`` has the o+x bit."""
    return all(os.stat(part).st_mode & 0o001 for part in [path, *path.parents])


def _temp_parent(run_as: _RunAs) -> Path:
    """Pick a parent for the server's temp dir that ``run_as`` can reach."""
    parent = Path(tempfile.gettempdir())
    if run_as.uid != os.geteuid() and not _traversable_by_others(parent):
        parent = Path("/tmp")
    if len(str(parent)) > _MAX_PARENT_LEN:
        parent = Path("/tmp")
    return parent


class DovecotServer:
    """A private Dovecot instance listening on 127.0.0.1 for the test session.

    Use it as a context manager or call `start()` / `stop()`. Users are added
    with `add_user()` while it runs. Each user's mail lives in `maildir()`.

    Every user has their own passwd-file (``passwd.d/<user>``): Dovecot
    re-reads a passwd-file at most once per second, so with one shared file a
    user added right after another user's login could not log in for up to a
    second. A new file is read at its first lookup.
    """

    host = "127.0.0.1"

    def __init__(
        self,
        *,
        start_timeout: float = 10.0,
        separator: str = "/",
        special_folders: bool = True,
        auth_failure_delay: int = 0,
        auth_penalty: bool = False,
        max_userip_connections: int = 100,
        fsync: bool = False,
        keep_files: bool | None = None,
        extra_config: str = "",
    ) -> None:
        """Configure, but do not start, a server.

        ``separator`` is the hierarchy separator clients see (Dovecot's Maildir++
        default would be "."). ``special_folders`` auto-creates Drafts, Sent,
        Trash and Junk with their SPECIAL-USE flags at first login, as real
        servers do. ``auth_failure_delay`` (seconds) and ``auth_penalty``
        (Dovecot's per-IP delay that doubles after each failure, up to 15 s)
        default to off, so that tests of wrong passwords do not slow down every
        later login from 127.0.0.1. ``keep_files`` keeps the temp dir after
        `stop()`; it defaults to the MAILROOM_KEEP_DOVECOT environment variable.
        ``extra_config`` is appended to the generated dovecot.conf, for example to raise
        process and client limits (a later setting overrides an earlier one, and a second
        ``service NAME {…}`` block adds to the first).
        """
        self.start_timeout = start_timeout
        self.separator = separator
        self.special_folders = special_folders
        self.auth_failure_delay = auth_failure_delay
        self.auth_penalty = auth_penalty
        self.max_userip_connections = max_userip_connections
        self.fsync = fsync
        self.extra_config = extra_config
        if keep_files is None:
            keep_files = bool(os.environ.get("MAILROOM_KEEP_DOVECOT"))
        self.keep_files = keep_files
        self.run_as = _run_as()
        self.port = 0
        self.root: Path | None = None
        self._proc: subprocess.Popen[Any] | None = None
        self._log_file: IO[bytes] | None = None
        self._lock = threading.Lock()
        self._delivery_counter = 0
        self._finalizer: weakref.finalize[Any, Any] | None = None

    # -- lifecycle -----------------------------------------------------------

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Create the temp dir and config, start Dovecot and wait for its greeting."""
        if self._proc is not None:
            raise DovecotError("Dovecot is already running")
        if not dovecot_installed():
            raise DovecotError("dovecot is not installed; run scripts/install-test-deps.sh")
        if self.root is None:
            self.root = Path(
                tempfile.mkdtemp(prefix="mailroom-dovecot-", dir=_temp_parent(self.run_as))
            )
            for sub in ("run", "state", "home", "passwd.d"):
                (self.root / sub).mkdir()
            (self.root / "dovecot.log").touch(mode=0o600)
            self._chown_tree(self.root)
        try:
            # A port picked by binding and closing can be taken by someone
            # else before Dovecot binds it, so retry with a new port then.
            for attempt in range(3):
                self.port = _free_port()
                self._write_config()
                try:
                    self._spawn()
                    return
                except DovecotError:
                    if attempt == 2 or "Address already in use" not in self.log:
                        raise
        except BaseException:
            # The error carries Dovecot's log; the temp dir is not needed.
            self.stop()
            raise

    def stop(self) -> None:
        """Stop Dovecot (doveadm stop, then SIGTERM/SIGKILL) and delete the temp dir."""
        self._stop_process()
        if self.root is not None and not self.keep_files:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

    def restart(self) -> None:
        """Stop and start Dovecot on the same port, keeping users and mail."""
        port = self.port
        self._stop_process()
        self.port = port
        self._write_config()
        self._spawn()

    @property
    def pid(self) -> int | None:
        """The pid of the Dovecot master (also its process group id), if started."""
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        """Whether the Dovecot master process is alive."""
        return self._proc is not None and self._proc.poll() is None

    # -- paths and logs ------------------------------------------------------

    @property
    def config_path(self) -> Path:
        """The dovecot.conf of this instance."""
        return self._root / "dovecot.conf"

    @property
    def log_path(self) -> Path:
        """The file Dovecot's stderr (its whole log) goes to."""
        return self._root / "dovecot.log"

    @property
    def log(self) -> str:
        """Everything Dovecot has logged so far."""
        if self.root is None:
            return ""
        return self.log_path.read_text(errors="replace")

    def wait_for_log(self, text: str, count: int = 1, timeout: float = 5.0) -> str:
        """Wait until ``text`` appears ``count`` times in the log; return the log.

        Dovecot's log process writes asynchronously, so a line about a login
        may land shortly after the client already got its answer.
        """
        deadline = time.monotonic() + timeout
        while True:
            log = self.log
            if log.count(text) >= count:
                return log
            if time.monotonic() > deadline:
                raise TimeoutError(f"{text!r} not logged {count} times within {timeout} s")
            time.sleep(0.02)

    def login_count(self, username: str) -> int:
        """How many successful IMAP logins Dovecot has logged for ``username``."""
        return self.log.count(f"imap-login: Info: Login: user=<{username.lower()}>,")

    def auth_failure_count(self, username: str) -> int:
        """How many failed password checks Dovecot has logged for ``username``."""
        pattern = rf"passwd-file\({re.escape(username.lower())},[^)]*\): "
        return len(re.findall(pattern, self.log))

    def maildir(self, user: str) -> Path:
        """The root Maildir (the INBOX) of ``user``."""
        # Dovecot lowercases usernames (auth_username_format = %Lu), and the
        # home directory is named after the lowercased name.
        return self._root / "home" / user.lower() / "Maildir"

    # -- users ---------------------------------------------------------------

    def add_user(self, username: str, password: str) -> None:
        """Add a user; Dovecot sees it at the next login.

        Passwords are stored base64-encoded, so any text (":" or non-ASCII
        included) works. Note that IMAP LOGIN via imaplib only sends ASCII;
        `client()` switches to AUTHENTICATE PLAIN for other passwords.
        """
        if not _USERNAME_RE.match(username):
            raise ValueError(f"unsupported username for the test server: {username!r}")
        with self._lock:
            if self._passwd_path(username).exists():
                raise ValueError(f"user {username!r} already exists")
            self._write_passwd(username, password)

    def set_password(self, username: str, password: str) -> None:
        """Change a user's password (for "credentials changed" tests).

        Takes up to a second: Dovecot re-reads an already-read passwd-file at
        most once per second, so this waits for the next second to begin.
        """
        with self._lock:
            if not self._passwd_path(username).exists():
                raise KeyError(username)
            self._write_passwd(username, password)
        _sleep_into_next_second()

    def remove_user(self, username: str) -> None:
        """Delete a user's passwd entry; their mail stays on disk.

        Like `set_password()`, this waits up to a second to take effect.
        """
        with self._lock:
            self._write_passwd(username, None)
        _sleep_into_next_second()

    # -- IMAP helpers --------------------------------------------------------

    def client(self, user: str, password: str, *, timeout: float = 10.0) -> IMAPClient:
        """Return an IMAPClient logged in as ``user``; the caller logs out."""
        client = IMAPClient(self.host, self.port, ssl=False, timeout=timeout)
        try:
            if password.isascii():
                client.login(user, password)
            else:
                client.plain_login(user, password)
        except BaseException:
            with contextlib.suppress(Exception):
                client.shutdown()
            raise
        return client

    def append(
        self,
        username: str,
        password: str,
        folder: str,
        raw: bytes,
        flags: Sequence[str | bytes] = (),
        msg_time: datetime | None = None,
    ) -> int:
        """APPEND one message over IMAP and return its UID (from APPENDUID)."""
        return self.append_many(username, password, folder, [raw], flags, msg_time)[0]

    def append_many(
        self,
        username: str,
        password: str,
        folder: str,
        messages: Iterable[bytes],
        flags: Sequence[str | bytes] = (),
        msg_time: datetime | None = None,
    ) -> list[int]:
        """APPEND several messages over one IMAP connection; return their UIDs."""
        client = self.client(username, password)
        try:
            return [_append(client, folder, raw, flags, msg_time) for raw in messages]
        finally:
            client.logout()

    def create_folder(
        self, user: str, password: str, name: str, *, subscribe: bool = False
    ) -> None:
        """CREATE a folder over IMAP (``name`` uses the server's separator)."""
        client = self.client(user, password)
        try:
            client.create_folder(name)
            if subscribe:
                client.subscribe_folder(name)
        finally:
            client.logout()

    def deliver_maildir(
        self,
        user: str,
        folder: str,
        raw: bytes,
        *,
        internal_date: datetime | None = None,
    ) -> Path:
        """Deliver like an MDA: write into ``tmp/``, then rename into ``new/``.

        The rename is atomic, so an IMAP session never sees a half-written
        message. Folders missing on disk are created; Dovecot lists them. The
        file's mtime is the message's INTERNALDATE. Returns the new file path.
        """
        box = self._folder_dir(user, folder)
        for sub in ("cur", "new", "tmp"):
            self._makedirs(box / sub)
        with self._lock:
            self._delivery_counter += 1
            counter = self._delivery_counter
        now = time.time()
        name = (
            f"{int(now)}.M{int(now * 1_000_000) % 1_000_000}P{os.getpid()}Q{counter}"
            f".{socket.gethostname().replace('/', '_').replace(':', '_')}"
        )
        tmp_path = box / "tmp" / name
        fd = os.open(tmp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
        os.chown(tmp_path, self.run_as.uid, self.run_as.gid)
        if internal_date is not None:
            stamp = internal_date.timestamp()
            os.utime(tmp_path, (stamp, stamp))
        new_path = box / "new" / name
        os.rename(tmp_path, new_path)
        return new_path

    def reset_uidvalidity(self, user: str, folder: str = "INBOX") -> None:
        """Make Dovecot assign a new UIDVALIDITY (and new UIDs) to ``folder``.

        Deletes dovecot-uidlist and the index files, as in threats.md §6.2.
        Kick the user first if a session might still hold the old index.
        """
        box = self._folder_dir(user, folder)
        for path in box.iterdir():
            if path.name == "dovecot-uidlist" or path.name.startswith("dovecot.index"):
                path.unlink()

    # -- doveadm -------------------------------------------------------------

    def doveadm(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run ``doveadm -c CONF ARGS...`` as the server's user; return the result."""
        argv = ["doveadm", "-c", str(self.config_path), *args]
        with self._popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
            try:
                stdout, stderr = proc.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                raise
        result = subprocess.CompletedProcess(argv, proc.returncode, stdout, stderr)
        if check and result.returncode != 0:
            raise DovecotError(
                f"doveadm {' '.join(args)} exited {result.returncode}: {stderr.strip()}"
            )
        return result

    def kick(self, user: str) -> None:
        """Disconnect all IMAP sessions of ``user`` (they get BYE and EOF)."""
        self.doveadm("kick", user)

    # -- internals -----------------------------------------------------------

    @property
    def _root(self) -> Path:
        if self.root is None:
            raise DovecotError("the server has not been started")
        return self.root

    def _popen(self, argv: list[str], **kwargs: Any) -> subprocess.Popen[Any]:
        """Start ``argv`` as the server's user (switching to it when we are root)."""
        if os.geteuid() == 0:
            kwargs.update(user=self.run_as.uid, group=self.run_as.gid, extra_groups=[])
        return subprocess.Popen(argv, env=_env(), **kwargs)

    def _chown(self, path: Path) -> None:
        if os.geteuid() == 0:
            os.chown(path, self.run_as.uid, self.run_as.gid)

    def _chown_tree(self, top: Path) -> None:
        self._chown(top)
        for dirpath, dirnames, filenames in os.walk(top):
            for name in [*dirnames, *filenames]:
                self._chown(Path(dirpath) / name)

    def _makedirs(self, path: Path) -> None:
        """mkdir -p, giving every directory it creates to the server's user."""
        missing = []
        while not path.exists():
            missing.append(path)
            path = path.parent
        for directory in reversed(missing):
            directory.mkdir(mode=0o700, exist_ok=True)
            self._chown(directory)

    def _folder_dir(self, user: str, folder: str) -> Path:
        """Where ``folder`` lives on disk in Dovecot's Maildir++ layout."""
        root = self.maildir(user)
        if folder.upper() == "INBOX":
            return root
        encoded: str = imap_utf7.encode(folder).decode("ascii")
        if "." in encoded and self.separator != ".":
            raise ValueError("Maildir++ cannot store '.' in a folder name")
        return root / ("." + encoded.replace(self.separator, "."))

    def _write_passwd(self, username: str, password: str | None) -> None:
        """Write (or with ``password=None`` delete) the user's passwd-file."""
        path = self._passwd_path(username)
        if password is None:
            path.unlink(missing_ok=True)
            return
        encoded = base64.b64encode(password.encode()).decode()
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(f"{username.lower()}:{{PLAIN.B64}}{encoded}\n")
        self._chown(tmp)
        if path.exists():
            # Dovecot notices changes by mtime (whole seconds) and size; a new
            # password of the same length written in the same second would go
            # unseen, so move the mtime forward by at least a second.
            stamp = max(time.time(), path.stat().st_mtime + 1)
            os.utime(tmp, (stamp, stamp))
        tmp.replace(path)

    def _passwd_path(self, username: str) -> Path:
        # Dovecot lowercases usernames before the lookup (auth_username_format).
        return self._root / "passwd.d" / username.lower()

    def _write_config(self) -> None:
        root = self._root
        run = self.run_as
        special = ""
        if self.special_folders:
            special = "".join(
                f"  mailbox {name} {{\n    special_use = \\{name}\n    auto = subscribe\n  }}\n"
                for name in ("Drafts", "Sent", "Trash", "Junk")
            )
        penalty = "" if self.auth_penalty else _NO_PENALTY
        config = _CONFIG.format(
            instance=f"mailroom-test-{self.port}",
            root=root,
            user=run.user,
            group=run.group,
            uid=run.uid,
            gid=run.gid,
            port=self.port,
            separator=self.separator,
            special=special,
            penalty=penalty,
            failure_delay=self.auth_failure_delay,
            max_userip=self.max_userip_connections,
            fsync="optimized" if self.fsync else "never",
        )
        if self.extra_config:
            config += "# Extra configuration given to DovecotServer.\n" + self.extra_config
            if not config.endswith("\n"):
                config += "\n"
        self.config_path.write_text(config)
        self._chown(self.config_path)

    def _spawn(self) -> None:
        self._log_file = open(self.log_path, "ab")  # noqa: SIM115 - closed in _stop_process
        started = time.monotonic()
        self._proc = self._popen(
            ["dovecot", "-F", "-c", str(self.config_path)],
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=self._log_file,
            # Its own process group, so stop() can find stragglers.
            start_new_session=True,
        )
        # Stop Dovecot even if the test session ends without calling stop().
        self._finalizer = weakref.finalize(self, _kill_group, self._proc)
        try:
            self._wait_for_greeting(started)
        except BaseException:
            self._stop_process()
            raise

    def _wait_for_greeting(self, started: float) -> None:
        assert self._proc is not None
        deadline = started + self.start_timeout
        last_error = ""
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise DovecotError(
                    f"dovecot exited with {self._proc.returncode} during start-up:\n{self.log}"
                )
            try:
                with socket.create_connection((self.host, self.port), timeout=1) as sock:
                    greeting = sock.recv(512)
                if greeting.startswith(_GREETING_PREFIX):
                    return
                last_error = f"unexpected greeting {greeting!r}"
            except OSError as err:
                last_error = str(err)
            time.sleep(0.02)
        raise DovecotError(
            f"dovecot did not greet on {self.host}:{self.port} within "
            f"{self.start_timeout} s ({last_error}):\n{self.log}"
        )

    def _stop_process(self) -> None:
        if self._finalizer is not None:
            self._finalizer.detach()
            self._finalizer = None
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.poll() is None:
                self._doveadm_stop(proc)
            _kill_group(proc, grace=2.0)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def _doveadm_stop(self, proc: subprocess.Popen[Any]) -> None:
        """Shut the master down with doveadm stop, falling back to signals.

        Sessions are kicked first: an imap process with a connected client
        outlives the master otherwise. doveadm stop sends SIGTERM and then
        polls until the master's pid is gone; the master is our child and
        stays a zombie (doveadm waiting its full 3 s) until we reap it, so
        doveadm runs in the background while we wait for the master here.
        """
        with contextlib.suppress(Exception):
            self.doveadm("kick", "*", check=False)
        stopper: subprocess.Popen[Any] | None = None
        with contextlib.suppress(OSError):
            stopper = self._popen(
                ["doveadm", "-c", str(self.config_path), "stop"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if stopper is not None:
            try:
                stopper.wait(timeout=10)
            except subprocess.TimeoutExpired:
                stopper.kill()
                stopper.wait()


def _append(
    client: IMAPClient,
    folder: str,
    raw: bytes,
    flags: Sequence[str | bytes],
    msg_time: datetime | None,
) -> int:
    response = client.append(folder, raw, flags=flags, msg_time=msg_time)
    match = _APPENDUID_RE.search(response)
    if match is None:
        raise DovecotError(f"APPEND response without APPENDUID: {response!r}")
    return int(match.group(2))


def live_group_members(pgid: int) -> list[int]:
    """Pids of the processes in group ``pgid`` that are not zombies (Linux /proc).

    Zombies are left out: a child orphaned by the Dovecot master is reaped by
    init, and some container inits never do that.
    """
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # Fields after "(comm)": state, ppid, pgrp, ...
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            pids.append(int(entry))
    return pids


def _kill_group(proc: subprocess.Popen[Any], grace: float = 0.0) -> None:
    """Make sure nothing of Dovecot's process group is left running.

    The group id is the pid of the master we started (start_new_session). The
    log and stats processes exit on their own shortly after the master; give
    them ``grace`` seconds, then SIGKILL whatever is still alive.
    """
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    deadline = time.monotonic() + grace
    while live_group_members(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    if live_group_members(proc.pid):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)


def _sleep_into_next_second() -> None:
    """Sleep until just after the next wall-clock second starts."""
    time.sleep(1.02 - time.time() % 1)


def dovecot_installed() -> bool:
    """Whether the dovecot binary is available (Debian installs it in /usr/sbin)."""
    return shutil.which("dovecot", path=_sbin_path()) is not None


def _sbin_path() -> str:
    """PATH plus the sbin directories, where Debian puts dovecot."""
    parts = os.environ.get("PATH", "").split(os.pathsep)
    for extra in ("/usr/sbin", "/sbin", "/usr/local/sbin"):
        if extra not in parts:
            parts.append(extra)
    return os.pathsep.join(parts)


def _env() -> dict[str, str]:
    return {**os.environ, "PATH": _sbin_path()}


_NO_PENALTY = """\
  # Without this socket the auth process cannot reach anvil's penalty
  # tracker, which disables the per-IP auth penalty.
  unix_listener anvil-auth-penalty {
    mode = 0
  }
"""

_CONFIG = """\
# Generated by tests/servers/dovecot.py for one test session.
instance_name = {instance}
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = /dev/stderr
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_verbose = yes
auth_failure_delay = {failure_delay} secs
default_internal_user = {user}
default_internal_group = {group}
default_login_user = {user}
first_valid_uid = {uid}
last_valid_uid = {uid}
first_valid_gid = {gid}
last_valid_gid = {gid}
mail_fsync = {fsync}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd.d/%u
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/home/%u
}}
mail_location = maildir:~/Maildir
namespace inbox {{
  inbox = yes
  separator = {separator}
{special}}}
protocol imap {{
  mail_max_userip_connections = {max_userip}
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
{penalty}}}
"""
