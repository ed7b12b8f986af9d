"""The only writer of message rows: stores what sync fetched, idempotently."""
