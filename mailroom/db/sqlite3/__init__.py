"""SQLite with one writer at a time per process, handed over at once (see ``base``)."""
