"""Watchers: notice new mail on the servers and start sync passes."""
