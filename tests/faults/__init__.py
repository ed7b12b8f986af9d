"""Fault tests (threats.md §4.1): the sync engine against real Dovecot and aiosmtpd under faults."""
