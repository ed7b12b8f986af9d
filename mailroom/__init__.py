"""mailroom: shared system mailboxes."""
