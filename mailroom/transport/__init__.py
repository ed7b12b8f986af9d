"""IMAP and SMTP only: fetch, send and hand over bytes. No ORM imports here."""
