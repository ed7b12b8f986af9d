"""Benchmark mailroom.mime.parse.parse_message against the email package's default policy.

usage: python bench/parse.py [MAILDIR] [--rounds N] [--stdlib-sample N]

MAILDIR defaults to /tmp/mimebench (make it with
``python3 /work/shared/bench/gen_corpus.py /tmp/mimebench 2000 42``). Every file in MAILDIR/new
is read into memory first, so only parsing is timed. The comparison parses the messages with
``BytesParser(policy=email.policy.default)`` and extracts the body with ``get_body``, which is
what parse_message replaces. Each parser runs --rounds times and the median round is
reported, because other work on a shared 2-core machine makes single rounds vary by +-30%.
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

from mailroom.mime.parse import parse_message


def _stdlib_default(raw: bytes) -> None:
    message = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(message, EmailMessage)
    body = message.get_body(preferencelist=("plain", "html"))
    if body is not None:
        body.get_content()


def _median_seconds(parse: Callable[[bytes], object], messages: list[bytes], rounds: int) -> float:
    timings = []
    for _round in range(rounds):
        start = time.perf_counter()
        for raw in messages:
            parse(raw)
        timings.append(time.perf_counter() - start)
    return statistics.median(timings)


def main() -> None:
    """Time both parsers over the Maildir and print the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("maildir", nargs="?", default="/tmp/mimebench")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds per parser")
    parser.add_argument(
        "--stdlib-sample",
        type=int,
        default=0,
        help="time the default policy on only the first N messages (0: all of them)",
    )
    args = parser.parse_args()
    files = sorted((Path(args.maildir) / "new").iterdir())
    if not files:
        sys.exit(f"no messages in {args.maildir}/new")
    messages = [path.read_bytes() for path in files]

    seconds = _median_seconds(parse_message, messages, args.rounds)
    sample = messages[: args.stdlib_sample] if args.stdlib_sample else messages
    stdlib_seconds = _median_seconds(_stdlib_default, sample, args.rounds)

    print(
        json.dumps(
            {
                "messages": len(messages),
                "seconds": round(seconds, 3),
                "msgs_per_s": round(len(messages) / seconds),
                "stdlib_default_policy_msgs_per_s": round(len(sample) / stdlib_seconds),
            }
        )
    )


if __name__ == "__main__":
    main()
