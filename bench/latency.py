"""Benchmark push latency: 100 mailboxes watched by one ``mailroom run``, 50 msg/s for 60 s.

usage: python bench/latency.py [--mailboxes 100] [--rate 50] [--seconds 60] [--grace 60] [--keep]

A throwaway Dovecot holds one user per mailbox; one ``mailroom run`` process watches them all,
each with one catch-all autoresponse rule answering through a local SMTP peer. After an untimed
warm-up (every mailbox answers one probe), messages are APPENDed to random mailboxes at RATE
per second for SECONDS; the latency of each is SMTP arrival of its reply - APPEND return. Bare
IDLE clients measure Dovecot's own notification delay in the same run. See ``bench/harness.py``
and ``bench/README.md``.

Prints one JSON object on stdout; progress goes to stderr.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import run_benchmark


def main() -> None:
    """Run the benchmark with this script's defaults."""
    run_benchmark("latency", __doc__ or "", mailboxes=100, rate=50, seconds=60)


if __name__ == "__main__":
    main()
