"""mailroom's scale-out processes as subprocesses the tests start, watch and kill."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, TypeVar

T = TypeVar("T")


def free_port() -> int:
    """A loopback TCP port that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Proc:
    """One ``mailroom`` process in its own process group, its output in a log file."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log: Path) -> None:
        self.name = name
        self.args = args
        self.log_path = log
        self._log: IO[bytes] = open(log, "wb")  # noqa: SIM115 - closed in wait()
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "mailroom.cli", *args],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.popen.poll() is None

    def children(self) -> list[int]:
        """The pids of this process's children (a worker's pool processes)."""
        try:
            text = Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text()
        except OSError:
            return []
        return [int(pid) for pid in text.split()]

    def kill(self) -> None:
        """SIGKILL the whole process group (a worker and its pool die together)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)
        self.wait()

    def wait(self, timeout: float = 30) -> None:
        self.popen.wait(timeout)
        self._log.close()


class Cluster:
    """The processes of one test; every one is killed at the end, whatever happened."""

    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.env = {**os.environ, **env}
        # The processes read mailroom's own settings, not the test suite's.
        self.env.pop("DJANGO_SETTINGS_MODULE", None)
        self.env.pop("MAILROOM_TEST_DATABASE_URL", None)
        self.log_dir = log_dir
        log_dir.mkdir(parents=True, exist_ok=True)
        self.procs: list[Proc] = []

    def start(self, name: str, *args: str, ready: str = "", **env: str) -> Proc:
        """Start ``mailroom ARGS`` as ``name``; with ``ready``, wait until it prints that."""
        proc = Proc(name, list(args), {**self.env, **env}, self.log_dir / f"{name}.log")
        self.procs.append(proc)
        if ready:
            self.until(lambda: ready in proc.output, 60, f"{name} to print {ready!r}")
        return proc

    def worker(self, name: str, *args: str, **env: str) -> Proc:
        """A ``mailroom worker`` named ``name``, ready to take tasks."""
        return self.start(name, "worker", f"--hostname={name}@%h", *args, ready=" ready.", **env)

    def run(self, *args: str, stdin: str = "", timeout: float = 120, **env: str) -> str:
        """Run ``mailroom ARGS`` to completion; its standard output. Fails on a non-zero exit."""
        done = subprocess.run(
            [sys.executable, "-m", "mailroom.cli", *args],
            env={**self.env, **env},
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert done.returncode == 0, f"mailroom {' '.join(args)}: {done.stdout}{done.stderr}"
        return done.stdout

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.alive():
                proc.kill()
            else:
                proc.wait()

    def report(self) -> str:
        """Every process's output (the tail of each), for a failure message."""
        parts = []
        for proc in self.procs:
            state = "running" if proc.alive() else f"exited {proc.popen.returncode}"
            text = proc.output
            if len(text) > 6000:
                text = "…" + text[-6000:]
            parts.append(f"--- {proc.name} (mailroom {' '.join(proc.args)}; {state}) ---\n{text}")
        return "\n".join(parts)

    def until(
        self,
        predicate: Callable[[], T],
        timeout: float,
        what: str,
        *,
        every: float = 0.05,
        explain: Callable[[], str] | None = None,
    ) -> T:
        """Poll ``predicate`` until it returns something true; fail with the processes'
        output after ``timeout`` seconds, or at once when a process died by itself.

        ``explain`` describes the state the test waited on, put before the processes' output.
        """
        deadline = time.monotonic() + timeout
        while True:
            result = predicate()
            if result:
                return result
            for proc in self.procs:
                code = proc.popen.poll()
                if code is not None and code != -signal.SIGKILL:
                    raise AssertionError(
                        f"{proc.name} exited ({code}) while waiting for {what}\n{self.report()}"
                    )
            if time.monotonic() > deadline:
                state = f"{explain()}\n" if explain is not None else ""
                raise AssertionError(f"not within {timeout} s: {what}\n{state}{self.report()}")
            time.sleep(every)
