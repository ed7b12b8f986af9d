"""The whole configuration as one JSON document: export, and idempotent import.

Format (version 1), documented in docs/configuration.md::

    {"format": "mailroom-config", "version": 1,
     "lead_sources": ["Email", …],
     "sales_channels": [{"name": …, "active": true}, …],
     "templates": [{"name", "type", "default_language",
                    "translations": [{"language", "subject", "body"}, …]}, …],
     "mailboxes": [{"label", "email", "account_type",
                    "imap": {"enabled", "host", "port", "encryption"},
                    "smtp": {"enabled", "host", "port", "encryption"},
                    "username", "processor": {"kind", "settings"},
                    "history": {"mode", "days", "convert"},
                    "folders": [{"name", "selected"}, …],
                    "access": {"users": [user names], "roles": [group names]},
                    "rules": [{"name", "active", "position", "stop_after", "case_sensitive",
                               "template" | "response": {"type", "default_language",
                                                         "translations": […]},
                               "conditions": [{"field", "operator", "value"}, …]}, …]}, …]}

Passwords are never exported; an import keeps a mailbox's stored password, and so refuses to
change the server settings or login that password was entered for.
"""
