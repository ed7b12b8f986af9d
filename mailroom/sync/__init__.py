"""Bring new mail from a mailbox's IMAP folders into the store, exactly once."""
