"""Email processors: what becomes of each incoming message, chosen per mailbox."""
