"""How many mailboxes each live watcher should hold: an even split, within each capacity."""

from __future__ import annotations

import math


def fair_shares(total: int, capacities: dict[str, int]) -> dict[str, int]:
    """Split ``total`` mailboxes between watchers (owner → capacity) as evenly as their
    capacities allow; a watcher that cannot take its even part leaves the rest to the others.

    Parts are rounded up, so together they cover ``total`` whenever the capacities do: no
    mailbox is left to the sweep's polls because of rounding. Every watcher computes the same
    split from the same rows.
    """
    shares: dict[str, int] = {}
    left = total
    ordered = sorted(capacities.items(), key=lambda item: (item[1], item[0]))
    for index, (owner, capacity) in enumerate(ordered):
        part = min(capacity, math.ceil(left / (len(ordered) - index))) if left > 0 else 0
        shares[owner] = part
        left -= part
    return shares
