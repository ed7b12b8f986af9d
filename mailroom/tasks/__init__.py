"""Task entry points: ids in, idempotent, the same functions in both deployment shapes."""
