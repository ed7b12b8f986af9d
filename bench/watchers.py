"""Benchmark many watchers: 1,000 mailboxes held by one ``mailroom run``, 20 msg/s for 60 s.

usage: python bench/watchers.py [--mailboxes 1000] [--rate 20] [--seconds 60] [--grace 60] [--keep]

The harness of ``bench/latency.py`` (``bench/harness.py``) at a larger scale: one Dovecot user
and one watched mailbox each, a catch-all autoresponse rule on every mailbox, and messages
APPENDed to random mailboxes at RATE per second for SECONDS. What matters here is the memory
and CPU of one mailroom process holding that many IDLE sessions, and the p99 reply latency
above Dovecot's own IDLE delay. Dovecot's process and client limits are raised for the run,
as are ``fs.inotify.max_user_instances`` (restored at the end) and the open-file limit.

``--shape scaleout`` runs the same load against mailroom's scale-out processes instead: two
``mailroom watch`` (500 mailboxes each), two ``mailroom worker`` and ``mailroom beat``, on a
dedicated PostgreSQL database and a private Redis; see bench/README.md.

Prints one JSON object on stdout; progress goes to stderr.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import run_benchmark


def main() -> None:
    """Run the benchmark with this script's defaults."""
    run_benchmark("watchers", __doc__ or "", mailboxes=1000, rate=20, seconds=60)


if __name__ == "__main__":
    main()
