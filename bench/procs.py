"""Child processes of the benches: started in their own session, measured from /proc, stopped.

Each child runs in a session (and process group) of its own, so a Ctrl-C at the terminal reaches
only the bench, and stopping it reaches every process it started (a Celery worker's pool, say).
Memory and CPU are read from ``/proc`` for the child and its live descendants in the group.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parents[1]

# The Dovecot fixture (and its process-group helper) lives in tests/, which is not installed.
sys.path.insert(0, str(ROOT))
from tests.servers.dovecot import live_group_members  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")


class ChildFailed(SystemExit):
    """A child process exited or never became ready; the message says which and shows its log."""


def proc_stat(pid: int) -> list[str] | None:
    """The fields of ``/proc/PID/stat`` after "(comm)", or None when the process is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2 :].split()


def status_kb(pid: int, key: str) -> int:
    """A number of ``/proc/PID/status`` (VmHWM, VmRSS, Threads); 0 when the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


class ChildProcess:
    """One command as a child in its own session, its output appended to ``log_path``."""

    def __init__(
        self,
        role: str,
        argv: list[str],
        env: dict[str, str],
        log_path: Path,
        *,
        cwd: str | None = None,
        stop_signal: signal.Signals = signal.SIGINT,
        stop_timeout: float = 15.0,
        say: Callable[[str], None] | None = None,
    ) -> None:
        self.role = role
        self.argv = argv
        self.env = env
        self.log_path = log_path
        self.cwd = cwd
        self.stop_signal = stop_signal
        self.stop_timeout = stop_timeout
        self.say = say or (lambda text: print(text, file=sys.stderr, flush=True))
        self.proc: subprocess.Popen[bytes] | None = None
        self.returncode: int | None = None
        self._log: IO[bytes] | None = None

    def start(
        self, ready: Callable[[], bool] | None = None, timeout: float = 120.0, what: str = "ready"
    ) -> None:
        """Start the command; then wait until ``ready()`` holds (if given), failing loudly if
        the child exits first or ``timeout`` passes."""
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        # RLIMIT_NOFILE is inherited from the bench, which may have raised its own.
        self.proc = subprocess.Popen(
            self.argv,
            env=self.env,
            cwd=self.cwd,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=self._log,
            start_new_session=True,
        )
        if ready is None:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ChildFailed(f"{self.role} exited {self.proc.returncode}:\n{self.tail()}")
            if ready():
                return
            time.sleep(0.1)
        raise ChildFailed(f"{self.role} was not {what} within {timeout:.0f} s:\n{self.tail()}")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def logged(self, text: str) -> bool:
        """Whether the child's output so far contains ``text``."""
        return text in self.tail(10**9)

    def members(self) -> list[int]:
        """The process and any children it started (its process group)."""
        if self.proc is None:
            return []
        return sorted(set(live_group_members(self.pid)) | {self.pid})

    def peak_rss_kb(self) -> int:
        """VmHWM of the process plus that of every live child."""
        return sum(status_kb(pid, "VmHWM") for pid in self.members())

    def rss_kb(self) -> int:
        """VmRSS of the process plus that of every live child, now."""
        return sum(status_kb(pid, "VmRSS") for pid in self.members())

    def cpu_seconds(self) -> float:
        """User + system CPU of the process, its live children and its reaped children."""
        ticks = 0
        for pid in self.members():
            fields = proc_stat(pid)
            if fields is None:
                continue
            # After "(comm)": state ppid pgrp session tty tpgid flags minflt cminflt majflt
            # cmajflt utime stime cutime cstime ...
            ticks += int(fields[11]) + int(fields[12])
            if pid == self.pid:
                ticks += int(fields[13]) + int(fields[14])
        return ticks / CLK_TCK

    def threads(self) -> int:
        return sum(status_kb(pid, "Threads") for pid in self.members())

    def stop(self) -> None:
        """``stop_signal`` (the command's clean stop), then SIGKILL for the whole group."""
        proc, self.proc = self.proc, None
        if proc is not None:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(self.stop_signal)
                try:
                    proc.wait(timeout=self.stop_timeout)
                except subprocess.TimeoutExpired:
                    self.say(
                        f"{self.role} did not stop within {self.stop_timeout:.0f} s; killing it"
                    )
                    proc.kill()
                    proc.wait()
            self.returncode = proc.returncode
            deadline = time.monotonic() + 5
            while live_group_members(proc.pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            if live_group_members(proc.pid):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
        if self._log is not None:
            self._log.close()
            self._log = None
