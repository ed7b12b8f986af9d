"""Outgoing mail: replies are written to the outbox first and sent from there."""
