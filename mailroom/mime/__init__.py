"""Pure parsing and composing of email messages: bytes in, dataclasses out, and back.

Nothing here imports Django or any other part of mailroom, so the package can be tested and
benchmarked on its own (see ``docs/architecture.md``, "Where things live").
"""
